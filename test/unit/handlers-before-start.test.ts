// Handlers registered before start() work, as with any emitter (issue 11, item 1): the README
// registers `on`, `subscribe` and `respond` first and starts the node after.
import { describe, expect, it } from 'vitest';
import { NodeIdentity, strictVerifier } from '../../lib/identity/mod.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import {
  type AppMessage,
  hashRing,
  MeshNode,
  MessagingError,
  messaging,
  replicatedState,
} from '../../lib/node/mod.ts';
import { SimNetwork } from '../../lib/sim/mod.ts';
import { utf8 } from '../../lib/util/bytes.ts';

function pair() {
  const net = new SimNetwork({ seed: 3 });
  const [ha, hb] = [net.addHost(), net.addHost()];
  const make = (host: typeof ha) =>
    new MeshNode({
      state: replicatedState(),
      messaging: messaging(),
      ring: hashRing(),
      identity: NodeIdentity.fromSecretKey(host.env.random.bytes(32)),
      cluster: 'early',
      transport: host.transport(),
      env: host.env,
      // Synchronous verification: with WebCrypto's, how far virtual time runs before a claim
      // is verified would depend on the machine's load.
      verifier: strictVerifier,
    });
  return { net, a: make(ha), b: make(hb), seed: ha.url };
}

/** Runs the network in steps, letting promise continuations run between them. */
async function settle(net: SimNetwork, done: () => boolean, maxMs = 10_000): Promise<void> {
  for (let t = 0; t < maxMs && !done(); t += 50) {
    net.runFor(50);
    await new Promise((r) => setImmediate(r));
  }
}

describe('handlers registered before start()', () => {
  it('on, subscribe and respond registered before start() receive events, messages and requests', async () => {
    const { net, a, b, seed } = pair();
    const joined: string[] = [];
    const got: AppMessage[] = [];
    a.on('member-joined', (e) => joined.push(e.nodeId));
    a.subscribe('chat', (m) => got.push(m));
    a.respond('time', (_data, from) => utf8(`hello ${from.slice(0, 8)}`));

    await a.start();
    void a.join([]);
    await b.start();
    void b.join([seed]);
    await settle(net, () => a.member(b.nodeId)?.state === NodeState.Active);
    expect(joined).toContain(b.nodeId);

    const sending = b.send(a.nodeId, 'chat', utf8('hi'));
    const asking = b.request(a.nodeId, 'time', new Uint8Array(0), 5_000);
    let reply: Uint8Array | undefined;
    asking.then((r) => {
      reply = r;
    });
    await settle(net, () => got.length > 0 && reply !== undefined);
    await sending;
    expect(got.map((m) => ({ from: m.from, data: new TextDecoder().decode(m.data) }))).toEqual([
      { from: b.nodeId, data: 'hi' },
    ]);
    expect(new TextDecoder().decode(reply)).toBe(`hello ${b.nodeId.slice(0, 8)}`);
    a.close();
    b.close();
  });

  it('a bad topic is refused at registration, before start() as after', () => {
    const { a } = pair();
    expect(() => a.subscribe('no spaces', () => {})).toThrow(MessagingError);
    expect(() => a.respond('', () => new Uint8Array(0))).toThrow(MessagingError);
  });

  it('unsubscribing before start() holds: nothing is delivered to the removed handler', async () => {
    const { net, a, b, seed } = pair();
    const got: string[] = [];
    const off = a.subscribe('chat', () => got.push('removed'));
    a.subscribe('chat', () => got.push('kept'));
    off();
    await a.start();
    void a.join([]);
    await b.start();
    void b.join([seed]);
    await settle(net, () => a.member(b.nodeId)?.state === NodeState.Active);
    const sending = b.send(a.nodeId, 'chat', utf8('hi'));
    await settle(net, () => got.length > 0);
    await sending;
    expect(got).toEqual(['kept']);
    a.close();
    b.close();
  });
});
