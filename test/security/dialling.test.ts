// Dialling policy against hostile claims: addresses taken from claims cannot turn the
// cluster into a traffic source aimed at a third party.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { DEFAULT_DIAL_POLICY, endpointOf } from '../../lib/node/dial-policy.ts';
import { LinkManager } from '../../lib/node/link-manager.ts';
import type { SimChannelEnd } from '../../lib/sim/channel.ts';
import { SimNetwork } from '../../lib/sim/network.ts';
import type { SimTransport } from '../../lib/sim/transport.ts';
import type { Transport } from '../../lib/transport/types.ts';
import { encodeMessage } from '../../lib/wire/mod.ts';
import { cluster, converged, runUntil } from '../sim/helpers.ts';
import { startPeer } from '../support/sim-peer.ts';

/** A host at `address` that takes every connection and closes it at once: no handshake ever completes. */
function deadEnd(net: SimNetwork, address: string): Array<{ from: string; at: number }> {
  const dials: Array<{ from: string; at: number }> = [];
  const host = net.addHost({ address });
  host.listener = {
    active: true,
    accept(end: SimChannelEnd) {
      dials.push({ from: end.peer.host.address, at: net.now });
      end.close('nothing here');
    },
  } as unknown as SimTransport;
  return dials;
}

function byDialer(dials: Array<{ from: string; at: number }>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const d of dials) out.set(d.from, [...(out.get(d.from) ?? []), d.at]);
  return out;
}

describe('dialling addresses taken from claims', () => {
  it('lesser: a claim advertising an unreachable address is dialled at most N times with backoff', async () => {
    const c = await cluster({ nodes: 3, maxLinks: 8, minLinks: 8 });
    runUntil(c, () => converged(c), 30_000);
    const dials = deadEnd(c.net, 'victim');
    // Ten throwaway identities, all advertising the victim's address, gossiped by a peer
    // that then leaves.
    const mallory = startPeer(c.net, c.net.addHost(), 'sim');
    mallory.transport.connect(c.nodes[0]!.host.url);
    c.runFor(1_000);
    expect(mallory.links.length).toBe(1);
    const ghosts = Array.from({ length: 10 }, () =>
      signClaim(NodeIdentity.generate(), 'alive', { incarnation: 1, addrs: ['mem:victim'] }),
    );
    mallory.links[0]!.send(encodeMessage({ type: 'gossip', g: ghosts.map((g) => g.wire) }));
    c.runFor(1_000);
    mallory.links[0]!.close('done');
    c.runFor(9 * 60_000);
    const perNode = byDialer(dials);
    expect(perNode.size).toBeGreaterThan(0); // the claims did arrive and were tried
    for (const [, times] of perNode) {
      expect(times.length).toBeLessThanOrEqual(DEFAULT_DIAL_POLICY.maxFailures);
      // Each wait is at least half the doubled backoff (jitter is ×0.5–1.5).
      for (let k = 1; k < times.length; k++)
        expect(times[k]! - times[k - 1]!).toBeGreaterThanOrEqual(
          0.5 * DEFAULT_DIAL_POLICY.backoffBaseMs * 2 ** (k - 1),
        );
    }
    expect(converged(c)).toBe(true);
  });

  it('a given-up address is tried again when its member advertises it in a fresher claim', async () => {
    const c = await cluster({ nodes: 3, maxLinks: 8, minLinks: 8 });
    runUntil(c, () => converged(c), 30_000);
    const dials = deadEnd(c.net, 'moved');
    const ghost = NodeIdentity.generate();
    // A fresh link each time (an idle link is closed after 30 s).
    const gossip = (incarnation: number) => {
      const mallory = startPeer(c.net, c.net.addHost(), 'sim');
      mallory.transport.connect(c.nodes[0]!.host.url);
      c.runFor(1_000);
      const claim = signClaim(ghost, 'alive', { incarnation, addrs: ['mem:moved'] });
      mallory.links[0]!.send(encodeMessage({ type: 'gossip', g: [claim.wire] }));
    };
    gossip(1);
    c.runFor(5 * 60_000);
    const givenUp = dials.length;
    expect(givenUp).toBeLessThanOrEqual(3 * DEFAULT_DIAL_POLICY.maxFailures);
    c.runFor(60_000);
    expect(dials.length).toBe(givenUp); // given up: silent
    gossip(2);
    c.runFor(3 * DEFAULT_DIAL_POLICY.backoffMaxMs);
    const retried = dials.length - givenUp;
    expect(retried).toBeGreaterThan(0);
    expect(retried).toBeLessThanOrEqual(3); // one attempt per node, then silent again
  });

  it('URLs that differ only in path, query, case or default port share one endpoint and one backoff', () => {
    expect(endpointOf('ws://Victim.example:80/a?x=1')).toBe(endpointOf('wss://victim.example:80/b'));
    expect(endpointOf('ws://victim.example/')).toBe(endpointOf('ws://victim.example:80'));
    expect(endpointOf('ws://127.1:9000/')).toBe(endpointOf('ws://127.0.0.1:9000'));
    expect(endpointOf('ws://victim.example:81')).not.toBe(endpointOf('ws://victim.example:80'));
    expect(endpointOf('webrtc:00112233445566778899aabbccddeeff')).toBe(
      'webrtc:00112233445566778899aabbccddeeff',
    );

    const env = new SimNetwork({ seed: 1 }).addHost().env;
    const dialled: string[] = [];
    const transport = {
      name: 'fake',
      canDial: (a: string) => a.startsWith('ws'),
      connect: (a: string) => dialled.push(a),
      start() {},
      close() {},
      localAddresses: () => [],
    } as unknown as Transport;
    const links = new LinkManager({
      env,
      selfId: 'f'.repeat(32),
      transports: [transport],
      policy: { maxLinks: 8, minLinks: 4, idleTimeoutMs: 30_000 },
      dialing: DEFAULT_DIAL_POLICY,
      onUp() {},
      onDown() {},
      onFrame() {},
      keepalive() {},
      bye() {},
      unlink() {},
      isNewcomer: () => true,
      peerDegree: () => undefined,
    });
    const ghost = (i: number, path: string) => ({ nodeId: i.toString(16).padStart(32, '0'), addrs: [path] });
    expect(links.dialMember(ghost(1, 'ws://victim.example/a'))).toBe(true);
    // In flight: a variant of the same endpoint waits.
    expect(links.dialMember(ghost(2, 'ws://VICTIM.example:80/b'))).toBe(false);
    links.dialEnded('ws://victim.example/a', true);
    // Backing off: variants are refused too.
    expect(links.dialMember(ghost(3, 'ws://victim.example/c?d'))).toBe(false);
    expect(dialled).toEqual(['ws://victim.example/a']);
  });
});
