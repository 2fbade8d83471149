// The epidemic broadcast tree (lib/broadcast/tree.ts), driven directly with virtual time:
// one tree, its neighbours as names, and the frames it would send. Names follow Plumtree
// (Leitão, Pereira, Rodrigues 2007, §3: eagerPushPeers, lazyPushPeers, IHAVE, GRAFT, PRUNE).
import { describe, expect, it } from 'vitest';
import { HeldMessages } from '../../lib/broadcast/held.ts';
import { idKey, messageId, packIds, unpackIds } from '../../lib/broadcast/ids.ts';
import { BroadcastKind } from '../../lib/broadcast/metrics.ts';
import { BroadcastTree, type TreeMessage, type TreeOptions } from '../../lib/broadcast/tree.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import { toHex } from '../../lib/util/bytes.ts';

const App = BroadcastKind.App;
const id = (n: number) => messageId(new Uint8Array([n]));

function setup(peers: string[], opts: TreeOptions = {}, seed = 1) {
  const scheduler = new VirtualScheduler();
  const env = { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(seed) };
  const sent: Array<{ to: string; msg: TreeMessage }> = [];
  const tree = new BroadcastTree({ env, send: (to, msg) => sent.push({ to, msg }) }, opts);
  const held = new Set<string>();
  const resent: Array<{ peer: string; ids: string[] }> = [];
  tree.channel(App, {
    has: (key) => held.has(key),
    resend: (peer, ids) => resent.push({ peer, ids: ids.map(toHex) }),
  });
  for (const p of peers) tree.linkUp(p);
  /** Frames sent since the last call, as "type→peer" with ids where they carry some. */
  const frames = () =>
    sent.splice(0).map(({ to, msg }) => ({
      to,
      type: msg.type,
      ids: 'ids' in msg ? (unpackIds(msg.ids) ?? []).map(toHex) : [],
    }));
  return { tree, scheduler, held, resent, frames };
}

/** Runs a set-up tree 1 ms at a time until it sends something: how long that took, and what. */
function untilSent(t: ReturnType<typeof setup>, maxMs = 10_000) {
  let waited = 0;
  let out = t.frames();
  while (out.length === 0 && waited < maxMs) {
    t.scheduler.runFor(1);
    waited++;
    out = t.frames();
  }
  return { waited, out };
}

