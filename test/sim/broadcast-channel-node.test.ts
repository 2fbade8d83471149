// MeshNodes over the BroadcastChannel transport, in virtual time: each fake hub is one browser
// profile (its contexts share channels), each sim host one tab (a crashed host's channel goes
// silent). Zero configuration, mixed clusters (BroadcastChannel inside a profile, the
// simulator's network between profiles and to server nodes), no pair linked over the network
// once it shares a channel, crash detection, and a throttled background tab kept Active.
import { describe, expect, it } from 'vitest';
import { Kind, PRESENCE_BYTES } from '../../lib/broadcast-channel/frames.ts';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { MeshNode, type MeshNodeOptions } from '../../lib/node/mod.ts';
import { type SimHost, SimNetwork } from '../../lib/sim/mod.ts';
import { equalBytes, fromHex, toHex } from '../../lib/util/bytes.ts';
import { FakeBroadcastHub } from '../support/fake-broadcast-channel.ts';
import { opensslVerifier, signWithOpenssl } from './openssl-crypto.ts';

interface Tab {
  host: SimHost;
  node: MeshNode;
  hub: FakeBroadcastHub | undefined;
  /** Transport of each link that came up, by peer (latest last). */
  linkUps: Array<[string, string]>;
}

/** Five tabs of one profile (one hub), started and all Active everywhere. */
async function fiveTabs(seed: number): Promise<{ net: SimNetwork; tabs: Tab[] }> {
  const net = new SimNetwork({ seed });
  const hub = new FakeBroadcastHub(net.scheduler);
  const tabs: Tab[] = [];
  for (let i = 0; i < 5; i++) {
    const t = tab(net.addHost(), hub);
    tabs.push(t);
    await t.node.start();
  }
  await runUntil(net, () => allSeeAll(tabs), 10_000);
  return { net, tabs };
}

function tab(
  host: SimHost,
  hub: FakeBroadcastHub | undefined,
  opts: Partial<MeshNodeOptions> = {},
  hears: () => boolean = () => true,
): Tab {
  const identity = NodeIdentity.fromSecretKey(host.env.random.bytes(32));
  signWithOpenssl(identity);
  const node = new MeshNode({
    identity,
    cluster: 'tabs',
    env: host.env,
    verifier: opensslVerifier,
    ...(hub ? { broadcastChannel: { BroadcastChannel: hub.ctor(() => host.up && hears()) } } : {}),
    ...opts,
  });
  const t: Tab = { host, node, hub, linkUps: [] };
  node.on('link-up', (e) => t.linkUps.push([e.nodeId, e.transport]));
  return t;
}

async function runUntil(net: SimNetwork, done: () => boolean, maxMs: number): Promise<number> {
  const start = net.now;
  while (!done() && net.now - start < maxMs) {
    net.runFor(50);
    await new Promise((r) => setImmediate(r));
  }
  return net.now - start;
}

const allSeeAll = (tabs: Tab[]) =>
  tabs.every((a) => tabs.every((b) => a.node.member(b.node.nodeId)?.state === NodeState.Active));

/** Groups joined by a newcomer merge well before its other links open (400 ms after its join). */
const MERGE_WITHIN_MS = 300;

