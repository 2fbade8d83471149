// Nothing fails silently (issue 11): a node that cannot reach any seed says so — a
// `stranded` event after strandedAfterMs in Joining — instead of sitting in Joining.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import type { MeshEvents } from '../../lib/node/events.ts';
import { MeshNode } from '../../lib/node/mesh-node.ts';
import { SimNetwork } from '../../lib/sim/network.ts';
import { cluster, converged, runUntil } from './helpers.ts';

/** The maintenance tick that notices it comes at most 1.5 s after the deadline. */
const TICK_SLACK_MS = 1_500;

async function lonelyNode(strandedAfterMs?: number) {
  const net = new SimNetwork({ seed: 3, connectTimeoutMs: 2_000 });
  const host = net.addHost();
  const node = new MeshNode({
    identity: NodeIdentity.fromSecretKey(host.env.random.bytes(32)),
    cluster: 'sim',
    transport: host.transport(),
    env: host.env,
    ...(strandedAfterMs === undefined ? {} : { strandedAfterMs }),
  });
  const stranded: Array<MeshEvents['stranded'] & { at: number }> = [];
  const errors: Array<MeshEvents['error']> = [];
  node.on('error', (e) => errors.push(e));
  await node.start();
  return {
    net,
    node,
    stranded,
    errors,
    listen: () => node.on('stranded', (e) => stranded.push({ ...e, at: net.now })),
  };
}

describe('a node stranded in Joining says so', () => {
  it('stranded: seeds that never answer get a stranded event within strandedAfterMs, naming each seed and why', async () => {
    const { net, node, stranded, listen } = await lonelyNode();
    listen();
    void node.join(['mem:nowhere', 'ws://127.0.0.1:1']);
    net.runFor(10_000 + TICK_SLACK_MS);
    expect(stranded).toHaveLength(1);
    const e = stranded[0]!;
    expect(e.at).toBeGreaterThanOrEqual(10_000);
    expect(e.waitedMs).toBeGreaterThanOrEqual(10_000);
    expect(e.seeds.map((s) => s.address)).toEqual(['mem:nowhere', 'ws://127.0.0.1:1']);
    expect(e.seeds[0]!.error).toMatch(/nowhere/);
    expect(e.seeds[1]!.error).toMatch(/no transport/);
    expect(e.reason).toContain('mem:nowhere');
    // Once per wait: not repeated every tick.
    net.runFor(60_000);
    expect(stranded).toHaveLength(1);
    expect(node.state).toBe('Joining');
    node.close();
  });

  it('stranded: honours strandedAfterMs, and says when join() was never given anything to join through', async () => {
    const { net, node, stranded, listen } = await lonelyNode(3_000);
    listen();
    net.runFor(3_000 + TICK_SLACK_MS);
    expect(stranded).toHaveLength(1);
    expect(stranded[0]!.seeds).toEqual([]);
    expect(stranded[0]!.reason).toMatch(/no seeds/);
    node.close();
  });

  it('stranded: nobody listening for stranded gets it as an error event (or the console)', async () => {
    const { net, node, errors } = await lonelyNode();
    void node.join(['mem:nowhere']);
    net.runFor(10_000 + TICK_SLACK_MS);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.context).toBe('joining the cluster');
    expect(String(errors[0]!.error)).toContain('mem:nowhere');
    node.close();
  });

  it('stranded: nodes that join are never reported stranded', async () => {
    const c = await cluster({ nodes: 6, joinWindowMs: 2_000 });
    const stranded: unknown[] = [];
    for (const n of c.nodes) n.node.on('stranded', (e) => stranded.push(e));
    runUntil(c, () => converged(c), 30_000);
    expect(converged(c)).toBe(true);
    c.runFor(30_000);
    expect(stranded).toEqual([]);
  });
});