describe('eager push and lazy push', () => {
  it('a message delivered late is announced to the eager peers but its sender, not pushed, and no graft follows', () => {
    // A newcomer's claim that waited for the quota (Membership.#wait): its neighbours have it
    // from others by now; a push would be a duplicate pruning a tree edge.
    const { tree, scheduler, frames } = setup(['a', 'b', 'c', 'd'], { graftAfterMs: 100 });
    tree.onMessage('d', { type: 'prune' });
    tree.onMessage('b', { type: 'ihave', k: App, ids: packIds([id(7)]) });
    frames();
    tree.announceLate(App, id(7), 'a');
    scheduler.runFor(1_000);
    const out = frames();
    expect(out.filter((f) => f.type === 'ihave').map((f) => f.to)).toEqual(['b', 'c']);
    expect(out.flatMap((f) => f.ids)).toEqual([toHex(id(7)), toHex(id(7))]);
    // The announcement b made earlier is no longer missing here: no graft to b.
    expect(out.filter((f) => f.type === 'graft')).toEqual([]);
    expect(tree.metrics.delivered[App]).toBe(1);
    expect(tree.shape(App).lazy).toEqual(['d']);
  });

  it('a new link is eager: a message goes out in full on every link but the one it came from', () => {
    const { tree, frames } = setup(['a', 'b', 'c']);
    expect(tree.spread(App, id(1), 'a').sort()).toEqual(['b', 'c']);
    expect(tree.spread(App, id(2)).sort()).toEqual(['a', 'b', 'c']);
    expect(frames()).toEqual([]);
  });

  it('a message that came another way than the tree (edge: false) leaves the link as it is', () => {
    // Join news also arrives in probes' piggyback and exchanges: from a lazy peer, that says
    // nothing about the tree. Promoting the link on one end only would leave it eager there
    // and lazy on the other, pushing copies the other end never prunes.
    const { tree, scheduler, frames } = setup(['a', 'b']);
    tree.onMessage('b', { type: 'prune' });
    expect(tree.spread(App, id(1), 'b', 0, false)).toEqual(['a']);
    expect(tree.shape(App)).toEqual({ eager: ['a'], lazy: ['b'] });
    scheduler.runFor(1_000);
    expect(frames()).toEqual([]); // nor is b told of what it sent
    // Along the tree (a graft's answer), the same makes b an edge again.
    expect(tree.spread(App, id(2), 'b')).toEqual(['a']);
    expect(tree.shape(App).eager.sort()).toEqual(['a', 'b']);
  });

  it('lazy links get the ids only, batched per announcement interval', () => {
    const { tree, scheduler, frames } = setup(['a', 'b'], { announceIntervalMs: 200 });
    tree.onMessage('b', { type: 'prune' });
    expect(tree.shape(App)).toEqual({ eager: ['a'], lazy: ['b'] });
    expect(tree.spread(App, id(1), 'a')).toEqual([]);
    expect(tree.spread(App, id(2), 'a')).toEqual([]);
    scheduler.runFor(199);
    expect(frames()).toEqual([]);
    scheduler.runFor(1);
    expect(frames()).toEqual([{ to: 'b', type: 'ihave', ids: [toHex(id(1)), toHex(id(2))] }]);
    expect(tree.metrics.announcementsSent).toBe(2);
  });

  it('a lazy peer is not told of a message it sent us', () => {
    const { tree, scheduler, frames } = setup(['a', 'b']);
    tree.onMessage('b', { type: 'prune' });
    tree.spread(App, id(1), 'b');
    scheduler.runFor(1_000);
    expect(frames()).toEqual([]);
  });
  it('an announcement still queued for a peer that announced the message first is withdrawn', () => {
    // Both ends of a lazy link deliver a message within one announcement interval of each
    // other: the one that flushes second need not tell the first.
    const { tree, scheduler, held, frames } = setup(['a', 'b'], { announceIntervalMs: 200 });
    tree.onMessage('b', { type: 'prune' });
    tree.spread(App, id(1), 'a');
    tree.spread(App, id(2), 'a');
    held.add(idKey(App, id(1)));
    held.add(idKey(App, id(2)));
    scheduler.runFor(100);
    tree.onMessage('b', { type: 'ihave', k: App, ids: packIds([id(2), id(3)]) });
    scheduler.runFor(100);
    expect(frames()).toEqual([{ to: 'b', type: 'ihave', ids: [toHex(id(1))] }]);
    expect(tree.metrics.announcementsSent).toBe(1);
    expect(tree.metrics.announcementsWithdrawn).toBe(1);
  });

  it("a peer's announcement withdraws only what was queued for that peer", () => {
    // A hostile peer announcing every id it can guess makes this node tell it less, nobody else.
    const { tree, scheduler, held, frames } = setup(['a', 'b', 'c'], { announceIntervalMs: 200 });
    tree.onMessage('b', { type: 'prune' });
    tree.onMessage('c', { type: 'prune' });
    tree.spread(App, id(1), 'a');
    held.add(idKey(App, id(1)));
    tree.onMessage('b', { type: 'ihave', k: App, ids: packIds([id(1)]) });
    scheduler.runFor(200);
    expect(frames()).toEqual([{ to: 'c', type: 'ihave', ids: [toHex(id(1))] }]);
  });

  it('a message queued twice for one peer is announced once, and takes one place in its queue', () => {
    const { tree, scheduler, frames } = setup(['a', 'b'], { maxQueuedAnnouncements: 2 });
    tree.onMessage('b', { type: 'prune' });
    tree.spread(App, id(4), 'a');
    tree.announce('b', App, [id(4)]);
    tree.spread(App, id(5), 'a');
    scheduler.runFor(200);
    expect(frames()).toEqual([{ to: 'b', type: 'ihave', ids: [toHex(id(4)), toHex(id(5))] }]);
    expect(tree.metrics.announcementsDropped).toBe(0);
  });

  it('a lazy peer that turns eager before the announcements go out is still told of what it missed', () => {
    // Soak case 79: the origin of a broadcast grafted a membership claim from its one lazy
    // peer within the announcement interval; the graft made the link eager, the queued
    // announcement was dropped as 'eager now, it gets messages in full', and the message,
    // sent before in full only to the other peers, never reached that side of the mesh.
    for (const turn of ['graft received', 'graft sent'] as const) {
      const { tree, scheduler, held, frames } = setup(['a', 'b'], {
        announceIntervalMs: 200,
        graftAfterMs: 100,
      });
      tree.onMessage('b', { type: 'prune' });
      expect(tree.spread(App, id(1))).toEqual(['a']);
      if (turn === 'graft received') tree.onMessage('b', { type: 'graft', k: App, ids: packIds([id(9)]) });
      else tree.onMessage('b', { type: 'ihave', k: App, ids: packIds([id(9)]) });
      scheduler.runFor(150);
      expect(tree.isEager('b', App)).toBe(true);
      held.add(idKey(App, id(9)));
      scheduler.runFor(50);
      expect(frames().filter((f) => f.type === 'ihave')).toEqual([
        { to: 'b', type: 'ihave', ids: [toHex(id(1))] },
      ]);
    }
  });
});