describe('MeshNode over BroadcastChannel (fake channel, virtual time)', () => {
  it('zero configuration: nodes given no transport join the contexts they hear, with no server', async () => {
    const net = new SimNetwork({ seed: 14 });
    const hub = new FakeBroadcastHub(net.scheduler);
    const tabs: Tab[] = [];
    for (let i = 0; i < 6; i++) {
      const t = tab(net.addHost(), hub);
      tabs.push(t);
      await t.node.start();
      net.runFor(20 * i);
    }
    const took = await runUntil(net, () => allSeeAll(tabs), 10_000);
    expect(allSeeAll(tabs)).toBe(true);
    expect(took).toBeLessThan(2_000);
    for (const t of tabs) {
      expect(t.node.links().length).toBeGreaterThan(0);
      expect(new Set(t.linkUps.map(([, kind]) => kind))).toEqual(new Set(['broadcast-channel']));
    }
  });

  it('eight tabs started at once link each pair once: crossed dials make one link, not a duplicate', async () => {
    const net = new SimNetwork({ seed: 19 });
    const hub = new FakeBroadcastHub(net.scheduler);
    const tabs: Tab[] = [];
    for (let i = 0; i < 8; i++) tabs.push(tab(net.addHost(), hub));
    // Handshakes: one ACCEPT frame each.
    let accepts = 0;
    hub.tap((f) => {
      if (f[0] === Kind.Accept) accepts++;
    });
    for (const t of tabs) await t.node.start();
    await runUntil(net, () => allSeeAll(tabs) && tabs.every((t) => t.linkUps.length === 7), 10_000);
    expect(allSeeAll(tabs)).toBe(true);
    expect(accepts).toBe(28);
    for (const t of tabs) {
      const peers = t.linkUps.map(([peer]) => peer);
      expect(peers.length).toBe(7);
      expect(new Set(peers).size).toBe(7);
    }
  });

  /** Seven formed tabs and a late one whose OPEN frames (when it dials, and whom) are recorded. */
  async function sevenAndLate(seed: number) {
    const net = new SimNetwork({ seed });
    const hub = new FakeBroadcastHub(net.scheduler);
    const tabs: Tab[] = [];
    for (let i = 0; i < 7; i++) {
      tabs.push(tab(net.addHost(), hub));
      await tabs[i]!.node.start();
    }
    await runUntil(net, () => allSeeAll(tabs), 10_000);
    const late = tab(net.addHost(), hub);
    const me = fromHex(late.node.nodeId);
    const opens: Array<{ at: number; to: string }> = [];
    hub.tap((f) => {
      if (f[0] !== Kind.Open || !equalBytes(f.subarray(1, 1 + me.length), me)) return;
      opens.push({ at: net.now, to: toHex(f.subarray(PRESENCE_BYTES, PRESENCE_BYTES + me.length)) });
    });
    const joined = { at: -1, links: -1 };
    late.node.on('joined', () => {
      joined.at = net.now;
      joined.links = late.linkUps.length;
    });
    return { net, tabs, late, opens, joined };
  }

  it('a tab joining seven others dials one of them to join, and the rest only a moment after it has joined', async () => {
    const { net, tabs, late, opens, joined } = await sevenAndLate(20);
    await late.node.start();
    await runUntil(net, () => allSeeAll([...tabs, late]) && late.linkUps.length === 7, 5_000);
    expect(allSeeAll([...tabs, late])).toBe(true);
    expect(new Set(late.linkUps.map(([peer]) => peer)).size).toBe(7);
    expect(joined.links).toBe(1);
    // One dial to join; its other dials wait (tabs starting together do their joins before
    // spending CPU on more handshakes). Here the others dial it first, at their maintenance.
    expect(opens.filter((o) => o.at <= joined.at).length).toBe(1);
    for (const o of opens.filter((o) => o.at > joined.at))
      expect(o.at - joined.at).toBeGreaterThanOrEqual(300);
  });

  it('a joining tab whose first dial goes unanswered (a frozen tab) dials a second one 250 ms later', async () => {
    const { net, tabs, late, opens, joined } = await sevenAndLate(21);
    let frozen: Tab | undefined;
    late.hub!.tap(() => {
      if (frozen || opens.length === 0) return;
      frozen = tabs.find((t) => t.node.nodeId === opens[0]!.to);
      frozen?.host.crash();
    });
    const started = net.now;
    await late.node.start();
    await runUntil(net, () => joined.at >= 0, 5_000);
    expect(frozen).toBeDefined();
    expect(joined.at).toBeGreaterThan(0);
    const [first, second] = opens;
    expect(second).toBeDefined();
    expect(second!.to).not.toBe(first!.to);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(250);
    // Joined through the second long before the first dial's 3 s timeout.
    expect(joined.at - started).toBeLessThan(1_000);
  });

  it('a tab that joins one group of tabs links at once to a nearby tab of another group, so the groups merge', async () => {
    const net = new SimNetwork({ seed: 22 });
    const hub = new FakeBroadcastHub(net.scheduler);
    // Group A forms; group B forms while A hears nothing on the channel (so neither knows the
    // other, as when tabs that start together join through each other in pairs).
    let aHears = true;
    const a = [0, 1].map(() => tab(net.addHost(), hub, {}, () => aHears));
    for (const t of a) await t.node.start();
    await runUntil(net, () => allSeeAll(a), 5_000);
    aHears = false;
    const b = [0, 1].map(() => tab(net.addHost(), hub));
    for (const t of b) await t.node.start();
    await runUntil(net, () => allSeeAll(b), 5_000);
    aHears = true;
    expect(a[0]!.node.member(b[0]!.node.nodeId)).toBeUndefined();
    const late = tab(net.addHost(), hub);
    let joinedAt = -1;
    late.node.on('joined', () => {
      joinedAt = net.now;
    });
    await late.node.start();
    const all = [...a, ...b, late];
    await runUntil(net, () => allSeeAll(all), 5_000);
    expect(allSeeAll(all)).toBe(true);
    // The late tab joined one group and linked to the other within the merge, not 400 ms later.
    const groups = [a, b].map((g) => g.map((t) => t.node.nodeId));
    const linked = late.linkUps.map(([peer]) => groups.findIndex((g) => g.includes(peer)));
    expect(new Set(linked.slice(0, 2))).toEqual(new Set([0, 1]));
    expect(net.now - joinedAt).toBeLessThan(MERGE_WITHIN_MS);
  });

  it('32 tabs started 30 ms apart: all see all at once after the last start, none left without a link', async () => {
    const net = new SimNetwork({ seed: 24 });
    const hub = new FakeBroadcastHub(net.scheduler);
    const tabs: Tab[] = [];
    for (let i = 0; i < 32; i++) {
      tabs.push(tab(net.addHost(), hub));
      await tabs[i]!.node.start();
      net.runFor(30);
    }
    // The last tabs join through tabs at maxLinks (24), which let them go after the join
    // exchange: each dials on at once instead of sitting alone until its later dials.
    const took = await runUntil(net, () => allSeeAll(tabs), 5_000);
    expect(allSeeAll(tabs)).toBe(true);
    expect(took).toBeLessThanOrEqual(100);
    for (const t of tabs) expect(t.node.links().length).toBeGreaterThan(0);
  });

  it('a lone context starts the cluster by itself; one that comes later joins it', async () => {
    const net = new SimNetwork({ seed: 15 });
    const hub = new FakeBroadcastHub(net.scheduler);
    const first = tab(net.addHost(), hub);
    await first.node.start();
    await runUntil(net, () => first.node.state === NodeState.Active, 2_000);
    expect(first.node.state).toBe(NodeState.Active);
    await runUntil(net, () => false, 5_000);
    const second = tab(net.addHost(), hub);
    await second.node.start();
    await runUntil(net, () => allSeeAll([first, second]), 2_000);
    expect(allSeeAll([first, second])).toBe(true);
    expect(second.node.links()).toEqual([first.node.nodeId]);
  });

  it('outside browsers a node given no transport is refused, and broadcastChannel: false turns it off', () => {
    const identity = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(1));
    expect(() => new MeshNode({ identity, cluster: 'c' })).toThrow(/transport/);
    const net = new SimNetwork({ seed: 1 });
    const hub = new FakeBroadcastHub(net.scheduler);
    expect(
      () =>
        new MeshNode({
          identity,
          cluster: 'c',
          broadcastChannel: false,
          transport: [],
          env: net.addHost().env,
        }),
    ).toThrow(/transport/);
    expect(
      new MeshNode({ identity, cluster: 'c', broadcastChannel: { BroadcastChannel: hub.ctor() } }),
    ).toBeTruthy();
  });

  it('a mixed cluster links over BroadcastChannel within a profile and over the network otherwise, never both', async () => {
    const net = new SimNetwork({ seed: 16 });
    const profileA = new FakeBroadcastHub(net.scheduler);
    const profileB = new FakeBroadcastHub(net.scheduler);
    // The server node: network only (it is no browser context).
    const serverHost = net.addHost();
    const srv = tab(serverHost, undefined, { transport: serverHost.transport() });
    const tabs: Tab[] = [];
    for (const hub of [profileA, profileA, profileA, profileB, profileB]) {
      const host = net.addHost();
      tabs.push(tab(host, hub, { transport: host.transport() }));
    }
    await srv.node.start();
    void srv.node.join([]);
    for (const t of tabs) {
      await t.node.start();
      void t.node.join([serverHost.url]);
    }
    const all = [srv, ...tabs];
    await runUntil(net, () => allSeeAll(all), 20_000);
    expect(allSeeAll(all)).toBe(true);
    await runUntil(net, () => false, 10_000);
    for (const t of tabs) {
      for (const [peer, kind] of t.linkUps) {
        const other = tabs.find((o) => o.node.nodeId === peer);
        const shared = other !== undefined && other.hub === t.hub;
        expect(`${kind} (${shared ? 'same profile' : 'elsewhere'})`).toBe(
          shared ? 'broadcast-channel (same profile)' : 'memory (elsewhere)',
        );
      }
      expect(new Set(t.linkUps.map(([, kind]) => kind))).toEqual(new Set(['broadcast-channel', 'memory']));
      // Within its profile every tab is linked to every other (few enough for minLinks).
      const mates = tabs.filter((o) => o !== t && o.hub === t.hub).map((o) => o.node.nodeId);
      for (const m of mates) expect(t.node.links()).toContain(m);
    }
  });

  it('a tab linked over the network to a tab of its profile before hearing it on the channel moves the pair onto the channel', async () => {
    const net = new SimNetwork({ seed: 23 });
    // A slow channel: the network link to the seed is up before the seed's answer to hello.
    const hub = new FakeBroadcastHub(net.scheduler, 60);
    const hosts = [net.addHost(), net.addHost()];
    const [a, b] = hosts.map((host) => tab(host, hub, { transport: host.transport() }));
    await a!.node.start();
    void a!.node.join([]);
    net.runFor(500);
    await b!.node.start();
    void b!.node.join([hosts[0]!.url]);
    await runUntil(net, () => allSeeAll([a!, b!]), 5_000);
    expect(b!.linkUps[0]).toEqual([a!.node.nodeId, 'memory']);
    await runUntil(net, () => false, 5_000);
    // Link traffic between the two on the channel (frames of a link they hold there).
    const ids = [a!, b!].map((t) => fromHex(t.node.nodeId));
    let onChannel = 0;
    hub.tap((f) => {
      if (f[0] !== Kind.Stream && f[0] !== Kind.Datagram) return;
      const from = f.subarray(1, 17);
      if (ids.some((id) => equalBytes(id, from))) onChannel++;
    });
    await runUntil(net, () => false, 5_000);
    expect(onChannel).toBeGreaterThan(0);
    expect(a!.node.links()).toEqual([b!.node.nodeId]);
  });

  it('a crashed tab tells nobody: SWIM declares it Unreachable in every other tab', async () => {
    const { net, tabs } = await fiveTabs(17);
    const [dead, ...rest] = tabs;
    dead!.host.crash();
    const gone = () => rest.every((t) => t.node.member(dead!.node.nodeId)?.state === NodeState.Unreachable);
    const took = await runUntil(net, gone, 60_000);
    expect(gone()).toBe(true);
    expect(took).toBeLessThan(30_000);
    expect(
      rest.every((t) => rest.every((o) => t.node.member(o.node.nodeId)?.state === NodeState.Active)),
    ).toBe(true);
  });

  it('a background tab with throttled timers (1 s wake-ups) is not declared Unreachable', async () => {
    const { net, tabs } = await fiveTabs(18);
    const [background, ...rest] = tabs;
    background!.host.throttle(1_000);
    const states = new Set<string>();
    for (const t of rest)
      t.node.on('member-state', (e) => {
        if (e.nodeId === background!.node.nodeId) states.add(e.state);
      });
    await runUntil(net, () => false, 120_000);
    expect(states.has(NodeState.Unreachable)).toBe(false);
    expect(rest.every((t) => t.node.member(background!.node.nodeId)?.state === NodeState.Active)).toBe(true);
  });
});
