// Hostile peers against application messaging (issue 10, findings 4–6): quotas charged after
// authentication, replay-proof broadcasts, no relay amplification, replies matched to requests.
import { describe, expect, it } from 'vitest';
import {
  Domain,
  NodeIdentity,
  type SignatureVerifier,
  signingInput,
  strictVerifier,
} from '../../lib/identity/mod.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { appPayload, broadcastPayload } from '../../lib/node/message-signing.ts';
import type { SimCluster } from '../../lib/sim/mod.ts';
import { fromHex, toHex, utf8 } from '../../lib/util/bytes.ts';
import { MAX_APP_BYTES, type Message } from '../../lib/wire/messages.ts';
import { decodeMessage, encodeMessage, type MessageOf } from '../../lib/wire/mod.ts';
import { cluster, converged, runUntil, settle } from '../sim/helpers.ts';
import { hostileMember } from '../support/hostile.ts';
import { type SimPeer, startPeer } from '../support/sim-peer.ts';

const MSG = 0;
const REQ = 1;
const RES = 2;
const U32_MAX = 0xffffffff;

/** Answers later, like WebCrypto; rejects outright on an all-zero signature. */
const asyncVerifier: SignatureVerifier = {
  verify: (key, domain, payload, sig) =>
    sig.every((b) => b === 0)
      ? Promise.reject(new Error('verifier failure'))
      : Promise.resolve(strictVerifier.verify(key, domain, payload, sig) as boolean),
};

/** `app` and `broadcast` frames from `attacker` at the edges of every field, validly signed and not. */
function edgeFrames(attacker: NodeIdentity, ids: string[]): Uint8Array[] {
  const out: Message[] = [];
  const from = fromHex(attacker.nodeId);
  for (const to of ids)
    for (const [epoch, seq] of [
      [0, 1],
      [U32_MAX, U32_MAX],
      [1, U32_MAX],
      [U32_MAX, 0],
    ] as const)
      for (const kind of [MSG, REQ, RES, 3])
        for (const ttl of [0, 16])
          for (const size of [0, MAX_APP_BYTES]) {
            const body = {
              to: fromHex(to),
              from,
              id: seq,
              kind,
              topic: 'e',
              data: new Uint8Array(size),
              epoch,
              seq,
            };
            const sig = attacker.sign(signingInput(Domain.App, appPayload(body)));
            out.push({ type: 'app', ...body, ttl, sig: new Uint8Array(64), key: attacker.publicKey });
            out.push({ type: 'app', ...body, ttl, sig, key: attacker.publicKey });
            out.push({ type: 'app', to: body.to, from, id: seq, kind, topic: 'e', data: body.data, ttl });
          }
  for (const [epoch, seq] of [
    [0, 0],
    [U32_MAX, U32_MAX],
    [1, U32_MAX],
    [U32_MAX, 0],
    [0, 1],
  ] as const)
    for (const ttl of [0, 32])
      for (const size of [0, MAX_APP_BYTES]) {
        const b = { origin: from, epoch, seq, topic: 'e', data: new Uint8Array(size) };
        const sig = attacker.sign(signingInput(Domain.Broadcast, broadcastPayload(b)));
        out.push({ type: 'broadcast', ...b, key: attacker.publicKey, ttl, sig: new Uint8Array(64) });
        out.push({ type: 'broadcast', ...b, key: attacker.publicKey, ttl, sig });
      }
  return out.map((m) => encodeMessage(m));
}

/** A converged 3-node cluster and a raw peer (not a member) linked to node 2, and to the others listed. */
async function clusterWithIntruder(alsoLinkTo: number[] = []): Promise<{ c: SimCluster; m: SimPeer }> {
  const c = await cluster({ nodes: 3 });
  runUntil(c, () => converged(c), 30_000);
  const m = startPeer(c.net, c.net.addHost(), 'sim');
  for (const i of [2, ...alsoLinkTo]) m.transport.connect(c.nodes[i]!.host.url);
  c.runFor(1_000);
  expect(m.links).toHaveLength(1 + alsoLinkTo.length);
  return { c, m };
}

function randomId(c: SimCluster): Uint8Array {
  return c.net.addHost().env.random.bytes(16);
}

/** An `app` frame signed by `origin` as a relay would pass it on. */
function signedApp(
  origin: NodeIdentity,
  fields: {
    to: string;
    id: number;
    kind: number;
    topic: string;
    data: Uint8Array;
    epoch: number;
    seq: number;
  },
): Uint8Array {
  const body = { ...fields, to: fromHex(fields.to), from: fromHex(origin.nodeId) };
  const sig = origin.sign(signingInput(Domain.App, appPayload(body)));
  return encodeMessage({ type: 'app', ...body, ttl: 16, sig, key: origin.publicKey });
}

function traffic(c: SimCluster): number {
  return c.nodes.reduce((s, x) => s + x.host.traffic.bytesOut, 0);
}