describe('PRUNE: duplicates turn a link lazy, after a threshold', () => {
  it('each kind of broadcast has its own tree: copies of one kind prune that kind only, and so does a PRUNE', () => {
    const { tree, frames } = setup(['a', 'b'], { pruneAfter: 3 });
    const Entry = BroadcastKind.Entry;
    tree.channel(Entry, { has: () => false, resend: () => {} });
    for (let i = 0; i < 3; i++) tree.duplicate(App, 'b');
    expect(frames()).toEqual([{ to: 'b', type: 'prune', ids: [] }]);
    expect(tree.isEager('b', App)).toBe(false);
    expect(tree.isEager('b', Entry)).toBe(true);
    expect(tree.spread(Entry, id(1), 'a')).toEqual(['b']);
    // A PRUNE names its kind; one without a kind (an older peer's) prunes every kind.
    tree.onMessage('a', { type: 'prune', k: Entry });
    expect([tree.isEager('a', App), tree.isEager('a', Entry)]).toEqual([true, false]);
    tree.onMessage('a', { type: 'prune' });
    expect(tree.isEager('a', App)).toBe(false);
    tree.onMessage('b', { type: 'prune', k: 7 });
    expect(tree.isEager('b', Entry)).toBe(true);
    expect(tree.metrics.ignored).toBe(1);
  });

  it('the third duplicate in a row from one eager peer prunes the link, on both ends', () => {
    const { tree, frames } = setup(['a', 'b'], { pruneAfter: 3 });
    tree.duplicate(App, 'b');
    tree.duplicate(App, 'b');
    expect(tree.isEager('b', App)).toBe(true);
    expect(frames()).toEqual([]);
    tree.duplicate(App, 'b');
    expect(tree.isEager('b', App)).toBe(false);
    expect(frames()).toEqual([{ to: 'b', type: 'prune', ids: [] }]);
    expect(tree.metrics.duplicates[App]).toBe(3);
  });

  it('a first delivery from the peer in between resets the count: another sender’s path does not flap', () => {
    const { tree, frames } = setup(['a', 'b'], { pruneAfter: 3 });
    tree.duplicate(App, 'b');
    tree.duplicate(App, 'b');
    tree.spread(App, id(7), 'b');
    tree.duplicate(App, 'b');
    tree.duplicate(App, 'b');
    expect(tree.isEager('b', App)).toBe(true);
    expect(frames()).toEqual([]);
  });

  it('a batch of copies in one frame counts once towards pruning', () => {
    const { tree } = setup(['a', 'b'], { pruneAfter: 2 });
    tree.duplicate(App, 'b', 50);
    expect(tree.isEager('b', App)).toBe(true);
    expect(tree.metrics.duplicates[App]).toBe(50);
  });

  it('a PRUNE received makes the sender lazy here too', () => {
    const { tree } = setup(['a', 'b']);
    tree.onMessage('a', { type: 'prune' });
    expect(tree.shape(App)).toEqual({ eager: ['b'], lazy: ['a'] });
  });

  it('a copy in full from a peer held lazy prunes its end at once: a link eager on one end only does not push copies for ever', () => {
    // b's end of the link is eager while ours is lazy (ours was pruned; b's turned eager
    // on a first delivery of ours, which says nothing to this end): b sends everything in full.
    const { tree, frames } = setup(['a', 'b'], { pruneAfter: 3 });
    tree.onMessage('b', { type: 'prune' });
    expect(tree.isEager('b', App)).toBe(false);
    tree.duplicate(App, 'b');
    expect(frames()).toEqual([{ to: 'b', type: 'prune', ids: [] }]);
    expect(tree.shape(App)).toEqual({ eager: ['a'], lazy: ['b'] });
    expect(tree.metrics.prunesSent).toBe(1);
    // A copy from a peer with no link is only counted.
    tree.duplicate(App, 'z');
    expect(frames()).toEqual([]);
  });
});

