// Deterministic simulations of SWIM + Lifeguard through the MeshNode façade.
import { describe, expect, it } from 'vitest';
import { Domain, NodeIdentity, signingInput, strictVerifier } from '../../lib/identity/mod.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { hashRing, MeshNode, messaging, replicatedState } from '../../lib/node/mod.ts';
import { decodeCbor, encodeCbor, encodeMessage } from '../../lib/wire/mod.ts';
import { startPeer } from '../support/sim-peer.ts';
import { allSee, cluster, converged, fullMesh, runUntil, viewsOf, watchUntilAllSee } from './helpers.ts';

describe('membership in simulation', () => {
  it('converges from one seed node (full mesh of 16)', async () => {
    const c = await cluster({ nodes: 16, maxLinks: 64, minLinks: 64 });
    const took = runUntil(c, () => converged(c), 30_000);
    expect(converged(c)).toBe(true);
    expect(took).toBeLessThan(5_000);
    c.runFor(3_000); // links are topped up once a second
    expect(c.nodes.every((n) => n.node.links().length === 15)).toBe(true);
    expect(c.observer.convergedAtMs).toBeDefined();
  });

  it('converges in a partial mesh (100 nodes, maxLinks 8), links bounded', async () => {
    const c = await cluster({ nodes: 100, maxLinks: 8 });
    runUntil(c, () => converged(c), 60_000);
    expect(converged(c)).toBe(true);
    const degrees = c.nodes.map((n) => n.node.links().length).sort((a, b) => a - b);
    expect(degrees[degrees.length - 1]).toBeLessThanOrEqual(8);
    expect(degrees[0]).toBeGreaterThanOrEqual(1);
    expect(degrees[50]).toBeGreaterThanOrEqual(4); // the median node has at least minLinks
  });

  it('detects a crash: Suspect first, then Unreachable everywhere, within the configured bounds', async () => {
    const c = await cluster({ nodes: 20, maxLinks: 64, minLinks: 64 });
    runUntil(c, () => fullMesh(c), 30_000);
    expect(fullMesh(c)).toBe(true);
    c.crash(7);
    const toSuspect = runUntil(c, () => viewsOf(c, 7).some((s) => s === NodeState.Suspect), 20_000, 50);
    // 19 nodes probe one member a second each, in their own random round-robin orders: the
    // crashed one goes unprobed for a whole period with probability (18/19)^19 ≈ 0.36, so a
    // first probe may take a few periods, then a ping timeout and the indirect probes.
    expect(toSuspect).toBeLessThanOrEqual(5_000);
    runUntil(c, () => allSee(c, 7, NodeState.Unreachable), 30_000, 50);
    const d = c.observer.detections[0]!;
    expect(allSee(c, 7, NodeState.Unreachable)).toBe(true);
    expect(d.firstSuspectMs).toBeLessThanOrEqual(5_000);
    // First suspicion + suspectTimeout (5 s) + a few gossip rounds.
    expect(d.allUnreachableMs).toBeLessThanOrEqual(d.firstSuspectMs! + 5_000 + 2_000);
    expect(d.allUnreachableMs).toBeGreaterThanOrEqual(5_000);
    expect(c.observer.suspectedLive).toBe(0);
    expect(c.observer.unreachableLive.size).toBe(0);
  });

  it('a crash that resets its connections (a killed process over TCP) is detected too', async () => {
    // Its neighbours' links close at once, before any probe fails; nobody would probe it
    // again, so each neighbour checks it through witnesses and suspects it.
    const c = await cluster({ nodes: 30, maxLinks: 6 });
    runUntil(c, () => converged(c), 60_000);
    c.runFor(5_000);
    c.crash(7, { reset: true });
    runUntil(c, () => allSee(c, 7, NodeState.Unreachable), 30_000, 50);
    const d = c.observer.detections[0]!;
    expect(allSee(c, 7, NodeState.Unreachable)).toBe(true);
    expect(d.firstSuspectMs).toBeLessThanOrEqual(3_000);
    expect(d.allUnreachableMs).toBeLessThanOrEqual(d.firstSuspectMs! + 5_000 + 2_000);
    expect(c.observer.suspectedLive).toBe(0);
  });

  it('links closed on purpose (evictions, join exchanges, budget refusals) raise no suspicion', async () => {
    // 80 nodes joining at once through one seed with at most 6 links each: the seed and the
    // early joiners are full all the time, so links are refused, evicted and released.
    const c = await cluster({ nodes: 80, maxLinks: 6 });
    const closes = new Map<string, number>();
    for (const n of c.nodes)
      n.node.on('link-down', (e) => closes.set(e.reason, (closes.get(e.reason) ?? 0) + 1));
    runUntil(c, () => converged(c), 60_000);
    c.runFor(10_000);
    expect(converged(c)).toBe(true);
    expect([...closes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
    // Every close was one of the deliberate kinds (seen from either end).
    const deliberate = [
      'evicted',
      'making room for a new link',
      'link budget full',
      'duplicate link',
      'join exchange done',
      'let go by peer',
    ];
    expect([...closes.keys()].filter((r) => !deliberate.includes(r))).toEqual([]);
    expect(c.observer.suspectedLive).toBe(0);
  });

  it('a falsely suspected node refutes with a higher incarnation and stays Active', async () => {
    const c = await cluster({ nodes: 12, maxLinks: 64, minLinks: 64 });
    // Every node probes the victim only once linked to it: wait for the full mesh (the
    // membership converges well before: a newcomer is welcomed with all of it).
    runUntil(c, () => fullMesh(c), 30_000);
    expect(fullMesh(c)).toBe(true);
    const victim = c.nodes[3]!;
    const before = victim.node.incarnation;
    // Cut it off for 2.5 s: long enough to be suspected, far shorter than the 5 s suspicion timeout.
    c.partition([[3]]);
    runUntil(c, () => viewsOf(c, 3).some((s) => s === NodeState.Suspect), 10_000, 50);
    expect(viewsOf(c, 3)).toContain(NodeState.Suspect);
    c.runFor(1_000);
    c.heal();
    runUntil(c, () => allSee(c, 3, NodeState.Active) && victim.node.incarnation > before, 10_000, 50);
    expect(victim.node.incarnation).toBeGreaterThan(before);
    expect(victim.node.metrics().refutations).toBeGreaterThan(0);
    expect(allSee(c, 3, NodeState.Active)).toBe(true);
    expect(c.observer.unreachableLive.has(3)).toBe(false);
  });

  it('partition and heal: both sides declare the other Unreachable, then converge to one view', async () => {
    const c = await cluster({ nodes: 16, maxLinks: 64, minLinks: 64 });
    runUntil(c, () => fullMesh(c), 30_000);
    expect(fullMesh(c)).toBe(true);
    const left = [0, 1, 2, 3, 4, 5, 6, 7];
    const right = [8, 9, 10, 11, 12, 13, 14, 15];
    c.partition([left, right]);
    c.runFor(25_000);
    expect(c.viewOf(0, 12)).toBe(NodeState.Unreachable);
    expect(c.viewOf(12, 0)).toBe(NodeState.Unreachable);
    c.heal();
    const took = runUntil(c, () => converged(c), 60_000);
    expect(converged(c)).toBe(true);
    expect(took).toBeLessThan(30_000);
  });

  it('a partition longer than the reap time heals (reaped members are re-contacted)', async () => {
    const c = await cluster({ nodes: 12, maxLinks: 64, minLinks: 64, heartbeat: { reapAfterMs: 10_000 } });
    runUntil(c, () => converged(c), 30_000);
    c.partition([
      [0, 1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10, 11],
    ]);
    c.runFor(40_000);
    expect(c.viewOf(0, 8)).toBeUndefined(); // forgotten on both sides
    expect(c.viewOf(8, 0)).toBeUndefined();
    expect(c.nodes[0]!.node.members().length).toBe(6);
    c.heal();
    runUntil(c, () => converged(c), 90_000);
    expect(converged(c)).toBe(true);
  });

  it('a frozen node is suspected, then Unreachable; unfrozen, it refutes and is Active again', async () => {
    const c = await cluster({ nodes: 8, maxLinks: 64, minLinks: 64 });
    runUntil(c, () => converged(c), 30_000);
    const frozen = c.nodes[3]!.node;
    const before = frozen.incarnation;
    frozen.freeze();
    expect(frozen.frozen).toBe(true);
    const states = watchUntilAllSee(c, 3, NodeState.Unreachable, 30_000, 50);
    expect(states.has(NodeState.Suspect)).toBe(true);
    expect(allSee(c, 3, NodeState.Unreachable)).toBe(true);
    // Frozen, it learnt nothing: it still sees everyone Active.
    expect(frozen.members().every((m) => m.state === NodeState.Active)).toBe(true);
    frozen.unfreeze();
    runUntil(c, () => allSee(c, 3, NodeState.Active), 30_000, 50);
    expect(allSee(c, 3, NodeState.Active)).toBe(true);
    expect(frozen.incarnation).toBeGreaterThan(before);
    expect(frozen.metrics().refutations).toBeGreaterThan(0);
  });

  it('a node paused past the accusation gossip still hears of it from its probers and refutes in time', async () => {
    const c = await cluster({ nodes: 10, maxLinks: 64, minLinks: 64 });
    runUntil(c, () => converged(c), 30_000);
    const frozen = c.nodes[6]!.node;
    frozen.freeze();
    runUntil(c, () => viewsOf(c, 6).includes(NodeState.Suspect), 30_000, 20);
    // 3 s of the 5 s suspicion timeout: the accusation's piggyback retransmissions have run
    // out, so only a probe that carries it (Lifeguard's buddy system) can still tell it.
    c.runFor(3_000);
    expect(viewsOf(c, 6)).not.toContain(NodeState.Unreachable);
    frozen.unfreeze();
    const states = watchUntilAllSee(c, 6, NodeState.Active, 30_000, 20);
    expect(allSee(c, 6, NodeState.Active)).toBe(true);
    expect(states.has(NodeState.Unreachable)).toBe(false);
    expect(frozen.metrics().refutations).toBeGreaterThan(0);
  });

  it('a restarted node rejoins with the same identity and a higher incarnation', async () => {
    const c = await cluster({ nodes: 10, maxLinks: 64, minLinks: 64 });
    runUntil(c, () => converged(c), 30_000);
    const before = c.nodes[4]!.node.incarnation;
    c.crash(4);
    runUntil(c, () => allSee(c, 4, NodeState.Unreachable), 30_000);
    await c.restart(4);
    expect(c.nodes[4]!.node.incarnation).toBeGreaterThan(before);
    runUntil(c, () => converged(c), 30_000);
    expect(allSee(c, 4, NodeState.Active)).toBe(true);
    expect(c.nodes[4]!.node.members().length).toBe(10);
  });

  it('a graceful leave is seen as Left everywhere (not Unreachable), quickly', async () => {
    const c = await cluster({ nodes: 10, maxLinks: 64, minLinks: 64 });
    runUntil(c, () => converged(c), 30_000);
    const done = c.leave(5);
    const took = runUntil(c, () => allSee(c, 5, NodeState.Left), 10_000, 50);
    c.runFor(2_000); // past the leave drain, so the node has closed
    await done;
    expect(allSee(c, 5, NodeState.Left)).toBe(true);
    expect(took).toBeLessThan(1_500);
    c.runFor(20_000);
    expect(allSee(c, 5, NodeState.Left)).toBe(true);
  });

  it('Left and Unreachable members are reaped after the reap time', async () => {
    const c = await cluster({ nodes: 8, maxLinks: 64, minLinks: 64, heartbeat: { reapAfterMs: 15_000 } });
    runUntil(c, () => converged(c), 30_000);
    const gone = c.leave(2);
    c.runFor(5_000);
    await gone;
    expect(c.viewOf(0, 2)).toBe(NodeState.Left);
    c.runFor(20_000);
    expect(c.viewOf(0, 2)).toBeUndefined();
    expect(c.nodes[0]!.node.members().length).toBe(7);
  });

  it('partial mesh (maxLinks well below n) detects crashes too, everywhere', async () => {
    const c = await cluster({ nodes: 60, maxLinks: 6 });
    runUntil(c, () => converged(c), 60_000);
    expect(converged(c)).toBe(true);
    c.crash(10);
    c.crash(33);
    runUntil(c, () => allSee(c, 10, NodeState.Unreachable) && allSee(c, 33, NodeState.Unreachable), 40_000);
    expect(allSee(c, 10, NodeState.Unreachable)).toBe(true);
    expect(allSee(c, 33, NodeState.Unreachable)).toBe(true);
    for (const d of c.observer.detections) expect(d.allUnreachableMs).toBeLessThan(15_000);
    expect(c.observer.unreachableLive.size).toBe(0);
  });

  it('a preconverged cluster starts converged, gossips nothing for the adopted view, links up and detects a crash', async () => {
    const c = await cluster({ nodes: 60, maxLinks: 8, preconverged: true });
    expect(converged(c)).toBe(true);
    expect(c.observer.convergedAtMs).toBe(0);
    c.runFor(10_000);
    const gossip = (x: typeof c) => x.nodes.reduce((sum, n) => sum + n.node.metrics().gossipMessages, 0);
    // Nothing changed after the adoption, so no node had anything to gossip.
    expect(gossip(c)).toBe(0);
    const degrees = c.nodes.map((n) => n.node.links().length);
    expect(Math.min(...degrees)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...degrees)).toBeLessThanOrEqual(8);
    // A cluster that joined for real gossips every join.
    const cold = await cluster({ nodes: 60, maxLinks: 8 });
    cold.runFor(10_000);
    expect(gossip(cold)).toBeGreaterThan(60);
    c.crash(7);
    runUntil(c, () => allSee(c, 7, NodeState.Unreachable), 30_000, 50);
    expect(allSee(c, 7, NodeState.Unreachable)).toBe(true);
    expect(c.observer.detections[0]!.allUnreachableMs).toBeLessThanOrEqual(3_000 + 5_000 + 2_000);
    expect(c.observer.suspectedLive).toBe(0);
  });

  it('the same seed reproduces the same run exactly', async () => {
    const run = async (seed: number) => {
      const c = await cluster({
        nodes: 12,
        seed,
        maxLinks: 6,
        network: { loss: 0.05, linkAuth: 'handshake' },
      });
      c.runFor(8_000);
      c.crash(3);
      c.runFor(10_000);
      return JSON.stringify({
        t: c.net.totalTraffic(),
        d: c.observer.detections.map((x) => [x.firstSuspectMs, x.allUnreachableMs]),
        v: c.nodes.map((n) => n.node.members().map((m) => [m.nodeId, m.state, m.incarnation])),
      });
    };
    expect(await run(5)).toBe(await run(5));
    expect(await run(5)).not.toBe(await run(6));
  });
});

describe('Lifeguard and hostile input in simulation', () => {
  it('a throttled node (timers and input only at 1 s wake-ups) is never declared Unreachable with Lifeguard', async () => {
    const run = async (lifeguard: boolean) => {
      const c = await cluster({ nodes: 16, seed: 3, maxLinks: 64, minLinks: 64, heartbeat: { lifeguard } });
      runUntil(c, () => converged(c), 30_000);
      c.nodes[5]!.host.throttle(1_000);
      c.runFor(120_000);
      return {
        c,
        raised: c.nodes[5]!.node.metrics().suspicions,
        health: c.nodes[5]!.node.metrics().localHealth,
      };
    };
    const on = await run(true);
    expect(on.c.observer.unreachableLive.has(5)).toBe(false);
    expect(on.c.observer.unreachableLive.size).toBe(0);
    expect(allSee(on.c, 5, NodeState.Active)).toBe(true);
    const off = await run(false);
    // Without local health awareness the slow node keeps accusing healthy members.
    expect(off.raised).toBeGreaterThan(3 * on.raised);
    expect(on.health).toBeGreaterThan(0);
  });

  it('forged alive and leave claims are rejected at the boundary; the view is untouched', async () => {
    const c = await cluster({ nodes: 6, maxLinks: 64, minLinks: 64 });
    runUntil(c, () => converged(c), 30_000);
    const target = c.nodes[0]!;
    const victim = c.nodes[1]!;
    const genuine = target.node.member(victim.identity.nodeId)!;
    const alive = c.claims.verify(
      signClaim(victim.identity, 'alive', { incarnation: genuine.incarnation }).wire,
    );
    expect(alive).not.toBeNull();
    // A relay that alters a body keeps the victim's signature: it no longer verifies.
    const body = decodeCbor(
      signClaim(victim.identity, 'alive', { incarnation: genuine.incarnation }).wire.b,
      {
        maxDepth: 4,
        maxItems: 32,
      },
    ) as Record<string, unknown>;
    const altered = encodeCbor({ ...body, i: genuine.incarnation + 10 });
    const victimSig = signClaim(victim.identity, 'alive', { incarnation: genuine.incarnation }).wire.s;
    // A leave "from the victim" signed by someone else.
    const attacker = NodeIdentity.generate();
    const leaveBody = encodeCbor({ k: 'l', key: victim.identity.publicKey, i: genuine.incarnation + 1 });
    const forgedLeave = { b: leaveBody, s: attacker.sign(signingInput(Domain.Leave, leaveBody)) };
    // The attacker is a valid cluster member at the transport level: it passes the handshake.
    const mallory = startPeer(c.net, c.net.addHost(), 'sim', attacker);
    mallory.transport.connect(target.host.url);
    c.runFor(1_000);
    expect(mallory.links.length).toBe(1);
    const gossip = encodeMessage({ type: 'gossip', g: [{ b: altered, s: victimSig }, forgedLeave] });
    mallory.links[0]!.sendDatagram(gossip);
    mallory.links[0]!.send(gossip);
    c.runFor(1_000);
    expect(target.node.metrics().claimsRejected).toBe(4);
    // Adopting claims goes through the same boundary.
    expect(await target.node.adoptClaims([{ b: altered, s: victimSig }, forgedLeave])).toBe(0);
    expect(target.node.metrics().claimsRejected).toBe(6);
    const after = target.node.member(victim.identity.nodeId)!;
    expect(after.state).toBe(NodeState.Active);
    expect(after.incarnation).toBe(genuine.incarnation);
  });

  it('garbage frames from a linked peer are counted and dropped; the node keeps working', async () => {
    const c = await cluster({ nodes: 4, maxLinks: 64, minLinks: 64 });
    runUntil(c, () => converged(c), 30_000);
    const target = c.nodes[0]!;
    const mallory = startPeer(c.net, c.net.addHost(), 'sim');
    mallory.transport.connect(target.host.url);
    c.runFor(1_000);
    const link = mallory.links[0]!;
    link.send(Uint8Array.of(0xff, 0x00, 0x01));
    link.sendDatagram(encodeCbor([1, 999, {}]));
    link.send(new Uint8Array(70_000));
    link.send(
      encodeMessage({
        type: 'hello',
        cluster: 'sim',
        node: new Uint8Array(16),
        key: new Uint8Array(32),
        nonce: new Uint8Array(32),
      }),
    );
    c.runFor(1_000);
    const m = target.node.metrics();
    expect(m.framesRejected).toBe(4);
    expect(m.framesRejectedBy).toMatchObject({
      forbidden: 1,
      'unknown-type': 1,
      'too-large': 1,
      'unexpected-type': 1,
    });
    c.crash(2);
    runUntil(c, () => allSee(c, 2, NodeState.Unreachable), 20_000);
    expect(allSee(c, 2, NodeState.Unreachable)).toBe(true);
  });

  it('a link that delivers nothing is torn down; quiet links get keepalives', async () => {
    const c = await cluster({ nodes: 3, maxLinks: 64, minLinks: 64 });
    runUntil(c, () => converged(c), 30_000);
    // A peer that completes the handshake and then never says anything.
    const zombie = startPeer(c.net, c.net.addHost(), 'sim');
    zombie.transport.connect(c.nodes[0]!.host.url);
    c.runFor(1_000);
    expect(c.nodes[0]!.node.links()).toContain(zombie.identity.nodeId);
    c.runFor(25_000);
    expect(zombie.received.length).toBeGreaterThan(0); // keepalives (and probes) reached it
    expect(zombie.closed).toHaveLength(0);
    c.runFor(10_000);
    expect(c.nodes[0]!.node.links()).not.toContain(zombie.identity.nodeId);
    expect(zombie.closed[0]?.reason).toMatch(/idle/);
  });

  it('two live processes with one identity are detected and reported', async () => {
    const c = await cluster({ nodes: 6, maxLinks: 64, minLinks: 64 });
    runUntil(c, () => converged(c), 30_000);
    const original = c.nodes[2]!;
    const conflicts: number[] = [];
    original.node.on('identity-conflict', (e) => conflicts.push(e.incarnation));
    // A second process starts with a copy of node 2's key (and its own storage).
    const twinHost = c.net.addHost();
    const twin = new MeshNode({
      state: replicatedState(),
      messaging: messaging(),
      ring: hashRing(),
      identity: original.identity,
      cluster: 'sim',
      transport: twinHost.transport(),
      env: twinHost.env,
      verifier: strictVerifier,
      claimVerifier: c.claims,
      interner: c.interner,
    });
    await twin.start();
    void twin.join([c.nodes[0]!.host.url]);
    c.runFor(15_000);
    expect(conflicts.length).toBeGreaterThan(0);
    expect(original.node.metrics().identityConflicts).toBeGreaterThan(0);
  });
});