describe('messaging under hostile peers', () => {
  it('finding 4: junk frames claiming a member id do not use up its quota (requests between real members keep succeeding)', async () => {
    const { c, m } = await clusterWithIntruder();
    const [, v1, v2] = c.nodes as [never, (typeof c.nodes)[0], (typeof c.nodes)[0]];
    v2.node.respond('echo', (d) => d);
    const junk = (id: number): Uint8Array =>
      encodeMessage({
        type: 'app',
        to: fromHex(v2.identity.nodeId),
        from: fromHex(v1.identity.nodeId),
        id,
        kind: id % 2 === 0 ? REQ : MSG,
        topic: 'echo',
        data: utf8('junk'),
        ttl: 3,
        sig: new Uint8Array(64),
        key: v1.identity.publicKey,
        epoch: v1.node.incarnation,
        seq: id,
      });
    const junkBroadcast = (seq: number): Uint8Array =>
      encodeMessage({
        type: 'broadcast',
        origin: fromHex(v1.identity.nodeId),
        key: v1.identity.publicKey,
        epoch: v1.node.incarnation,
        seq,
        topic: 'news',
        data: utf8('junk'),
        ttl: 3,
        sig: new Uint8Array(64),
      });
    const outcomes: Array<Promise<string>> = [];
    // 1,000 junk frames a second "from" v1 for 5 s (10 every 10 ms), while v1 asks v2 twice a second.
    for (let tick = 0; tick < 500; tick++) {
      for (let k = 0; k < 10; k++) {
        const n = tick * 10 + k;
        m.links[0]!.send(n % 10 === 0 ? junkBroadcast(n) : junk(n));
      }
      if (tick % 50 === 25)
        outcomes.push(
          v1.node.request(v2.identity.nodeId, 'echo', utf8(`q${tick}`), 2_000).then(
            (r) => new TextDecoder().decode(r),
            (e) => String(e),
          ),
        );
      await settle(c, 10, 10);
    }
    await settle(c, 2_500);
    const got = await Promise.all(outcomes);
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `q${i * 50 + 25}`));
    expect(v2.node.metrics().messaging.dropped).toBeGreaterThanOrEqual(5_000);
  });

  it('finding 5: a captured broadcast replayed after a dedup flood is not delivered again, nor to its origin', async () => {
    const { c, m } = await clusterWithIntruder([0]);
    const seen = [0, 0, 0];
    for (const x of c.nodes) x.node.subscribe('news', () => seen[x.index]!++);
    c.nodes[0]!.node.broadcast('news', utf8('once'));
    await settle(c, 1_000);
    expect(seen).toEqual([0, 1, 1]);
    const captured = m.received.find((r) => decodeMessage(r.frame).type === 'broadcast')!.frame;
    // 9,000 junk relays (fresh ids, so they fill any shared dedup memory), then the replay,
    // to a node that had it and to its origin.
    const rng = c.net.addHost().env.random;
    for (let n = 0; n < 9_000; n++) {
      const link = m.links[n % 2]!;
      if (n % 90 === 0) {
        // Some validly signed broadcasts too, from keys nobody knows.
        const key = NodeIdentity.fromSecretKey(rng.bytes(32));
        const b = { origin: fromHex(key.nodeId), epoch: 1, seq: n, topic: 'junk', data: new Uint8Array(8) };
        const sig = key.sign(signingInput(Domain.Broadcast, broadcastPayload(b)));
        link.send(encodeMessage({ type: 'broadcast', ...b, key: key.publicKey, ttl: 16, sig }));
      }
      link.send(
        encodeMessage({
          type: 'app',
          to: randomId(c),
          from: randomId(c),
          id: n,
          kind: MSG,
          topic: 'junk',
          data: new Uint8Array(8),
          ttl: 1,
        }),
      );
      if (n % 500 === 0) await settle(c, 100);
    }
    await settle(c, 1_000);
    for (const link of m.links) link.send(captured);
    await settle(c, 1_000);
    expect(seen).toEqual([0, 1, 1]);
  });

  it("finding 5: a restarted origin's broadcasts are delivered", async () => {
    const c = await cluster({ nodes: 3 });
    runUntil(c, () => converged(c), 30_000);
    const seen = [0, 0, 0];
    for (const x of c.nodes.slice(1)) x.node.subscribe('news', () => seen[x.index]!++);
    for (let i = 0; i < 3; i++) c.nodes[0]!.node.broadcast('news', utf8(`before ${i}`));
    await settle(c, 1_000);
    expect(seen).toEqual([0, 3, 3]);
    c.crash(0);
    c.runFor(10_000);
    await c.restart(0);
    runUntil(c, () => converged(c), 30_000);
    await settle(c, 2_000);
    for (let i = 0; i < 2; i++) c.nodes[0]!.node.broadcast('news', utf8(`after ${i}`));
    await settle(c, 1_000);
    expect(seen).toEqual([0, 5, 5]);
  });

  it('finding 6: unsigned frames to unknown ids are not relayed; output bytes stay within a small multiple of an idle cluster', async () => {
    const { c, m } = await clusterWithIntruder();
    const quiet = traffic(c);
    await settle(c, 3_000);
    const idle = traffic(c) - quiet;
    const before = traffic(c);
    const sentBefore = m.host.traffic.bytesOut;
    // 9.6 MiB of unsigned frames to ids nobody knows, half "from" other unknown ids.
    for (let n = 0; n < 240; n++) {
      m.links[0]!.send(
        encodeMessage({
          type: 'app',
          to: randomId(c),
          from: n % 2 === 0 ? fromHex(m.identity.nodeId) : randomId(c),
          id: n,
          kind: MSG,
          topic: 'flood',
          data: new Uint8Array(40 * 1024),
          ttl: 16,
        }),
      );
      if (n % 80 === 79) await settle(c, 1_000);
    }
    const input = m.host.traffic.bytesOut - sentBefore;
    const output = traffic(c) - before;
    expect(input).toBeGreaterThan(9_000_000);
    expect(c.nodes.every((x) => x.node.metrics().messaging.relayed === 0)).toBe(true);
    expect(output).toBeLessThan(3 * idle + input / 100);
  });

  it('finding 6: requests from throwaway keys are not served / replies not flooded', async () => {
    const { c, m } = await clusterWithIntruder();
    let served = 0;
    for (const x of c.nodes)
      x.node.respond('echo', (d) => {
        served++;
        return d;
      });
    const before = traffic(c);
    const appBefore = m.received.length;
    const rng = c.net.addHost().env.random;
    for (let n = 0; n < 300; n++) {
      const key = NodeIdentity.fromSecretKey(rng.bytes(32));
      const target = c.nodes[n % 3]!.identity.nodeId;
      const req = {
        to: target,
        id: n,
        kind: REQ,
        topic: 'echo',
        data: new Uint8Array(1024),
        epoch: 1,
        seq: 1,
      };
      m.links[0]!.send(signedApp(key, req));
      if (n % 100 === 99) await settle(c, 500);
    }
    await settle(c, 2_000);
    expect(served).toBe(0);
    const replies = m.received
      .slice(appBefore)
      .map((r) => decodeMessage(r.frame))
      .filter((x) => x.type === 'app');
    expect(replies).toEqual([]);
    expect(traffic(c) - before).toBeLessThan(300 * 1024);
  });

  it('a reply from another node does not resolve a request (replies are matched with the node asked)', async () => {
    const { c, m } = await clusterWithIntruder();
    const v2 = c.nodes[2]!;
    const v0 = c.nodes[0]!;
    v0.node.respond('slow', () => new Promise(() => {}));
    // Learn v2's request ids: it asks the intruder once, then asks v0.
    void v2.node.request(m.identity.nodeId, 'probe', utf8('?'), 1_000).catch(() => {});
    await settle(c, 200);
    const asked = m.received.map((r) => decodeMessage(r.frame)).find((x) => x.type === 'app') as
      | MessageOf<'app'>
      | undefined;
    expect(asked?.kind).toBe(REQ);
    const pending = v2.node.request(v0.identity.nodeId, 'slow', utf8('?'), 2_000).then(
      (r) => new TextDecoder().decode(r),
      (e) => String(e),
    );
    await settle(c, 100);
    for (const id of [asked!.id + 1, asked!.id + 2])
      m.links[0]!.send(
        encodeMessage({
          type: 'app',
          to: fromHex(v2.identity.nodeId),
          from: fromHex(m.identity.nodeId),
          id,
          kind: RES,
          topic: 'slow',
          data: utf8('forged'),
          ttl: 0,
        }),
      );
    await settle(c, 2_500);
    expect(await pending).toMatch(/timeout/);
  });

  for (const mode of ['sync', 'async'] as const)
    it(`edge values from a member (${mode} verifier): nothing throws, and members still talk`, async () => {
      const c = await cluster({
        nodes: 3,
        ...(mode === 'async' ? { nodeOptions: () => ({ verifier: asyncVerifier }) } : {}),
      });
      runUntil(c, () => converged(c), 30_000);
      const { peer, identity } = hostileMember(c, 2);
      // An async verifier finishes the handshake after hostileMember announced itself: again.
      await settle(c, 500);
      const alive = signClaim(identity, 'alive', {
        incarnation: Math.floor(peer.host.env.clock.wallNow() / 1000),
      });
      for (const l of peer.links) l.send(encodeMessage({ type: 'gossip', g: [alive.wire] }));
      await settle(c, 500);
      expect(c.nodes[2]!.node.member(identity.nodeId)).toBeDefined();
      let got = 0;
      for (const x of c.nodes) {
        x.node.respond('e', (d) => d);
        x.node.subscribe('e', () => got++);
      }
      const ids = [...c.nodes.map((x) => x.identity.nodeId), identity.nodeId, toHex(randomId(c))];
      for (const frame of edgeFrames(identity, ids)) {
        for (const link of peer.links) link.send(frame);
        await settle(c, 2, 2);
      }
      await settle(c, 2_000);
      expect(got).toBeGreaterThan(0);
      const reply = c.nodes[0]!.node.request(c.nodes[2]!.identity.nodeId, 'e', utf8('still here'), 3_000);
      await settle(c, 1_000);
      expect(new TextDecoder().decode(await reply)).toBe('still here');
    });
});