describe('GRAFT: an announced message that the tree does not bring is asked for', () => {
  it('after graftAfterMs (to 1.5 times it, drawn) the announcer is asked, and becomes eager', () => {
    const waits = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const t = setup(['a', 'b'], { graftAfterMs: 500 }, seed);
      t.tree.onMessage('b', { type: 'prune' });
      t.tree.onMessage('b', { type: 'ihave', k: App, ids: packIds([id(1)]) });
      const { waited, out } = untilSent(t);
      expect(out).toEqual([{ to: 'b', type: 'graft', ids: [toHex(id(1))] }]);
      waits.add(waited);
      expect(waited).toBeGreaterThanOrEqual(500);
      expect(waited).toBeLessThanOrEqual(750);
      expect(t.tree.isEager('b', App)).toBe(true);
    }
    // Drawn, not fixed: the nodes of a part cut off from the tree do not all graft at once.
    expect(waits.size).toBeGreaterThan(10);
  });

  it('no graft when the message arrives along the tree in time', () => {
    const { tree, scheduler, frames } = setup(['a', 'b']);
    tree.onMessage('b', { type: 'prune' });
    tree.onMessage('b', { type: 'ihave', k: App, ids: packIds([id(1)]) });
    tree.spread(App, id(1), 'a');
    scheduler.runFor(5_000);
    expect(frames()).toEqual([]);
  });

  it('what this node holds already is not awaited', () => {
    const { tree, scheduler, held, frames } = setup(['a', 'b']);
    held.add(idKey(App, id(1)));
    tree.onMessage('b', { type: 'ihave', k: App, ids: packIds([id(1)]) });
    scheduler.runFor(5_000);
    expect(frames()).toEqual([]);
  });

  it('an unanswered graft goes to the next announcer after half the wait; then it is given up', () => {
    const t = setup(['a', 'b', 'c'], { graftAfterMs: 400 });
    const { tree, scheduler, frames } = t;
    tree.onMessage('b', { type: 'ihave', k: App, ids: packIds([id(1)]) });
    tree.onMessage('c', { type: 'ihave', k: App, ids: packIds([id(1)]) });
    expect(untilSent(t).out).toEqual([{ to: 'b', type: 'graft', ids: [toHex(id(1))] }]);
    scheduler.runFor(199);
    expect(frames()).toEqual([]);
    scheduler.runFor(1);
    expect(frames()).toEqual([{ to: 'c', type: 'graft', ids: [toHex(id(1))] }]);
    scheduler.runFor(10_000);
    expect(frames()).toEqual([]);
    expect(tree.metrics.missingDropped).toBe(1);
  });

  it('an announcer whose link went down is skipped', () => {
    const { tree, scheduler, frames } = setup(['a', 'b', 'c'], { graftAfterMs: 400 });
    tree.onMessage('b', { type: 'ihave', k: App, ids: packIds([id(1)]) });
    tree.onMessage('c', { type: 'ihave', k: App, ids: packIds([id(1)]) });
    tree.linkDown('b');
    scheduler.runFor(600);
    expect(frames()).toEqual([{ to: 'c', type: 'graft', ids: [toHex(id(1))] }]);
  });

  it('copies that answer a graft prune nothing: as many as were asked, within graftAfterMs', () => {
    // A part of a cut tree grafts the same messages at many nodes at once, so a graft's
    // answer brings copies of what came meanwhile another way.
    const graftFour = () => {
      const t = setup(['a', 'b'], { graftAfterMs: 500, pruneAfter: 3 });
      t.tree.onMessage('b', { type: 'prune' });
      t.tree.onMessage('b', { type: 'ihave', k: App, ids: packIds([id(1), id(2), id(3), id(4)]) });
      expect(untilSent(t).out.map((f) => f.type)).toEqual(['graft']);
      return t;
    };
    const { tree, scheduler, frames } = graftFour();
    tree.spread(App, id(1), 'b');
    for (let i = 0; i < 3; i++) tree.duplicate(App, 'b');
    scheduler.runFor(499);
    tree.duplicate(App, 'b');
    expect(frames()).toEqual([]);
    expect(tree.isEager('b', App)).toBe(true);
    expect(tree.metrics.duplicates[App]).toBe(4);
    // More copies than were asked for count again.
    for (let i = 0; i < 3; i++) tree.duplicate(App, 'b');
    expect(frames()).toEqual([{ to: 'b', type: 'prune', ids: [] }]);
    expect(tree.isEager('b', App)).toBe(false);
    // So do copies after graftAfterMs.
    const late = graftFour();
    late.scheduler.runFor(500);
    for (let i = 0; i < 3; i++) late.tree.duplicate(App, 'b');
    expect(late.frames()).toEqual([{ to: 'b', type: 'prune', ids: [] }]);
  });

  it('a graft received is served through the channel and makes the link eager', () => {
    const { tree, resent } = setup(['a', 'b']);
    tree.onMessage('b', { type: 'prune' });
    tree.onMessage('b', { type: 'graft', k: App, ids: packIds([id(1), id(2)]) });
    expect(resent).toEqual([{ peer: 'b', ids: [toHex(id(1)), toHex(id(2))] }]);
    expect(tree.isEager('b', App)).toBe(true);
  });
});

