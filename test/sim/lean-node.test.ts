// A MeshNode built without services is membership only (issue 11's size budget: bundlers
// leave the state replica and messaging out). It must form a cluster as any node does, refuse
// state and messaging calls with typed errors, and drop other nodes' state and messaging
// frames with a counter rather than crash.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import {
  MeshNode,
  MeshNodeError,
  type MeshNodeOptions,
  messaging,
  replicatedState,
} from '../../lib/node/mod.ts';
import { type SimHost, SimNetwork } from '../../lib/sim/mod.ts';
import { utf8 } from '../../lib/util/bytes.ts';
import { opensslVerifier, signWithOpenssl } from './openssl-crypto.ts';

function node(host: SimHost, services: Partial<MeshNodeOptions>): MeshNode {
  const identity = NodeIdentity.fromSecretKey(host.env.random.bytes(32));
  signWithOpenssl(identity);
  return new MeshNode({
    identity,
    cluster: 'lean',
    transport: host.transport(),
    env: host.env,
    verifier: opensslVerifier,
    ...services,
  });
}

const worker = { agentType: 'w', capabilities: [], status: 'Running' as const, resourceSummary: {} };

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof MeshNodeError ? e.code : `not a MeshNodeError: ${e}`;
  }
  return undefined;
}

describe('a node built without services', () => {
  it('joins a cluster of full nodes, refuses state and messaging calls by code, and drops their frames counted', async () => {
    const net = new SimNetwork({ seed: 5 });
    const [h0, h1, h2] = [net.addHost(), net.addHost(), net.addHost()];
    const full = { state: replicatedState({ gossipIntervalMs: 200 }), messaging: messaging() };
    const a = node(h0!, full);
    const b = node(h1!, full);
    const lean = node(h2!, {});
    for (const n of [a, b, lean]) await n.start();
    void a.join([]);
    void b.join([h0!.url]);
    void lean.join([h0!.url]);
    const all = [a, b, lean];
    for (let t = 0; t < 20_000; t += 100) {
      net.runFor(100);
      await new Promise((r) => setImmediate(r));
      if (all.every((n) => all.every((m) => n.member(m.nodeId)?.state === NodeState.Active))) break;
    }
    for (const n of all) for (const m of all) expect(n.member(m.nodeId)?.state).toBe(NodeState.Active);

    expect(code(() => lean.advertiseProcess('p', worker))).toBe('no-state');
    expect(code(() => lean.processes)).toBe('no-state');
    expect(code(() => lean.stateRoot())).toBe('no-state');
    expect(code(() => lean.broadcast('t', utf8('x')))).toBe('no-messaging');
    await expect(lean.send(a.nodeId, 't', utf8('x'))).rejects.toMatchObject({ code: 'no-messaging' });
    expect(lean.metrics().state.entries).toBe(0);

    // The full nodes gossip state and broadcast to every neighbour, the lean one included.
    a.advertiseProcess('p', worker);
    a.broadcast('news', utf8('hello'));
    const got: string[] = [];
    b.subscribe('news', (m) => got.push(new TextDecoder().decode(m.data)));
    for (let t = 0; t < 5_000 && b.processes.all().length === 0; t += 100) {
      net.runFor(100);
      await new Promise((r) => setImmediate(r));
    }
    net.runFor(2_000);
    expect(b.processes.all().map((p) => p.globalPid)).toEqual([{ nodeId: a.nodeId, pid: 'p' }]);
    expect(lean.metrics().framesRejectedBy['not-served']).toBeGreaterThan(0);
    expect(lean.member(a.nodeId)?.state).toBe(NodeState.Active);
    for (const n of all) n.close();
  }, 30_000);
});
