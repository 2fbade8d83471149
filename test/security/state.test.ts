// Hostile peers against the replicated state and its clock (issue 10: findings 7, 9, 10).
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { replicatedState } from '../../lib/node/state-service.ts';
import type { SimCluster } from '../../lib/sim/cluster.ts';
import { type StateEntry, signEntry } from '../../lib/state/entry.ts';
import { decodeService, encodeService, ProcessStatus } from '../../lib/state/values.ts';
import { MemoryStorage } from '../../lib/storage/memory.ts';
import type { WireClaim } from '../../lib/wire/claims.ts';
import { decodeMessage, encodeMessage } from '../../lib/wire/codec.ts';
import type { Message } from '../../lib/wire/messages.ts';
import { cluster, converged, runUntil } from '../sim/helpers.ts';
import { type SimPeer, startPeer } from '../support/sim-peer.ts';

const fullMesh = { maxLinks: 64, minLinks: 64 };
/** Each node verifies entries against its own membership (the simulation's shared memo knows only its nodes' keys). */
const ownVerifier = { entryVerifier: undefined };
const worker = (load: number) => ({
  agentType: 'worker',
  capabilities: ['gpu'],
  status: ProcessStatus.Running,
  resourceSummary: { load },
});
/** A service advertisement of about 3 KB. */
const bulky = (n: number) =>
  encodeService({
    endpoint: `sim://junk/${n}`,
    health: 'Healthy',
    metadata: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`m${i}`, 'x'.repeat(250)])),
  });

/**
 * A raw authenticated peer linked to node `target`, made a member by gossiping its own alive
 * claim and those of `extra` identities (throwaway keys it also holds).
 */
function member(c: SimCluster, target: number, extra: NodeIdentity[] = []) {
  const host = c.net.addHost();
  const identity = NodeIdentity.fromSecretKey(host.env.random.bytes(32));
  const peer = startPeer(c.net, host, 'sim', identity);
  peer.transport.connect(c.nodes[target]!.host.url);
  c.runFor(1_000);
  expect(peer.links).toHaveLength(1);
  const send = (msg: Message) => peer.links[0]!.send(encodeMessage(msg));
  const claims = [identity, ...extra].map((id) => signClaim(id, 'alive', { incarnation: 1 }).wire);
  send({ type: 'gossip', g: claims });
  c.runFor(1_000);
  for (const id of [identity, ...extra]) expect(c.nodes[target]!.node.member(id.nodeId)).toBeDefined();
  return { peer, identity, send };
}

/** Bytes of the anti-entropy frames (`tree`, `state-delta`) `peer` received since `mark`. */
function antiEntropyBytes(peer: SimPeer, mark: number): number {
  let bytes = 0;
  for (const r of peer.received.slice(mark)) {
    const type = decodeMessage(r.frame).type;
    if (type === 'tree' || type === 'state-delta') bytes += r.frame.length;
  }
  return bytes;
}

function deltas(entries: StateEntry[]): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < entries.length; i += 10)
    out.push({ type: 'state-delta', entries: entries.slice(i, i + 10).map((e) => e.wire as WireClaim) });
  return out;
}