describe('hostile and excessive input is bounded', () => {
  it('frames from a peer with no link, of an unknown kind or with a torn id list are ignored and counted', () => {
    const { tree, scheduler, resent, frames } = setup(['a']);
    tree.onMessage('x', { type: 'graft', k: App, ids: packIds([id(1)]) });
    tree.onMessage('a', { type: 'graft', k: 9, ids: packIds([id(1)]) });
    tree.onMessage('a', { type: 'ihave', k: App, ids: new Uint8Array(7) });
    tree.onMessage('x', { type: 'prune' });
    scheduler.runFor(5_000);
    expect(resent).toEqual([]);
    expect(frames()).toEqual([]);
    expect(tree.metrics.ignored).toBe(4);
    expect(tree.isEager('a', App)).toBe(true);
  });

  it('grafts beyond a peer’s quota are refused, so one peer cannot make this node re-send without end', () => {
    const { tree, resent } = setup(['a'], { graftsPerSecond: 10 });
    const ids = Array.from({ length: 30 }, (_, i) => id(i));
    tree.onMessage('a', { type: 'graft', k: App, ids: packIds(ids) });
    tree.onMessage('a', { type: 'graft', k: App, ids: packIds(ids.slice(0, 20)) });
    expect(resent.map((r) => r.ids.length)).toEqual([30]);
    expect(tree.metrics.graftsRefused).toBe(20);
  });

  it('announcements queued for one lazy peer are bounded: the oldest are dropped', () => {
    const { tree, scheduler, frames } = setup(['a', 'b'], { maxQueuedAnnouncements: 4 });
    tree.onMessage('b', { type: 'prune' });
    for (let i = 0; i < 6; i++) tree.spread(App, id(i), 'a');
    scheduler.runFor(1_000);
    expect(frames()).toEqual([{ to: 'b', type: 'ihave', ids: [2, 3, 4, 5].map((i) => toHex(id(i))) }]);
    expect(tree.metrics.announcementsDropped).toBe(2);
  });

  it('ids awaited at once are bounded', () => {
    const { tree, scheduler, frames } = setup(['a'], { maxMissing: 12 });
    tree.onMessage('a', { type: 'ihave', k: App, ids: packIds([1, 2, 3, 4, 5].map(id)) });
    expect(tree.metrics.missingDropped).toBe(2);
    scheduler.runFor(750);
    expect(frames()).toEqual([{ to: 'a', type: 'graft', ids: [1, 2, 3].map((i) => toHex(id(i))) }]);
  });
  it('one peer’s announcements hold at most a quarter of the ids awaited: a liar’s cannot crowd out the others’', () => {
    const { tree, scheduler, frames } = setup(['liar', 'honest'], { maxMissing: 8 });
    const lies = Array.from({ length: 10 }, (_, i) => id(100 + i));
    tree.onMessage('liar', { type: 'ihave', k: App, ids: packIds(lies) });
    expect(tree.metrics.missingDropped).toBe(8);
    tree.onMessage('honest', { type: 'ihave', k: App, ids: packIds([id(1)]) });
    expect(tree.metrics.missingDropped).toBe(8);
    scheduler.runFor(750);
    const grafts = frames().filter((f) => f.type === 'graft');
    expect(grafts).toEqual([
      { to: 'liar', type: 'graft', ids: lies.slice(0, 2).map(toHex) },
      { to: 'honest', type: 'graft', ids: [toHex(id(1))] },
    ]);
    // Given up (nobody sends them: the liar's two and the honest one), the liar's share is free again.
    scheduler.runFor(2_000);
    expect(tree.metrics.missingDropped).toBe(8 + 3);
    frames();
    tree.onMessage('liar', { type: 'ihave', k: App, ids: packIds([id(120)]) });
    expect(tree.metrics.missingDropped).toBe(8 + 3);
    scheduler.runFor(750);
    expect(frames().filter((f) => f.type === 'graft')).toEqual([
      { to: 'liar', type: 'graft', ids: [toHex(id(120))] },
    ]);
  });
});

