// Node ↔ Node over real WebRTC (@roamhq/wrtc) through a real signaling server, on loopback.
import { afterEach, describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { DEFAULT_HEARTBEAT } from '../../lib/membership/config.ts';
import { MeshNode } from '../../lib/node/mesh-node.ts';
import { loadWrtc } from '../../lib/webrtc/node.ts';
import { WebRtcTransport } from '../../lib/webrtc/transport.ts';
import { type RunningSignalingServer, startSignalingServer } from '../../signaling/node.ts';
import { fakeSignaling } from '../support/fake-signaling.ts';
import { waitFor } from '../support/net.ts';
import { type Child, cli, killAll } from '../support/processes.ts';
import {
  convergenceReport,
  fullyConverged,
  loopbackOnly,
  type RtcNode,
  rtcNode,
} from '../support/webrtc-node.ts';

let server: RunningSignalingServer | undefined;
const nodes: RtcNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) n.close();
  await killAll();
  await server?.close();
  server = undefined;
});

/**
 * Asks `peer` who it is until it answers, for at most `ms`. A first request right after the
 * mesh forms may be lost: both ends list the link while a duplicate link is being settled.
 */
async function whoIs(n: RtcNode, peer: string, ms: number): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return new TextDecoder().decode(await n.node.request(peer, 'who', new Uint8Array(0), 2_000));
    } catch (e) {
      if (Date.now() + 2_000 > end) throw e;
    }
  }
}

function stateSeen(c: Child, nodeId: string, state: string): number {
  return c.json.findIndex((e) => e.event === 'state' && e.nodeId === nodeId && e.state === state);
}

describe('WebRTC signals into a live session', () => {
  it('a session takes at most 32 remote ICE candidates; the rest are refused and counted', async () => {
    const signaling = fakeSignaling();
    const transport = new WebRtcTransport({
      signaling,
      wrtc: await loadWrtc(),
      candidateFilter: loopbackOnly,
    });
    const identity = NodeIdentity.generate();
    const node = new MeshNode({ identity, cluster: 'candidates', transport });
    await node.start();
    try {
      // A peer with a higher id asks this node to make the offer: a live session (an
      // RTCPeerConnection) that then gets 40 candidates, never an answer.
      const peer = 'f'.repeat(32);
      expect(identity.nodeId < peer).toBe(true);
      signaling.deliver(peer, { k: 'dial-me', sid: 's1' });
      expect(transport.stats.created).toBe(1);
      for (let i = 0; i < 40; i++)
        signaling.deliver(peer, {
          k: 'sig',
          sid: 's1',
          d: {
            type: 'candidate',
            candidate: { candidate: `candidate:${i} 1 udp 1 127.0.0.1 ${9000 + i} typ host`, sdpMid: '0' },
          },
        });
      expect(transport.stats.signalsRefused).toBe(8);
    } finally {
      node.close();
    }
  });
});