describe('hostile peers against the replicated state', () => {
  it('finding 7: a level-0 tree frame with count 0 gets an answer bounded by the fanout; a flood of tree frames by the link budget', async () => {
    const budget = 64 * 1024; // bytes per second, bursting to 8 s worth
    const c = await cluster({
      nodes: 1,
      nodeOptions: () => ({ state: replicatedState({ antiEntropyBytesPerSecond: budget }) }),
    });
    runUntil(c, () => c.nodes[0]!.node.state === 'Active', 10_000);
    const target = c.nodes[0]!;
    for (let i = 0; i < 2_000; i++) target.node.advertiseProcess(`p${i}`, worker(i));
    const { peer, send } = member(c, 0);
    const ask: Message = {
      type: 'tree',
      seq: 7,
      level: 0,
      idx: new Uint8Array(4),
      h: new Uint8Array(32),
      count: 0,
    };
    const askBytes = encodeMessage(ask).length;
    let mark = peer.received.length;
    send(ask);
    c.runFor(500);
    const answer = antiEntropyBytes(peer, mark);
    expect(answer).toBeGreaterThan(0);
    // At most the root's 16 children: never the state (2,000 entries, ~350 KB).
    expect(answer).toBeLessThanOrEqual(16 * askBytes);

    // Two seconds of frames asking for every subtree: the link's budget holds.
    mark = peer.received.length;
    const idx = new Uint8Array(1536 * 4);
    const view = new DataView(idx.buffer);
    for (let t = 0; t < 10; t++) {
      for (let n = 0; n < 1536; n++) view.setUint32(n * 4, (t * 1536 + n) % 4096);
      send({ type: 'tree', seq: 100 + t, level: 3, idx, h: new Uint8Array(1536 * 32), count: 0 });
      send({ ...ask, seq: 1000 + t } as Message);
      c.runFor(200);
    }
    // Unbounded, this drew ~2.6 MB.
    expect(antiEntropyBytes(peer, mark)).toBeLessThanOrEqual(8 * budget + 3 * budget);
  });

  it("finding 9: throwaway origins cannot push the replica past its global cap; a member's entries are still accepted", async () => {
    const caps = { maxEntries: 300, maxBytes: 256 * 1024 };
    const c = await cluster({
      nodes: 3,
      ...fullMesh,
      nodeOptions: () => ({ ...ownVerifier, state: replicatedState(caps) }),
    });
    runUntil(c, () => converged(c), 30_000);
    const throwaway = Array.from({ length: 4 }, () => NodeIdentity.fromSecretKey(c.net.random.bytes(32)));
    const { send } = member(c, 0, throwaway);
    const junk = throwaway.flatMap((id, o) => {
      const now = Math.floor(c.nodes[0]!.host.env.clock.wallNow());
      return Array.from({ length: 100 }, (_, k) =>
        signEntry(id, 's', `junk-${k}`, bulky(o * 100 + k), { wall: now, counter: k, node: id.nodeId }),
      );
    });
    for (const msg of deltas(junk)) {
      send(msg);
      c.runFor(100);
    }
    c.runFor(5_000);
    for (const n of c.nodes) {
      const held = junk.filter((e) => n.node.stateEntry('s', e.origin, e.key) !== undefined);
      // 400 entries of 3 KB (1.2 MB) were offered; the cap holds on every replica.
      expect(held.length).toBeLessThanOrEqual(caps.maxEntries);
      expect(held.reduce((b, e) => b + e.size, 0)).toBeLessThanOrEqual(caps.maxBytes);
      const m = n.node.metrics().state;
      expect(m.bytes).toBeLessThanOrEqual(caps.maxBytes);
      expect(m.entries).toBeLessThanOrEqual(caps.maxEntries);
    }
    // A member that was here before the flood still writes (more than any junk entry), and every replica takes it.
    const real = c.nodes[1]!;
    const metadata = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`m${i}`, 'y'.repeat(256)]));
    real.node.advertiseService('after', { endpoint: 'sim://1', metadata, health: 'Healthy' });
    runUntil(c, () => c.nodes.every((n) => n.node.stateEntry('s', real.identity.nodeId, 'after')), 10_000);
    for (const n of c.nodes) expect(n.node.stateEntry('s', real.identity.nodeId, 'after')).toBeDefined();
  });

  it('a tree frame naming one subtree many times is answered once', async () => {
    const c = await cluster({ nodes: 1 });
    runUntil(c, () => c.nodes[0]!.node.state === 'Active', 10_000);
    for (let i = 0; i < 200; i++) c.nodes[0]!.node.advertiseProcess(`p${i}`, worker(i));
    const { peer, send } = member(c, 0);
    const once = (count: number, seq: number) => {
      const idx = new Uint8Array(count * 4); // index 0, `count` times
      const mark = peer.received.length;
      send({ type: 'tree', seq, level: 1, idx, h: new Uint8Array(count * 32), count: 0 });
      c.runFor(500);
      return antiEntropyBytes(peer, mark);
    };
    const single = once(1, 1);
    expect(single).toBeGreaterThan(0);
    // Before, 1,536 copies of the index drew ~12× the frame's size back.
    expect(once(1536, 2)).toBeLessThanOrEqual(single * 1.1);
  });

  it('a subtree larger than the anti-entropy burst is still repaired (it costs the whole burst)', async () => {
    const rate = 2048; // bytes a second, burst 16 KiB: less than the 8 entries of ~3 KB below
    const c = await cluster({
      nodes: 2,
      ...fullMesh,
      nodeOptions: () => ({ ...ownVerifier, state: replicatedState({ antiEntropyBytesPerSecond: rate }) }),
    });
    runUntil(c, () => converged(c), 30_000);
    c.partition([[0], [1]]);
    for (let i = 0; i < 7; i++) c.nodes[1]!.node.advertiseService(`big-${i}`, decodeService(bulky(i)));
    // Long enough that a link coming up is not told of them as recent: anti-entropy's to repair.
    c.runFor(60_000);
    c.heal();
    const origin = c.nodes[1]!.identity.nodeId;
    const all = () =>
      Array.from({ length: 7 }, (_, i) => c.nodes[0]!.node.stateEntry('s', origin, `big-${i}`));
    runUntil(c, () => all().every((e) => e !== undefined), 120_000);
    expect(all().every((e) => e !== undefined)).toBe(true);
  });

  it("a replay of an origin's entries costs its quota nothing: its real updates still reach the replica", async () => {
    const c = await cluster({
      nodes: 3,
      ...fullMesh,
      nodeOptions: () => ({ ...ownVerifier, state: replicatedState({ writesPerOriginPerSecond: 5 }) }),
    });
    runUntil(c, () => converged(c), 30_000);
    const { send } = member(c, 0);
    const victim = c.nodes[1]!;
    const origin = victim.identity.nodeId;
    victim.node.advertiseService('svc', { endpoint: 'sim://v/0', health: 'Healthy', metadata: {} });
    runUntil(c, () => c.nodes[0]!.node.stateEntry('s', origin, 'svc') !== undefined, 5_000);
    const copy = c.nodes[0]!.node.stateEntry('s', origin, 'svc')!;
    // 100 copies a second (20 times the origin's quota) while it updates once a second.
    for (let second = 1; second <= 10; second++) {
      victim.node.advertiseService('svc', { endpoint: `sim://v/${second}`, health: 'Healthy', metadata: {} });
      for (let k = 0; k < 10; k++) {
        for (const msg of deltas(Array.from({ length: 10 }, () => copy))) send(msg);
        c.runFor(100);
      }
      const held = c.nodes[0]!.node.stateEntry('s', origin, 'svc')!;
      expect(decodeService(held.value!).endpoint).toBe(`sim://v/${second}`);
    }
    expect(c.nodes[0]!.node.metrics().state.throttled).toBe(0);
  });

  it('a restarted node does not take back (and re-sign) its own entry whose tombstone was collected', async () => {
    const lifetime = 20_000;
    const c = await cluster({
      nodes: 3,
      ...fullMesh,
      nodeOptions: () => ({ ...ownVerifier, state: replicatedState({ tombstoneLifetimeMs: lifetime }) }),
    });
    runUntil(c, () => converged(c), 30_000);
    const victim = c.nodes[1]!;
    const origin = victim.identity.nodeId;
    victim.node.advertiseService('gone', { endpoint: 'sim://old', health: 'Healthy', metadata: {} });
    runUntil(c, () => c.nodes[0]!.node.stateEntry('s', origin, 'gone') !== undefined, 5_000);
    const old = c.nodes[0]!.node.stateEntry('s', origin, 'gone')!;
    victim.node.withdrawService('gone');
    // Past the lifetime and a collection: the tombstone is gone everywhere.
    c.runFor(lifetime * 2);
    for (const n of c.nodes) expect(n.node.stateEntry('s', origin, 'gone')).toBeUndefined();
    c.crash(1, { reset: true });
    c.runFor(5_000);
    await c.restart(1);
    runUntil(c, () => converged(c), 30_000);
    // A member replays the old entry to the restarted node.
    const { send } = member(c, 1);
    for (const msg of deltas([old])) send(msg);
    c.runFor(lifetime);
    for (const n of c.nodes) expect(n.node.stateEntry('s', origin, 'gone')).toBeUndefined();
  });

  it('finding 10: entries stamped near the skew bound do not drag the HLC past the drift bound', async () => {
    const c = await cluster({ nodes: 2, ...fullMesh, nodeOptions: () => ownVerifier });
    runUntil(c, () => converged(c), 30_000);
    const { identity, send } = member(c, 0);
    const wall = () => Math.floor(c.nodes[0]!.host.env.clock.wallNow());
    const ahead = signEntry(
      identity,
      's',
      'ahead',
      encodeService({ endpoint: 'x', metadata: {}, health: 'Healthy' }),
      {
        wall: wall() + 59_000,
        counter: 0,
        node: identity.nodeId,
      },
    );
    send({ type: 'state-delta', entries: [ahead.wire] });
    runUntil(c, () => c.nodes[1]!.node.stateEntry('s', identity.nodeId, 'ahead') !== undefined, 5_000);
    for (const n of c.nodes) {
      // Accepted (it is within the skew bound) but not followed.
      expect(n.node.stateEntry('s', identity.nodeId, 'ahead')).toBeDefined();
      const mine = n.node.advertiseProcess('mine', worker(1));
      expect(mine.ts.wall).toBeLessThanOrEqual(Math.floor(n.host.env.clock.wallNow()) + 1_000);
    }
  });

  it('finding 10: a node restarted with in-memory storage keeps its new advertisement (its old value does not win anywhere)', async () => {
    // Fresh storage at every boot: nothing of the HLC survives a restart.
    const c = await cluster({
      nodes: 4,
      ...fullMesh,
      nodeOptions: () => ({ ...ownVerifier, storage: new MemoryStorage() }),
    });
    runUntil(c, () => converged(c), 30_000);
    const victim = 3;
    const id = c.nodes[victim]!.identity.nodeId;
    // A member drags the victim's clock as far as it can, then the victim advertises.
    const { identity, send } = member(c, victim);
    const wall = Math.floor(c.nodes[victim]!.host.env.clock.wallNow());
    const ahead = signEntry(
      identity,
      's',
      'ahead',
      encodeService({ endpoint: 'x', metadata: {}, health: 'Healthy' }),
      {
        wall: wall + 59_000,
        counter: 0,
        node: identity.nodeId,
      },
    );
    send({ type: 'state-delta', entries: [ahead.wire] });
    c.runFor(200);
    c.nodes[victim]!.node.advertiseService('api', { endpoint: 'sim://old', metadata: {}, health: 'Healthy' });
    const endpoint = (n: number) => {
      const e = c.nodes[n]!.node.stateEntry('s', id, 'api');
      return e?.value && decodeService(e.value).endpoint;
    };
    runUntil(c, () => c.nodes.every((_, n) => endpoint(n) === 'sim://old'), 10_000);
    expect(c.nodes.map((_, n) => endpoint(n))).toEqual(c.nodes.map(() => 'sim://old'));
    // Restarted at once, the victim advertises anew.
    c.crash(victim);
    await c.restart(victim);
    c.nodes[victim]!.node.advertiseService('api', { endpoint: 'sim://new', metadata: {}, health: 'Healthy' });
    runUntil(c, () => converged(c) && c.live().every((n) => endpoint(n) === 'sim://new'), 60_000);
    expect(c.live().map(endpoint)).toEqual(c.live().map(() => 'sim://new'));
    c.runFor(20_000);
    expect(c.live().map(endpoint)).toEqual(c.live().map(() => 'sim://new'));
  });
});