describe('DONTWANT (gossipsub v1.2 IDONTWANT) for large messages', () => {
  it('a large message is announced as unwanted to the eager peers it is about to be sent to', () => {
    const { tree, frames } = setup(['a', 'b', 'c'], { dontWantBytes: 1_000 });
    tree.spread(App, id(1), 'a', 999);
    expect(frames()).toEqual([]);
    const targets = tree.spread(App, id(2), 'a', 1_000);
    expect(frames()).toEqual(targets.map((to) => ({ to, type: 'dontwant', ids: [toHex(id(2))] })));
  });

  it('a peer that said it does not want a message is not sent it', () => {
    const { tree } = setup(['a', 'b', 'c']);
    tree.onMessage('b', { type: 'dontwant', k: App, ids: packIds([id(1)]) });
    expect(tree.spread(App, id(1), 'a')).toEqual(['c']);
    expect(tree.spread(App, id(2), 'a').sort()).toEqual(['b', 'c']);
  });
});

describe('held messages answer grafts while they are fresh', () => {
  it('holds by count and by age', () => {
    const scheduler = new VirtualScheduler();
    const clock = new VirtualClock(scheduler);
    const sent: string[] = [];
    const held = new HeldMessages<string>({
      kind: App,
      max: 2,
      maxAgeMs: 1_000,
      now: () => clock.now(),
      send: (peer, m) => sent.push(`${peer}:${m}`),
    });
    held.hold(id(1), 'one');
    held.hold(id(2), 'two');
    held.hold(id(3), 'three');
    expect([1, 2, 3].map((k) => held.has(idKey(App, id(k))))).toEqual([false, true, true]);
    held.resend('p', [id(1), id(2)]);
    expect(sent).toEqual(['p:two']);
    scheduler.runFor(1_001);
    expect(held.has(idKey(App, id(3)))).toBe(false);
  });
});