describe('WebRTC mesh', () => {
  it('five nodes converge through the signaling server; links carry the handshake and membership', async () => {
    server = await startSignalingServer({ port: 0 });
    for (let i = 0; i < 5; i++) nodes.push(await rtcNode(server.url, 'five'));
    await waitFor(() => fullyConverged(nodes), 20_000, 'five converged');
    // A newcomer joins through two listed peers and links to the rest once it has joined.
    await waitFor(
      () => nodes.every((n) => n.node.links().length === 4),
      10_000,
      () => `a full mesh (links: ${nodes.map((n) => n.node.links().length).join(', ')})`,
    );
    // Probes flow over the links: every node gets acks (a probe period is 1 s).
    await waitFor(
      () => nodes.every((n) => n.node.metrics().acks > 0),
      10_000,
      () => `an ack at every node (acks: ${nodes.map((n) => n.node.metrics().acks).join(', ')})`,
    );
  });

  it('ten nodes with at most four links each: membership converges and requests cross the mesh', async () => {
    server = await startSignalingServer({ port: 0 });
    for (let i = 0; i < 10; i++) nodes.push(await rtcNode(server.url, 'sparse', { maxLinks: 4 }));
    await waitFor(
      () => fullyConverged(nodes),
      30_000,
      () => `sparse converged:\n${convergenceReport(nodes)}`,
    );
    // Newcomers may hold a transient link above maxLinks: wait for every node to shed it.
    await waitFor(
      () => nodes.every((n) => n.node.links().length <= 4),
      10_000,
      () => `at most 4 links each (links: ${nodes.map((n) => n.node.links().length).join(', ')})`,
    );
    // A pair without a direct link, each end linked to a neighbour that reported (truly) a link
    // to the other: the request and its reply are relayed.
    const a = nodes[0]!;
    const byId = new Map(nodes.map((n) => [n.node.nodeId, n]));
    const bridged = (from: RtcNode, to: string) =>
      from.node
        .links()
        .some((p) => from.node.neighboursOf(p)?.includes(to) && byId.get(p)?.node.links().includes(to));
    const relayed = () =>
      nodes.find(
        (n) =>
          n !== a &&
          !a.node.links().includes(n.node.nodeId) &&
          bridged(a, n.node.nodeId) &&
          bridged(n, a.node.nodeId),
      );
    await waitFor(
      () => relayed() !== undefined,
      30_000,
      () => `a node two hops from the first, both ways:\n${convergenceReport(nodes)}`,
    );
    const b = relayed()!;
    b.node.respond('whoami', (_data, from) => new TextEncoder().encode(`${b.node.nodeId} answers ${from}`));
    // On failure, say how the request failed and what the mesh looked like (it has failed
    // rarely under CI load; the cause was not caught).
    const links = () =>
      nodes.map((n) => {
        const m = n.node.metrics().messaging;
        const linked = n.node
          .links()
          .map((p) => p.slice(0, 6))
          .join(' ');
        return `${n.node.nodeId.slice(0, 6)}: ${linked}; relayed ${m.relayed}, dropped ${m.dropped} (unroutable ${m.unroutable}, throttled ${m.throttled}, rejected ${m.rejected}), duplicates ${m.duplicates}`;
      });
    const answer = await a.node
      .request(b.node.nodeId, 'whoami', new Uint8Array(0), 5_000)
      .catch((e: unknown) => {
        throw new Error(
          `relayed request ${a.node.nodeId.slice(0, 6)} → ${b.node.nodeId.slice(0, 6)} failed: ${String(e)}\nlinks now:\n${links().join('\n')}`,
        );
      });
    const reply = new TextDecoder().decode(answer);
    expect(reply).toBe(`${b.node.nodeId} answers ${a.node.nodeId}`);
  });

  it('peer-assisted signaling: once in the mesh, new links need no signaling server', async () => {
    server = await startSignalingServer({ port: 0 });
    for (let i = 0; i < 4; i++)
      nodes.push(await rtcNode(server.url, 'assisted', { maxLinks: 3, minLinks: 3 }));
    await waitFor(
      () => fullyConverged(nodes) && nodes.every((n) => n.node.links().length === 3),
      20_000,
      'full mesh',
    );
    await server.close();
    server = undefined;
    // Drop one link: both ends are now below minLinks and redial each other. With the server
    // gone, their offer and answer can only travel through the other two nodes.
    const [a, b] = [nodes[0]!, nodes[1]!];
    const before = a.transport.stats.relayedSignals + b.transport.stats.relayedSignals;
    a.node.disconnect(b.node.nodeId);
    await waitFor(() => !a.node.links().includes(b.node.nodeId), 5_000, 'link dropped');
    await waitFor(
      () => a.node.links().includes(b.node.nodeId) && b.node.links().includes(a.node.nodeId),
      20_000,
      'relayed link',
    );
    expect(a.transport.stats.relayedSignals + b.transport.stats.relayedSignals).toBeGreaterThan(before);
    expect(a.transport.stats.serverSignals + b.transport.stats.serverSignals).toBeGreaterThan(0);
  });

  it('eight nodes started at the same instant form a full mesh, in each of 10 runs', async () => {
    server = await startSignalingServer({ port: 0 });
    for (let run = 0; run < 10; run++) {
      const batch = await Promise.all(Array.from({ length: 8 }, () => rtcNode(server!.url, `glare-${run}`)));
      nodes.push(...batch);
      await waitFor(
        () => fullyConverged(batch) && batch.every((n) => n.node.links().length === 7),
        20_000,
        `run ${run}: a full mesh`,
      );
      // Every link carries data both ways (offer glare elsewhere leaves pairs "connected" on
      // both ends that carry nothing): each node asks each of its seven peers who it is.
      for (const n of batch) n.node.respond('who', () => new TextEncoder().encode(n.node.nodeId));
      const answers = await Promise.all(
        batch.flatMap((n) =>
          n.node.links().map(async (peer) => ({ asked: peer, answered: await whoIs(n, peer, 10_000) })),
        ),
      );
      expect(
        answers.filter((a) => a.answered !== a.asked),
        `run ${run}`,
      ).toEqual([]);
      for (const n of batch) n.close();
      nodes.splice(0);
    }
  });

  it('a killed node process is detected: Suspect, then Unreachable, well before ICE gives up', async () => {
    server = await startSignalingServer({ port: 0 });
    const children = Array.from({ length: 5 }, () =>
      cli(['node', '--signal', server!.url, '--cluster', 'kill', '--json']),
    );
    await waitFor(
      () => children.every((c) => c.json.some((e) => e.event === 'self')),
      15_000,
      'children started',
    );
    const ids = children.map((c) => c.json.find((e) => e.event === 'self')!.nodeId as string);
    const allActive = () => children.every((c) => ids.every((id) => stateSeen(c, id, 'Active') >= 0));
    await waitFor(allActive, 20_000, 'children converged');
    const victim = children[2]!;
    const victimId = ids[2]!;
    const others = children.filter((c) => c !== victim);
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    await waitFor(() => others.some((c) => stateSeen(c, victimId, 'Suspect') >= 0), 10_000, 'suspicion');
    const suspectedAfter = Date.now() - killedAt;
    await waitFor(
      () => others.every((c) => stateSeen(c, victimId, 'Unreachable') >= 0),
      20_000,
      'unreachable everywhere',
    );
    const unreachableAfter = Date.now() - killedAt;
    // SWIM probes each member once per round (4 survivors, so 4 probe periods at worst), and
    // Lifeguard stretches a loaded node's period: allow one round at twice its length, plus
    // the ping timeout. A probe-and-suspicion path that was broken would leave detection to
    // ICE, which only fails the dead links after ~30 s.
    const hb = DEFAULT_HEARTBEAT;
    expect(suspectedAfter).toBeLessThan(2 * 4 * hb.probeIntervalMs + hb.pingTimeoutMs);
    // Unreachable comes one suspicion timeout after the suspicion (not sooner: accuracy; the
    // slack is the suspicion's way through a child's stdout to us), and still far from ICE's
    // failure.
    expect(unreachableAfter - suspectedAfter).toBeGreaterThanOrEqual(hb.suspectTimeoutMs - 500);
    expect(unreachableAfter).toBeLessThan(20_000);
    // Wherever a suspicion was seen, it came before Unreachable (the lifecycle order).
    for (const c of others) {
      const suspect = stateSeen(c, victimId, 'Suspect');
      if (suspect >= 0) expect(suspect).toBeLessThan(stateSeen(c, victimId, 'Unreachable'));
    }
  });
});
