// Issue 12, item 1: events reach applications after the core that produced them is
// consistent, so a handler may call back into the node. Here one node's handler for every
// event kind calls setMeta and advertiseProcess, and a late one leaves; the cluster must take
// every one of those calls, and nothing may throw or be lost.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import type { MeshEvents } from '../../lib/node/events.ts';
import { hashRing, MeshNode, messaging, replicatedState } from '../../lib/node/mod.ts';
import { type SimHost, SimNetwork } from '../../lib/sim/mod.ts';
import { utf8 } from '../../lib/util/bytes.ts';
import { opensslVerifier, signWithOpenssl } from './openssl-crypto.ts';

const KINDS = [
  'stranded',
  'joined',
  'link-up',
  'member-joined',
  'member-state',
  'state-changed',
  'suspected',
  'link-down',
  'member-left',
  'member-reaped',
  'refuted',
] as const satisfies ReadonlyArray<keyof MeshEvents>;

function node(host: SimHost, id: NodeIdentity): MeshNode {
  return new MeshNode({
    state: replicatedState(),
    messaging: messaging(),
    ring: hashRing(),
    identity: id,
    cluster: 'reentrant',
    transport: host.transport(),
    env: host.env,
    verifier: opensslVerifier,
    heartbeat: { reapAfterMs: 20_000 },
    maxLinks: 8,
  });
}

const worker = (agentType: string) => ({
  agentType,
  capabilities: [],
  status: 'Running' as const,
  resourceSummary: {},
});

/** Runs the network in steps, letting promise continuations run between them. */
async function settle(net: SimNetwork, done: () => boolean, maxMs: number): Promise<void> {
  for (let t = 0; t < maxMs && !done(); t += 100) {
    net.runFor(100);
    await new Promise((r) => setImmediate(r));
  }
}

describe('handlers that call back into the node', () => {
  it('setMeta and advertiseProcess from inside every event kind, and leave from inside one: all taken, nothing thrown', async () => {
    const net = new SimNetwork({ seed: 12 });
    const hosts = Array.from({ length: 5 }, () => net.addHost());
    const ids = hosts.map((h) => NodeIdentity.fromSecretKey(h.env.random.bytes(32)));
    for (const id of ids) signWithOpenssl(id);
    const others = hosts.slice(1).map((h, k) => node(h, ids[k + 1]!));
    const x = node(hosts[0]!, ids[0]!);
    const fired: string[] = [];
    const errors: MeshEvents['error'][] = [];
    let leaving: Promise<void> | undefined;
    x.on('error', (e) => errors.push(e));
    for (const kind of KINDS) {
      x.on(kind, () => {
        if (fired.includes(kind)) return;
        fired.push(kind);
        // Called back from inside the event: a new input for the cores, taken after this one.
        if (x.state !== NodeState.Joining || kind === 'joined') x.setMeta({ last: kind });
        if (kind !== 'stranded') x.advertiseProcess(kind, worker(kind));
        if (kind === 'member-reaped') leaving = x.leave();
      });
    }
    let reply: Uint8Array | undefined;
    x.respond('echo', (data) => {
      x.advertiseProcess('responder', worker('responder'));
      return data;
    });

    // Stranded: started with no seeds and nobody dialling it.
    await x.start();
    await settle(net, () => fired.includes('stranded'), 15_000);
    await others[0]!.start();
    void others[0]!.join([]);
    void x.join([hosts[1]!.url]);
    for (const o of others.slice(1)) {
      await o.start();
      void o.join([hosts[1]!.url]);
    }
    await settle(net, () => others.every((o) => o.member(x.nodeId)?.state === NodeState.Active), 20_000);
    others[1]!.advertiseProcess('theirs', worker('theirs'));
    void others[0]!.request(x.nodeId, 'echo', utf8('ping'), 5_000).then((r) => {
      reply = r;
    });
    await settle(net, () => reply !== undefined && fired.includes('state-changed'), 10_000);
    // Frozen long enough to be suspected, then back: it refutes (refuted).
    x.freeze();
    await settle(net, () => others.some((o) => o.member(x.nodeId)?.state === NodeState.Suspect), 20_000);
    x.unfreeze();
    await settle(net, () => fired.includes('refuted'), 10_000);
    // Cut off from everyone for a moment: it suspects a neighbour (suspected).
    net.partition([[hosts[0]!]]);
    await settle(net, () => fired.includes('suspected'), 20_000);
    net.heal();
    await settle(net, () => others.every((o) => o.member(x.nodeId)?.state === NodeState.Active), 30_000);
    // A crash (link-down), a goodbye (member-left), and after reapAfterMs member-reaped,
    // whose handler leaves.
    hosts[3]!.crash(false);
    await settle(net, () => fired.includes('link-down'), 60_000);
    void others[3]!.leave();
    await settle(net, () => fired.includes('member-left'), 10_000);
    let left = false;
    await settle(net, () => leaving !== undefined, 60_000);
    void leaving!.then(() => {
      left = true;
    });
    const live = [others[0]!, others[1]!];
    await settle(net, () => left && live.every((o) => o.member(x.nodeId)?.state === NodeState.Left), 10_000);

    expect(errors).toEqual([]);
    expect([...fired].sort()).toEqual([...KINDS].sort());
    expect(reply && new TextDecoder().decode(reply)).toBe('ping');
    expect(x.member(x.nodeId)?.meta).toEqual({ last: 'member-reaped' });
    for (const o of live) {
      const seen = o.member(x.nodeId);
      expect(seen?.state).toBe(NodeState.Left);
      // The goodbye is at the incarnation of the reaped handler's setMeta, the last call.
      expect(seen?.incarnation).toBe(x.incarnation);
    }
    // Every advertisement made inside a handler before the leave reached the others.
    const advertised = KINDS.filter((k) => k !== 'stranded' && k !== 'member-reaped').map(String);
    advertised.push('responder');
    for (const kind of advertised) {
      const pid = `${x.nodeId}/${kind}`;
      expect(others[0]!.stateEntry('p', x.nodeId, kind), pid).toBeDefined();
    }
  }, 60_000);
});