describe('a new link hears of recent messages', () => {
  function withHeld(opts: TreeOptions = {}) {
    const scheduler = new VirtualScheduler();
    const env = { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(1) };
    const sent: Array<{ to: string; msg: TreeMessage }> = [];
    const tree = new BroadcastTree({ env, send: (to, msg) => sent.push({ to, msg }) }, opts);
    const held = new HeldMessages<string>({
      kind: App,
      max: 100,
      maxAgeMs: 60_000,
      now: () => env.clock.now(),
      send: () => {},
    });
    tree.channel(App, held);
    const announced = (to: string) =>
      sent
        .splice(0)
        .filter((s) => s.to === to && s.msg.type === 'ihave')
        .flatMap((s) => ('ids' in s.msg ? (unpackIds(s.msg.ids) ?? []).map(toHex) : []));
    return { tree, scheduler, held, announced };
  }

  it('so is a linked peer that was unheard a while (announceRecent), and nothing goes to a peer with no link', () => {
    // Soak seed 215: a node frozen with its links intact missed a crash's declarations; its
    // links never went down, so no link-up told it of them.
    const t = withHeld();
    t.tree.linkUp('a');
    t.announced('a');
    t.held.hold(id(1), 'one');
    t.tree.announceRecent('a');
    expect(t.announced('a')).toEqual([toHex(id(1))]);
    t.tree.announceRecent('stranger');
    expect(t.announced('stranger')).toEqual([]);
    // Unheard longer than the link-up window: the window stretches to cover it.
    t.scheduler.runFor(15_000);
    t.tree.announceRecent('a');
    expect(t.announced('a')).toEqual([]);
    t.tree.announceRecent('a', 20_000);
    expect(t.announced('a')).toEqual([toHex(id(1))]);
  });

  it('it is announced what this node delivered within recentOnLinkUpMs, newest first, at most recentOnLinkUp', () => {
    // A peer that changed links while a broadcast passed got it on neither its old links nor
    // its new ones (seed sweep: a node of a lossy sparse mesh missed an application broadcast).
    const t = withHeld();
    t.tree.linkUp('a');
    t.held.hold(id(1), 'one');
    t.scheduler.runFor(6_000);
    t.held.hold(id(2), 'two');
    t.held.hold(id(3), 'three');
    t.scheduler.runFor(5_000); // one is 11 s old now
    t.tree.linkUp('b');
    expect(t.announced('b')).toEqual([toHex(id(3)), toHex(id(2))]);
    expect(t.tree.metrics.announcementsSent).toBe(2);

    const few = withHeld({ recentOnLinkUp: 1 });
    few.held.hold(id(1), 'one');
    few.held.hold(id(2), 'two');
    few.tree.linkUp('b');
    expect(few.announced('b')).toEqual([toHex(id(2))]);
    const off = withHeld({ recentOnLinkUp: 0 });
    off.held.hold(id(1), 'one');
    off.tree.linkUp('b');
    expect(off.announced('b')).toEqual([]);
  });

  it('nothing is announced when nothing is recent; the peer grafts only what it lacks', () => {
    const quiet = withHeld();
    quiet.held.hold(id(1), 'one');
    quiet.scheduler.runFor(10_001);
    quiet.tree.linkUp('b');
    expect(quiet.announced('b')).toEqual([]);

    const { tree, scheduler, held, frames } = setup(['x'], { graftAfterMs: 500 });
    held.add(idKey(App, id(1)));
    tree.onMessage('x', { type: 'ihave', k: App, ids: packIds([id(1), id(2)]) });
    scheduler.runFor(750);
    expect(frames()).toEqual([{ to: 'x', type: 'graft', ids: [toHex(id(2))] }]);
  });
});
