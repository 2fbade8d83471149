// What an idle node costs the thread it runs on: timer callbacks per second, counted in
// virtual time on a formed cluster with nothing to say. Each wake-up left is SWIM's own
// (docs/MEMBERSHIP.md, "Idle cost"): the probe round and link upkeep.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { MeshNode, messaging } from '../../lib/node/mod.ts';
import { SimNetwork } from '../../lib/sim/mod.ts';
import { FakeBroadcastHub } from '../support/fake-broadcast-channel.ts';
import { opensslVerifier, signWithOpenssl } from './openssl-crypto.ts';

describe('idle cost', () => {
  it('an idle tab of a formed 4-tab cluster wakes about twice a second, and sends two messages', async () => {
    const net = new SimNetwork({ seed: 23 });
    const hub = new FakeBroadcastHub(net.scheduler);
    const nodes: MeshNode[] = [];
    let wakeups = 0;
    for (let i = 0; i < 4; i++) {
      const host = net.addHost();
      const scheduler = host.env.scheduler;
      const setTimer = scheduler.setTimer.bind(scheduler);
      scheduler.setTimer = (ms, fn) =>
        setTimer(ms, () => {
          wakeups++;
          fn();
        });
      const identity = NodeIdentity.fromSecretKey(host.env.random.bytes(32));
      signWithOpenssl(identity);
      nodes.push(
        new MeshNode({
          identity,
          cluster: 'idle',
          env: host.env,
          verifier: opensslVerifier,
          messaging: messaging(),
          broadcastChannel: { BroadcastChannel: hub.ctor(() => host.up) },
        }),
      );
    }
    for (const n of nodes) await n.start();
    net.runFor(10_000);
    expect(nodes.every((a) => nodes.every((b) => a.member(b.nodeId)?.state === NodeState.Active))).toBe(true);
    const [w0, p0] = [wakeups, hub.posted];
    net.runFor(60_000);
    const perTabPerSecond = (x: number) => x / nodes.length / 60;
    // The probe round (its period's end starts the next one in the same wake-up), link upkeep
    // (0.5–1.5 s), and rarer ones (reaping, push-pull every 30 s). Gossip with nothing queued
    // no longer ticks (it did, 5 times a second). A real scheduler also runs link upkeep in
    // the probe round's wake-up (its earliest time; test/portable/time.cases.ts); the virtual
    // one keeps it at its own time.
    expect(perTabPerSecond(wakeups - w0)).toBeGreaterThan(1.8);
    expect(perTabPerSecond(wakeups - w0)).toBeLessThan(2.5);
    // A ping and its ack per probe: SWIM's constant load.
    expect(perTabPerSecond(hub.posted - p0)).toBeLessThan(2.5);
  });
});
