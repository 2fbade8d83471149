// Dialling policy against hostile claims: addresses taken from claims cannot turn the
// cluster into a traffic source aimed at a third party.
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { ConfigError } from '../../lib/membership/config.ts';
import { DEFAULT_DIAL_POLICY, DialBackoff, endpointOf } from '../../lib/node/dial-policy.ts';
import { LinkManager } from '../../lib/node/link-manager.ts';
import { checkMeshNodeOptions } from '../../lib/node/options.ts';
import type { SimChannelEnd } from '../../lib/sim/channel.ts';
import type { SimHost } from '../../lib/sim/host.ts';
import { SimNetwork } from '../../lib/sim/network.ts';
import type { SimTransport } from '../../lib/sim/transport.ts';
import { SeededRandom } from '../../lib/time/random.ts';
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

/** Every connection a live host's listener takes from now on: who dialled, and when. */
function dialsAt(net: SimNetwork, host: SimHost): Array<{ from: string; at: number }> {
  const dials: Array<{ from: string; at: number }> = [];
  const listener = host.listener!;
  const accept = listener.accept.bind(listener);
  listener.accept = (end) => {
    dials.push({ from: end.peer.host.address, at: net.now });
    accept(end);
  };
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

  it('claims naming endless endpoints (one host under many names) get at most newEndpointsPerMinute dials a minute from a node, not five each', async () => {
    // A node short of links dials about one a second here (272 in 4 minutes without a
    // budget); a budget of 10 a minute shows it holds.
    const budget = 10;
    const c = await cluster({
      nodes: 3,
      maxLinks: 8,
      minLinks: 8,
      nodeOptions: () => ({ dialing: { newEndpointsPerMinute: budget } }),
    });
    runUntil(c, () => converged(c), 30_000);
    // 300 ghosts, each advertising its own dead end: as a wildcard DNS name gives one host.
    const hosts = Array.from({ length: 300 }, (_, k) => deadEnd(c.net, `alias-${k}`));
    const mallory = startPeer(c.net, c.net.addHost(), 'sim');
    mallory.transport.connect(c.nodes[0]!.host.url);
    c.runFor(1_000);
    const ghosts = Array.from({ length: 300 }, (_, k) =>
      signClaim(NodeIdentity.generate(), 'alive', { incarnation: 1, addrs: [`mem:alias-${k}`] }),
    );
    for (let k = 0; k < ghosts.length; k += 30)
      mallory.links[0]!.send(
        encodeMessage({ type: 'gossip', g: ghosts.slice(k, k + 30).map((g) => g.wire) }),
      );
    const start = c.net.now;
    const minutes = 4;
    c.runFor(minutes * 60_000);
    const perNode = byDialer(hosts.flat().filter((d) => d.at >= start));
    expect(perNode.size).toBe(3); // every node took the claims and dialled
    for (const [, times] of perNode) {
      expect(times.length).toBeGreaterThan(budget); // the budget refills
      expect(times.length).toBeLessThanOrEqual(budget * (minutes + 1));
      // No minute holds more than the budget plus a minute's refill.
      for (const t of times)
        expect(times.filter((u) => u >= t && u < t + 60_000).length).toBeLessThanOrEqual(2 * budget);
    }
    expect(converged(c)).toBe(true);
  });

  it('the new-endpoint budget: spent by claim addresses that reach a host at endpoints never linked, refilled by the minute; seeds, node-named addresses and proven endpoints spend none', () => {
    const backoff = new DialBackoff(
      { ...DEFAULT_DIAL_POLICY, newEndpointsPerMinute: 3 },
      new SeededRandom(1),
    );
    const advert = { nodeId: 'a'.repeat(32), incarnation: 1 };
    backoff.succeeded('proven:80');
    for (let k = 0; k < 3; k++) expect(backoff.allows(`h${k}:80`, 0, advert)).toBe(true);
    expect(backoff.allows('h3:80', 0, advert)).toBe(false);
    expect(backoff.allows('h3:80', 0)).toBe(true); // a seed or connect()
    expect(backoff.allows('webrtc:00', 0, advert, '00')).toBe(true); // through the mesh
    expect(backoff.allows('proven:80', 0, advert)).toBe(true);
    expect(backoff.allows('h3:80', 19_000, advert)).toBe(false);
    expect(backoff.allows('h3:80', 21_000, advert)).toBe(true); // a third of a minute: one more
    expect(backoff.allows('h4:80', 21_000, advert)).toBe(false);
    // A full mesh dials every member as it forms: as many at once as the node's link cap.
    const mesh = new DialBackoff(
      { ...DEFAULT_DIAL_POLICY, newEndpointsPerMinute: 3 },
      new SeededRandom(1),
      200,
    );
    for (let k = 0; k < 200; k++) expect(mesh.allows(`m${k}:80`, 0, advert)).toBe(true);
    expect(mesh.allows('m200:80', 0, advert)).toBe(false);
    // A node's option, checked like the others.
    const options = {
      identity: NodeIdentity.generate(),
      cluster: 'c',
      transport: new SimNetwork({ seed: 2 }).addHost().transport(),
    };
    for (const bad of [0, -1, Number.NaN]) {
      const e = (() => {
        try {
          checkMeshNodeOptions({ ...options, dialing: { newEndpointsPerMinute: bad } });
        } catch (error) {
          return error;
        }
      })();
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).option).toBe('dialing.newEndpointsPerMinute');
    }
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

  it('a member advertising an honest node’s address and dropping its link does not stop dials to that node: a dial answered by another node is not charged to the address', async () => {
    const c = await cluster({ nodes: 3, maxLinks: 8, minLinks: 8 });
    runUntil(c, () => converged(c), 30_000);
    const [zero, , honest] = c.nodes;
    const dials = dialsAt(c.net, honest!.host);
    const fromZero = () => dials.filter((d) => d.from === zero!.host.address).map((d) => d.at);
    // Mallory, a member whose claims advertise the honest node's address, links to node 0 and
    // drops the link without a goodbye: node 0 redials it there, and the honest node answers.
    // Six rounds, a fresher claim each (it was suspected meanwhile), 70 s apart.
    const mallory = NodeIdentity.generate();
    for (let round = 1; round <= 6; round++) {
      const peer = startPeer(c.net, c.net.addHost(), 'sim', mallory);
      peer.transport.connect(zero!.host.url);
      c.runFor(1_000);
      const claim = signClaim(mallory, 'alive', { incarnation: round, addrs: [honest!.host.url] });
      peer.links[0]!.send(encodeMessage({ type: 'gossip', g: [claim.wire] }));
      c.runFor(1_000);
      c.net.resetConnections(peer.host, zero!.host);
      c.runFor(68_000);
    }
    // Node 0 did dial the honest node for mallory (so the test exercises the misdirected dials)...
    expect(fromZero().length).toBeGreaterThanOrEqual(DEFAULT_DIAL_POLICY.maxFailures);
    // ...and still dials it for itself: its link to node 0 breaks, node 0 redials at once.
    const before = fromZero().length;
    expect(c.net.resetConnections(zero!.host, honest!.host)).toBeGreaterThan(0);
    c.runFor(3_000);
    expect(fromZero().length).toBeGreaterThan(before);
    runUntil(c, () => converged(c), 30_000);
    expect(converged(c)).toBe(true);
  });

  it('members advertising an honest node’s address get it one such dial per node a minute, however many they are', async () => {
    const c = await cluster({ nodes: 12, maxLinks: 8, minLinks: 3 });
    runUntil(c, () => converged(c), 60_000);
    const honest = c.nodes[1]!;
    const dials = dialsAt(c.net, honest.host);
    // 100 members whose claims name the honest node's address, refreshed every minute (the
    // ghost check suspects them) by a peer linked to node 0.
    const sybils = Array.from({ length: 100 }, () => NodeIdentity.generate());
    const mallory = startPeer(c.net, c.net.addHost(), 'sim');
    mallory.transport.connect(c.nodes[0]!.host.url);
    c.runFor(1_000);
    const start = c.net.now;
    const minutes = 10;
    for (let round = 1; round <= minutes; round++) {
      const g = sybils.map(
        (k) => signClaim(k, 'alive', { incarnation: round, addrs: [honest.host.url] }).wire,
      );
      for (let i = 0; i < g.length; i += 10)
        mallory.links.at(-1)?.send(encodeMessage({ type: 'gossip', g: g.slice(i, i + 10) }));
      c.runFor(60_000);
    }
    const perNode = byDialer(dials.filter((d) => d.at >= start));
    expect(perNode.size).toBeGreaterThanOrEqual(10); // the claims arrived and were tried
    // One a minute, and a spare for the node's own dials to it (about 45 each before).
    for (const [, times] of perNode) expect(times.length).toBeLessThanOrEqual(minutes + 2);
    runUntil(c, () => converged(c), 30_000);
    expect(converged(c)).toBe(true);
  }, 60_000);

  it('an address that answered as another node: its own node’s claims still dial it, other claims wait a minute there however many name it; nothing is charged to it or proven', () => {
    const backoff = new DialBackoff(DEFAULT_DIAL_POLICY, new SeededRandom(1));
    const owner = { nodeId: 'b'.repeat(32), incarnation: 1 };
    const liars = Array.from({ length: 50 }, (_, k) => ({
      nodeId: k.toString(16).padStart(32, 'a'),
      incarnation: 1,
    }));
    backoff.misdirected('h:1', 0, owner.nodeId);
    expect(backoff.allows('h:1', 0, owner)).toBe(true);
    for (const liar of liars) expect(backoff.allows('h:1', 59_999, liar)).toBe(false);
    expect(backoff.allows('h:1', 60_000, liars[0])).toBe(true);
    // No proof, and an earlier one ends: claims' dials there spend the new-endpoint budget.
    const tight = new DialBackoff({ ...DEFAULT_DIAL_POLICY, newEndpointsPerMinute: 1 }, new SeededRandom(1));
    tight.succeeded('h:1');
    tight.misdirected('h:1', 0, owner.nodeId);
    expect(tight.allows('h:1', 0, owner)).toBe(true);
    expect(tight.allows('h:1', 0, owner)).toBe(false);
    // An address naming a node (webrtc:<id>) stays open to that node's own claims.
    const named = 'c'.repeat(32);
    backoff.misdirected(`webrtc:${named}`, 0, owner.nodeId);
    expect(backoff.allows(`webrtc:${named}`, 0, { nodeId: named, incarnation: 1 }, named)).toBe(true);
    expect(backoff.allows(`webrtc:${named}`, 0, liars[1], named)).toBe(false);
    // Failures of the endpoint itself still count as before.
    for (let k = 0; k < DEFAULT_DIAL_POLICY.maxFailures; k++) backoff.failed('h:1', 0, owner);
    expect(backoff.allows('h:1', 5 * 60_000, owner)).toBe(false);
  });

  it('a proven endpoint loses its proof at its next failure: each completed handshake buys at most one dial outside the budget', () => {
    const backoff = new DialBackoff(
      { ...DEFAULT_DIAL_POLICY, newEndpointsPerMinute: 1 },
      new SeededRandom(1),
    );
    const advert = { nodeId: 'a'.repeat(32), incarnation: 1 };
    expect(backoff.allows('spent:1', 0, advert)).toBe(true); // the budget's one
    backoff.succeeded('named:1');
    expect(backoff.allows('named:1', 0, advert)).toBe(true);
    backoff.failed('named:1', 0, advert); // the name points elsewhere now
    expect(backoff.allows('named:1', 120_000, advert)).toBe(true); // refilled: the budget's
    expect(backoff.allows('other:1', 120_000, advert)).toBe(false);
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
    links.dialEnded('ws://victim.example/a', 'failed');
    // Backing off: variants are refused too.
    expect(links.dialMember(ghost(3, 'ws://victim.example/c?d'))).toBe(false);
    expect(dialled).toEqual(['ws://victim.example/a']);
  });
});
