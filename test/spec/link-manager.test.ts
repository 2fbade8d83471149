// The node's bounded, self-healing link set (lib/node/link-manager.ts) and its dial policy
// (dial-policy.ts), driven directly: fake links and a fake transport, virtual time, seeded
// randomness. Names follow HyParView (active view, eviction, refill) and the dialling rules
// of docs/SECURITY.md.
import { describe, expect, it } from 'vitest';
import { DEFAULT_DIAL_POLICY } from '../../lib/node/dial-policy.ts';
import { type DialTarget, LinkManager, type LinkPolicy } from '../../lib/node/link-manager.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import type { Transport } from '../../lib/transport/types.ts';
import { FakeLink } from '../support/fake-link.ts';

const SELF = '8'.repeat(32);
/** Node ids below and above this node's. */
const low = (k: number) => `0${k.toString(16).padStart(31, '0')}`;
const high = (k: number) => `f${k.toString(16).padStart(31, '0')}`;

function setup(policy: Partial<LinkPolicy> = {}, selfId = SELF) {
  const scheduler = new VirtualScheduler();
  const env = { clock: new VirtualClock(scheduler), scheduler, random: new SeededRandom(7) };
  const dialled: string[] = [];
  const transport = {
    name: 'fake',
    canDial: (a: string) => a.startsWith('fake:'),
    connect: (a: string) => dialled.push(a),
    start() {},
    close() {},
    localAddresses: () => [],
  } as unknown as Transport;
  const up: Array<[string, boolean]> = [];
  const down: Array<[string, string, boolean]> = [];
  const frames: string[] = [];
  /** Link-ups, frames and link-downs, in the order the cores saw them. */
  const order: string[] = [];
  const keepalives: string[] = [];
  const byes: string[] = [];
  const unlinks: string[] = [];
  const newcomers = new Set<string>();
  const degree = new Map<string, number>();
  const links = new LinkManager({
    env,
    selfId,
    transports: [transport],
    policy: { maxLinks: 4, minLinks: 2, idleTimeoutMs: 30_000, ...policy },
    dialing: DEFAULT_DIAL_POLICY,
    onUp: (link, transient) => {
      up.push([link.peer.nodeId, transient]);
      order.push('up');
    },
    onDown: (id, reason, expected) => {
      down.push([id, reason, expected]);
      order.push('down');
    },
    onFrame: (id) => {
      frames.push(id);
      order.push('frame');
    },
    keepalive: (link) => keepalives.push(link.peer.nodeId),
    bye: (link) => byes.push(link.peer.nodeId),
    unlink: (link) => unlinks.push(link.peer.nodeId),
    isNewcomer: (id) => newcomers.has(id),
    peerDegree: (id) => degree.get(id),
  });
  /** Accepts a link from `id` (dialled by the peer unless `initiator`; `boot`: the peer's run). */
  const accept = (id: string, initiator = false, boot?: string) => {
    const link = new FakeLink(id, { initiator, ...(boot ? { boot } : {}) });
    links.accept(link);
    return link;
  };
  const target = (k: number): DialTarget => ({ nodeId: high(k), addrs: [`fake:${k}`], incarnation: 1 });
  return {
    scheduler,
    links,
    dialled,
    up,
    down,
    frames,
    order,
    keepalives,
    byes,
    unlinks,
    newcomers,
    degree,
    accept,
    target,
  };
}

describe('LinkManager: staying within min/max links', () => {
  it('fills up to minLinks from random candidates, counting dials in progress', () => {
    const t = setup({ maxLinks: 6, minLinks: 3 });
    const candidates = [1, 2, 3, 4, 5].map(t.target);
    t.links.fill([...candidates, { nodeId: SELF, addrs: ['fake:self'] }]);
    expect(t.dialled).toHaveLength(3);
    expect(t.dialled).not.toContain('fake:self');
    expect(t.links.wantsMore()).toBe(false);
    t.links.fill(candidates);
    expect(t.dialled).toHaveLength(3);
    // One dial fails: the deficit is one, and the failed endpoint is backing off.
    t.links.dialEnded(t.dialled[0]!, 'failed');
    expect(t.links.wantsMore()).toBe(true);
    t.links.fill(candidates);
    expect(t.dialled).toHaveLength(4);
    expect(t.dialled.slice(0, 3)).not.toContain(t.dialled[3]);
  });

  it('the link manager evicts and refills to stay within min/max links', () => {
    const t = setup({ maxLinks: 4, minLinks: 2 });
    const peers = [1, 2, 3, 4].map(high);
    const links = peers.map((id) => t.accept(id));
    expect(t.links.size).toBe(4);
    t.scheduler.runFor(1_000);
    // Only one neighbour keeps more than minLinks: it makes room for a known member.
    t.degree.set(peers[2]!, 5);
    for (const p of [peers[0]!, peers[1]!, peers[3]!]) t.degree.set(p, 2);
    t.accept(high(9));
    expect(t.links.size).toBe(4);
    expect(t.links.peers()).not.toContain(peers[2]);
    expect(t.down).toEqual([[peers[2], 'evicted', true]]);
    // Asked to let go too; closed once its goodbye (its answer) arrived.
    expect(t.unlinks).toEqual([peers[2]]);
    expect(links[2]!.closed).toBe(false);
    t.links.farewell(links[2]!);
    expect(links[2]!.closeReason).toBe('making room for a new link');
    expect(t.up.map(([id]) => id)).toContain(high(9));
    // Neighbours crash: below minLinks the manager dials again.
    links[0]!.close('gone');
    links[1]!.close('gone');
    links[3]!.close('gone');
    expect(t.links.size).toBe(1);
    expect(t.links.wantsMore()).toBe(true);
    t.links.fill([5, 6, 7].map(t.target));
    expect(t.dialled).toHaveLength(1);
  });

  it('frames the peer sent on a link this node evicted still arrive until its goodbye (it had not heard ours yet)', () => {
    const t = setup({ maxLinks: 2, minLinks: 1 });
    const [kept, evicted] = [1, 2].map((n) => t.accept(high(n))) as [FakeLink, FakeLink];
    t.scheduler.runFor(1_000);
    t.degree.set(high(1), 1);
    t.degree.set(high(2), 5);
    t.accept(high(3));
    expect(t.down).toEqual([[high(2), 'evicted', true]]);
    // Our side has nothing left to send, yet the link stays open: the peer may be sending.
    expect(evicted.bufferedAmount).toBe(0);
    expect(evicted.closed).toBe(false);
    t.frames.splice(0);
    evicted.deliver(new Uint8Array([1]));
    kept.deliver(new Uint8Array([2]));
    expect(t.frames).toEqual([high(2), high(1)]);
    // Its goodbye is its last word on that link.
    t.links.farewell(evicted);
    evicted.deliver(new Uint8Array([3]));
    expect(t.frames).toEqual([high(2), high(1)]);
    expect(evicted.closed).toBe(true);
  });

  it('a peer that never answers the let-go (an older version) gets our goodbye 5 s later, then the close', () => {
    const t = setup({ maxLinks: 1, minLinks: 1 });
    const old = t.accept(high(1));
    t.scheduler.runFor(1_000);
    t.degree.set(high(1), 5);
    t.accept(high(2));
    expect(t.unlinks).toEqual([high(1)]);
    t.scheduler.runFor(4_999);
    expect([old.closed, t.byes]).toEqual([false, []]);
    old.deliver(new Uint8Array([1]));
    expect(t.frames).toEqual([high(1)]);
    t.scheduler.runFor(1);
    expect(t.byes).toEqual([high(1)]);
    expect(old.closeReason).toBe('making room for a new link');
    expect(t.scheduler.pending).toBe(0);
  });

  it('a full node refuses a known member when no neighbour has links to spare', () => {
    const t = setup({ maxLinks: 2, minLinks: 1 });
    t.accept(high(1));
    t.accept(high(2));
    t.scheduler.runFor(1_000);
    t.degree.set(high(1), 1);
    const refused = t.accept(high(3));
    expect(t.unlinks).toEqual([high(3)]);
    expect(t.links.get(high(3))).toBeUndefined();
    // Its end may have come up first: what it sent before our let-go reached it still counts.
    refused.deliver(new Uint8Array([1]));
    expect(t.frames).toEqual([high(3)]);
    t.links.farewell(refused);
    refused.deliver(new Uint8Array([2]));
    expect(t.frames).toEqual([high(3)]);
    expect(refused.closeReason).toBe('link budget full');
    expect(t.up.map(([id]) => id)).toEqual([high(1), high(2)]);
  });

  it('keys that are not members never take a member’s link: with the transient slots full, a newcomer is refused, not given room', () => {
    const t = setup({ maxLinks: 2, minLinks: 1 });
    t.accept(high(1));
    t.accept(high(2));
    t.scheduler.runFor(1_000);
    t.degree.set(high(1), 9).set(high(2), 9); // both neighbours have links to spare
    // 60 throwaway keys: 16 get transient slots (MIN_TRANSIENT), the rest are refused.
    for (let k = 10; k < 70; k++) {
      t.newcomers.add(high(k));
      t.accept(high(k));
    }
    expect(t.unlinks).toHaveLength(60 - 16);
    expect(t.links.peers().sort()).toEqual([high(1), high(2)].sort());
    expect(t.down).toEqual([]);
    // A member (known here) still gets room where a neighbour has links to spare.
    t.accept(high(3));
    expect(t.links.peers()).toContain(high(3));
    expect(t.down.map(([, reason]) => reason)).toEqual(['evicted']);
  });

  it('a link younger than a second is not evicted', () => {
    const t = setup({ maxLinks: 1, minLinks: 1 });
    t.accept(high(1));
    t.degree.set(high(1), 9);
    t.scheduler.runFor(999);
    t.accept(high(2));
    expect(t.unlinks).toEqual([high(2)]);
    expect(t.links.peers()).toEqual([high(1)]);
    t.scheduler.runFor(1);
    t.accept(high(3));
    expect(t.unlinks).toEqual([high(2), high(1)]);
    expect(t.links.peers()).toEqual([high(3)]);
  });

  it('a full node gives a newcomer a transient link, let go after its join exchange or after 5 s', () => {
    const t = setup({ maxLinks: 1, minLinks: 1 });
    t.accept(high(1));
    t.newcomers.add(high(2)).add(high(3));
    const joining = t.accept(high(2));
    const lingering = t.accept(high(3));
    expect(t.up.slice(1)).toEqual([
      [high(2), true],
      [high(3), true],
    ]);
    expect(t.links.size).toBe(1);
    expect(t.links.isTransient(high(2))).toBe(true);
    t.links.release(high(2));
    expect(t.unlinks).toEqual([high(2)]);
    expect(t.links.isTransient(high(2))).toBe(false);
    t.links.farewell(joining);
    expect(joining.closeReason).toBe('join exchange done');
    t.scheduler.runFor(4_999);
    expect(t.unlinks).toEqual([high(2)]);
    t.scheduler.runFor(1);
    expect(t.unlinks).toEqual([high(2), high(3)]);
    // It never answers: our goodbye and the close come 5 s later.
    t.scheduler.runFor(5_000);
    expect(lingering.closed).toBe(true);
    expect(t.byes).toEqual([high(3)]);
    // Transient links are not members' links: no link-down for them.
    expect(t.down).toEqual([]);
  });

  it('a transient link whose peer became a member meanwhile (back from down) stays as a regular link after 5 s, in place of a neighbour with links to spare', () => {
    const t = setup({ maxLinks: 2, minLinks: 1 });
    t.accept(high(1));
    t.accept(high(2));
    t.scheduler.runFor(1_000);
    // high(3) is held down here when it dials; high(4) stays unknown.
    t.newcomers.add(high(3)).add(high(4));
    const back = t.accept(high(3));
    t.accept(high(4));
    expect(t.links.isTransient(high(3))).toBe(true);
    t.newcomers.delete(high(3)); // its refutation arrived
    t.degree.set(high(1), 1).set(high(2), 3); // only high(2) has links to spare
    t.scheduler.runFor(5_000);
    expect(t.links.isTransient(high(3))).toBe(false);
    expect(t.links.get(high(3))).toBe(back);
    expect(t.links.peers().sort()).toEqual([high(1), high(3)].sort());
    expect(t.up.slice(2)).toEqual([
      [high(3), true],
      [high(4), true],
      [high(3), false],
    ]);
    expect(t.down).toEqual([[high(2), 'evicted', true]]);
    // The newcomer's link is let go as before; the kept one's close is a member's link-down.
    expect(t.unlinks).toEqual([high(2), high(4)]);
    back.close('connection reset');
    expect(t.down.at(-1)).toEqual([high(3), 'connection reset', false]);
  });

  it('a transient link whose peer became a member is still let go after 5 s when no neighbour has links to spare', () => {
    const t = setup({ maxLinks: 1, minLinks: 1 });
    t.accept(high(1));
    t.scheduler.runFor(1_000);
    t.newcomers.add(high(2));
    t.accept(high(2));
    t.newcomers.delete(high(2));
    t.degree.set(high(1), 1);
    t.scheduler.runFor(5_000);
    expect(t.unlinks).toEqual([high(2)]);
    expect(t.links.peers()).toEqual([high(1)]);
    expect(t.down).toEqual([]);
  });
});

describe('LinkManager: one link per peer, closes and idleness', () => {
  it('two links to one peer: the one dialled by the lower node id stays, the other is retired', async () => {
    // We (8…) dialled a higher id: ours stays, theirs is retired (goodbye, closed once the
    // peer's goodbye arrives on it).
    const t = setup();
    const ours = t.accept(high(1), true);
    const theirs = t.accept(high(1), false);
    expect(t.byes).toEqual([high(1)]);
    expect(theirs.closed).toBe(false);
    t.links.farewell(theirs);
    expect(theirs.closeReason).toBe('duplicate link');
    expect(ours.closed).toBe(false);
    expect(t.links.get(high(1))).toBe(ours);
    // A lower id dialled us: its link replaces ours, with no link-down or second link-up.
    const mine = t.accept(low(1), true);
    mine.bufferedAmount = 10;
    const lower = t.accept(low(1), false);
    expect(t.byes).toEqual([high(1), low(1)]);
    expect(lower.closed).toBe(false);
    expect(t.links.get(low(1))).toBe(lower);
    expect(t.up).toEqual([
      [high(1), false],
      [low(1), false],
    ]);
    expect(t.down).toEqual([]);
    // Frames the peer sent on the link let go before it switched still arrive; once its
    // goodbye came, the link closes when our side drained.
    mine.deliver(new Uint8Array([1]));
    lower.deliver(new Uint8Array([2]));
    expect(t.frames).toEqual([low(1), low(1)]);
    t.links.farewell(mine);
    mine.deliver(new Uint8Array([3]));
    expect(t.frames).toHaveLength(2);
    expect(mine.closed).toBe(false);
    mine.bufferedAmount = 0;
    await Promise.resolve(); // drained() settles on a microtask
    expect(mine.closeReason).toBe('duplicate link');
    expect(t.down).toEqual([]);
  });

  it('what a link held before it was accepted (frames, even its close) reaches the cores after its link-up', () => {
    // A real link holds what the peer sent before its handlers are set (the peer's end came
    // up first and announced its recent broadcasts at once); delivered before the link-up,
    // those frames reached a broadcast tree that did not know the peer and were dropped
    // (soak case 79: an application broadcast never reached two nodes).
    class HoldingLink extends FakeLink {
      readonly early: Array<Uint8Array | 'close'> = [];
      override setHandlers(handlers: Parameters<FakeLink['setHandlers']>[0]): void {
        super.setHandlers(handlers);
        for (const f of this.early.splice(0)) {
          if (f === 'close') this.close('peer went');
          else handlers.message(f);
        }
      }
    }
    const t = setup();
    const link = new HoldingLink(high(1));
    link.early.push(new Uint8Array([1]), new Uint8Array([2]));
    t.links.accept(link);
    expect(t.order).toEqual(['up', 'frame', 'frame']);
    const gone = new HoldingLink(high(2));
    gone.early.push(new Uint8Array([3]), 'close');
    t.links.accept(gone);
    expect(t.order.slice(3)).toEqual(['up', 'frame', 'down']);
    expect(t.links.get(high(2))).toBeUndefined();
  });

  it('when one side dialled both links, the newer one stays (a restarted peer redials); the old one closes 5 s later without the peer’s goodbye', () => {
    const t = setup();
    const old = t.accept(high(1), false);
    const fresh = t.accept(high(1), false);
    expect(t.links.get(high(1))).toBe(fresh);
    t.scheduler.runFor(4_999);
    expect(old.closed).toBe(false);
    t.scheduler.runFor(1);
    expect(old.closeReason).toBe('duplicate link');
    expect(fresh.closed).toBe(false);
    expect(t.down).toEqual([]);
  });

  it('a link from a new run of the peer (it restarted) replaces one to its old run, whoever dialled', () => {
    // We (8…) dialled a higher id: by the lower-id rule our link would stay, but it reaches a
    // process that is gone, and the restarted peer holds only its new link.
    const t = setup();
    const stale = t.accept(high(1), true, 'aaaa');
    const fresh = t.accept(high(1), false, 'bbbb');
    expect(t.links.get(high(1))).toBe(fresh);
    expect(fresh.closed).toBe(false);
    t.scheduler.runFor(5_000);
    expect(stale.closeReason).toBe('duplicate link');
    expect(t.down).toEqual([]);
    // The same run on both links (both ends dialled at once): the lower-id rule decides.
    const ours = t.accept(high(2), true, 'cccc');
    const theirs = t.accept(high(2), false, 'cccc');
    expect(t.links.get(high(2))).toBe(ours);
    expect(theirs.closed).toBe(false);
    // A peer that states no run (an older version) is judged by the rule as before.
    const mine = t.accept(high(3), true, 'dddd');
    t.accept(high(3), false);
    expect(t.links.get(high(3))).toBe(mine);
  });

  it('a peer redialling in a loop holds at most one retiring link here, not one per handshake', () => {
    const t = setup();
    const links = Array.from({ length: 20 }, () => t.accept(high(1), false));
    expect(t.links.get(high(1))).toBe(links[19]);
    // Each new link retired the one before it, and closed the one retiring before that.
    expect(links.slice(0, 18).every((l) => l.closeReason === 'duplicate link')).toBe(true);
    expect(links[18]!.closed).toBe(false);
    t.scheduler.runFor(5_000);
    expect(links[18]!.closeReason).toBe('duplicate link');
    expect(links[19]!.closed).toBe(false);
  });

  it('a peer stating a new run on every redial still holds at most one retiring link here', () => {
    // Whoever dialled, a new run wins: a hostile peer can make each link replace the last,
    // as any peer redialling can, and no more.
    const t = setup();
    const links = Array.from({ length: 20 }, (_, k) => t.accept(high(1), k % 2 === 0, `run${k}`));
    expect(t.links.get(high(1))).toBe(links[19]);
    expect(links.slice(0, 18).every((l) => l.closeReason === 'duplicate link')).toBe(true);
    expect(links[18]!.closed).toBe(false);
    expect(t.up).toEqual([[high(1), false]]);
    expect(t.down).toEqual([]);
  });

  it('a link replaced by a duplicate loses nothing: the ends switch at different times, each takes what the other sent on the old link', () => {
    // Two managers, a (SELF) and b, driven by hand: what one end sends on a link, the other
    // end receives in order (the fake links record it; the test delivers it).
    const b = setup({}, high(1));
    const a = setup();
    const oldA = new FakeLink(high(1), { initiator: true }); // a dialled the first link
    const oldB = new FakeLink(SELF);
    a.links.accept(oldA);
    b.links.accept(oldB);
    // a dials again (a seed re-contact): the newer link stays on both ends. b has it first:
    // it retires the old one (its goodbye on it) and sends on the new one from then on.
    const newA = new FakeLink(high(1), { initiator: true });
    const newB = new FakeLink(SELF);
    b.links.accept(newB);
    expect(b.links.get(SELF)).toBe(newB);
    expect(b.byes).toEqual([SELF]);
    // a's request, sent on the old link before a switched, still reaches b.
    oldB.deliver(new Uint8Array([1]));
    expect(b.frames).toEqual([SELF]);
    expect(oldB.closed).toBe(false);
    // b's goodbye reaches a on the old link, then a has the new one: a closes the old one
    // (after its own goodbye: all b sent on it has arrived).
    a.links.farewell(oldA);
    a.links.accept(newA);
    expect(a.links.get(high(1))).toBe(newA);
    expect(a.byes).toEqual([high(1)]);
    expect(oldA.closeReason).toBe('duplicate link');
    // a's goodbye reaches b: nothing more comes on the old link, b closes it too.
    b.links.farewell(oldB);
    expect(oldB.closeReason).toBe('duplicate link');
    expect([a.down, b.down]).toEqual([[], []]);
    expect([a.up, b.up]).toEqual([[[high(1), false]], [[SELF, false]]]);
  });

  it('a link let go (evicted) loses nothing: the peer answers with its goodbye, sends nothing more on it, and both ends close', () => {
    // a evicts its link to b; what one end sends on it, the other receives in order.
    const a = setup({ maxLinks: 1, minLinks: 1 });
    const b = setup({}, high(1));
    const atA = a.accept(high(1));
    const atB = new FakeLink(SELF, { initiator: true });
    b.links.accept(atB);
    a.scheduler.runFor(1_000);
    a.degree.set(high(1), 5);
    a.accept(high(2));
    expect(a.unlinks).toEqual([high(1)]);
    // b relayed a request on the link before a's let-go reached it: a takes it.
    atA.deliver(new Uint8Array([1]));
    expect(a.frames).toEqual([high(1)]);
    // a's let-go reaches b: the link is down there at once (on purpose), b answers and closes.
    b.links.unlinked(atB);
    expect(b.links.get(SELF)).toBeUndefined();
    expect(b.down).toEqual([[SELF, 'let go by peer', true]]);
    expect(b.byes).toEqual([SELF]);
    expect(atB.closeReason).toBe('let go by peer');
    // b's answer reaches a: all b sent has arrived; a closes.
    expect(atA.closed).toBe(false);
    a.links.farewell(atA);
    expect(atA.closeReason).toBe('making room for a new link');
    expect(a.down).toEqual([[high(1), 'evicted', true]]);
    expect([a.scheduler.pending, b.scheduler.pending]).toEqual([0, 0]);
  });

  it('both ends letting one link go at once: each let-go is the answer to the other', () => {
    const a = setup({ maxLinks: 1, minLinks: 1 });
    const b = setup({ maxLinks: 1, minLinks: 1 }, high(1));
    const atA = a.accept(high(1));
    const atB = b.accept(SELF, true);
    a.scheduler.runFor(1_000);
    b.scheduler.runFor(1_000);
    a.degree.set(high(1), 5);
    b.degree.set(SELF, 5);
    a.accept(high(2));
    b.accept(high(3));
    expect([a.unlinks, b.unlinks]).toEqual([[high(1)], [SELF]]);
    a.links.unlinked(atA);
    b.links.unlinked(atB);
    expect([atA.closeReason, atB.closeReason]).toEqual([
      'making room for a new link',
      'making room for a new link',
    ]);
    // Neither answered with a goodbye, and neither had a second link-down.
    expect([a.byes, b.byes]).toEqual([[], []]);
    expect([a.down, b.down]).toEqual([[[high(1), 'evicted', true]], [[SELF, 'evicted', true]]]);
  });

  it('a let-go held on a new link (its end finished first and refused it) arrives as its handlers are set: link-up, then link-down, nothing left linked', () => {
    const t = setup();
    // The transport holds frames until the manager sets the link's handlers, then hands them
    // over at once: here the peer's let-go, which its boundary passes to unlinked().
    class HeldLetGo extends FakeLink {
      override setHandlers(handlers: Parameters<FakeLink['setHandlers']>[0]): void {
        super.setHandlers(handlers);
        t.links.unlinked(this);
      }
    }
    const link = new HeldLetGo(high(1));
    t.links.accept(link);
    expect(t.up).toEqual([[high(1), false]]);
    expect(t.down).toEqual([[high(1), 'let go by peer', true]]);
    expect(t.links.get(high(1))).toBeUndefined();
    expect(t.byes).toEqual([high(1)]);
    expect(link.closeReason).toBe('let go by peer');
  });

  it('a let-go on a link retired as a duplicate counts as the peer’s goodbye on it', () => {
    const t = setup();
    const first = t.accept(high(1), true);
    const second = t.accept(high(1), true); // the newer link of the same dialler stays
    expect(t.links.get(high(1))).toBe(second);
    expect(first.closed).toBe(false);
    t.links.unlinked(first);
    expect(first.closeReason).toBe('duplicate link');
    expect(t.links.get(high(1))).toBe(second);
    expect(t.down).toEqual([]);
  });

  it('a close after the peer’s goodbye is expected; a silent close may be a crash', () => {
    const t = setup();
    const polite = t.accept(high(1));
    const silent = t.accept(high(2));
    t.links.farewell(polite);
    polite.close('closed by peer');
    silent.close('closed by peer');
    expect(t.down).toEqual([
      [high(1), 'closed by peer', true],
      [high(2), 'closed by peer', false],
    ]);
  });

  it('closing on purpose says goodbye and closes when the send buffer drained (its drain event, no polling), at most 5 s later', async () => {
    const t = setup();
    const draining = t.accept(high(1));
    const stuck = t.accept(high(2));
    draining.bufferedAmount = 1_000;
    stuck.bufferedAmount = 1_000;
    t.links.close(high(1), 'bye');
    t.links.close(high(2), 'bye');
    expect(t.byes).toEqual([high(1), high(2)]);
    expect(t.down).toEqual([
      [high(1), 'bye', true],
      [high(2), 'bye', true],
    ]);
    t.scheduler.runFor(200);
    expect(draining.closed).toBe(false);
    // One timer per gentle close (its 5 s bound), none for watching the buffer.
    expect(t.scheduler.pending).toBe(2);
    draining.bufferedAmount = 0;
    await Promise.resolve(); // drained() settles on a microtask
    expect(draining.closed).toBe(true);
    expect(t.scheduler.pending).toBe(1);
    t.scheduler.runFor(4_750);
    expect(stuck.closed).toBe(false);
    t.scheduler.runFor(50);
    expect(stuck.closed).toBe(true);
    expect(t.scheduler.pending).toBe(0);
  });

  it('a link that receives nothing for idleTimeoutMs is torn down; a quiet one gets a keepalive at a third of it', () => {
    const t = setup({ idleTimeoutMs: 30_000 });
    const dead = t.accept(high(1));
    const alive = t.accept(high(2));
    t.scheduler.runFor(10_001);
    t.links.checkIdle();
    expect(t.keepalives.sort()).toEqual([high(1), high(2)]);
    t.links.checkIdle();
    expect(t.keepalives).toHaveLength(2);
    alive.deliver(new Uint8Array([1]), 'datagram');
    t.scheduler.runFor(10_000);
    alive.deliver(new Uint8Array([2]), 'datagram');
    t.scheduler.runUntil(30_000);
    t.links.checkIdle();
    expect(dead.closed).toBe(false);
    t.scheduler.runFor(1);
    t.links.checkIdle();
    expect(dead.closeReason).toBe('idle: no traffic received');
    expect(alive.closed).toBe(false);
    expect(t.down).toEqual([[high(1), 'idle: no traffic received', false]]);
  });

  it('after closeAll no link is accepted and nothing is dialled', () => {
    const t = setup();
    const a = t.accept(high(1));
    t.links.closeAll('shutdown');
    expect(a.closed).toBe(true);
    expect(t.accept(high(2)).closeReason).toBe('node closed');
    expect(t.links.dialMember(t.target(3))).toBe(false);
    expect(t.dialled).toEqual([]);
  });
});

describe('LinkManager: dialling', () => {
  it('an address from claims is dialled one at a time, with backoff, and given up after maxFailures', () => {
    const t = setup();
    const ghost = t.target(1);
    const { maxFailures, backoffMaxMs, cooldownMs } = DEFAULT_DIAL_POLICY;
    expect(t.links.dialMember(ghost)).toBe(true);
    expect(t.links.dialMember(ghost)).toBe(false);
    for (let k = 1; k <= maxFailures; k++) {
      t.links.dialEnded('fake:1', 'failed');
      if (k < maxFailures) {
        expect(t.links.dialMember(ghost)).toBe(false);
        t.scheduler.runFor(1.5 * backoffMaxMs);
        expect(t.links.dialMember(ghost)).toBe(true);
      }
    }
    expect(t.dialled).toHaveLength(maxFailures);
    t.scheduler.runFor(2 * backoffMaxMs);
    expect(t.links.dialMember(ghost)).toBe(false);
    // A fresher claim of the member that advertised it allows one more attempt.
    expect(t.links.dialMember({ ...ghost, incarnation: 2 })).toBe(true);
    t.links.dialEnded('fake:1', 'failed');
    t.scheduler.runFor(2 * backoffMaxMs);
    expect(t.links.dialMember({ ...ghost, incarnation: 2 })).toBe(false);
    t.scheduler.runFor(cooldownMs);
    expect(t.links.dialMember(ghost)).toBe(true);
  });

  it('a seed is never given up, and a joiner retrying its seeds skips the backoff', () => {
    const t = setup();
    for (let k = 0; k < 10; k++) {
      expect(t.links.dial('fake:seed')).toBe(true);
      t.links.dialEnded('fake:seed', 'failed');
      t.scheduler.runFor(2 * DEFAULT_DIAL_POLICY.backoffMaxMs);
    }
    expect(t.links.dial('fake:seed')).toBe(true);
    t.links.dialEnded('fake:seed', 'failed');
    expect(t.links.dial('fake:seed')).toBe(false);
    expect(t.links.dial('fake:seed', undefined, true)).toBe(true);
  });

  it('a dial its transport never ends is taken as failed after 60 s: the node dials again', () => {
    const t = setup({ maxLinks: 4, minLinks: 1 });
    expect(t.links.dialMember(t.target(1))).toBe(true);
    t.scheduler.runFor(59_000);
    // Still in flight: it blocks its endpoint and fills the one wanted link.
    expect(t.links.wantsMore()).toBe(false);
    expect(t.links.dialMember(t.target(1))).toBe(false);
    t.scheduler.runFor(1_000);
    expect(t.links.wantsMore()).toBe(true);
    expect(t.links.pendingDials).toBe(0);
    expect(t.links.dialsStuck).toBe(1);
    // It counts as a failure: that endpoint backs off, another member is dialled at once.
    expect(t.links.dialMember(t.target(1))).toBe(false);
    t.links.fill([t.target(1), t.target(2)]);
    expect(t.dialled).toEqual(['fake:1', 'fake:2']);
    // A late end of the expired dial changes nothing.
    t.links.dialEnded('fake:1', 'linked');
    expect(t.links.pendingDials).toBe(1);
  });

  it('a dial answered by another node counts as the address’s failure unless that node is named (its signature verified)', () => {
    const t = setup();
    const m = t.target(1);
    for (let k = 0; k < DEFAULT_DIAL_POLICY.maxFailures; k++) {
      expect(t.links.dialMember(m)).toBe(true);
      t.links.dialEnded('fake:1', 'misdirected', high(9));
      t.scheduler.runFor(2 * DEFAULT_DIAL_POLICY.backoffMaxMs);
    }
    // Answered by another node every time: nothing charged, the address is not given up.
    expect(t.links.dialMember(m)).toBe(true);
    const other = t.target(2);
    for (let k = 0; k < DEFAULT_DIAL_POLICY.maxFailures; k++) {
      expect(t.links.dialMember(other)).toBe(true);
      t.links.dialEnded('fake:2', 'misdirected'); // nobody proven: a failure
      t.scheduler.runFor(2 * DEFAULT_DIAL_POLICY.backoffMaxMs);
    }
    expect(t.links.dialMember(other)).toBe(false); // given up, as after failures
  });

  it('a completed handshake clears the endpoint’s failures', () => {
    const t = setup();
    const m = t.target(1);
    for (let k = 0; k < 3; k++) {
      expect(t.links.dialMember(m)).toBe(true);
      t.links.dialEnded('fake:1', 'failed');
      t.scheduler.runFor(2 * DEFAULT_DIAL_POLICY.backoffMaxMs);
    }
    t.links.dialMember(m);
    t.links.dialEnded('fake:1', 'linked');
    // The next failure is a first one again: its backoff is the base (×1.5 at most), not 2³ times it.
    t.links.dialMember(m);
    t.links.dialEnded('fake:1', 'failed');
    t.scheduler.runFor(1.5 * DEFAULT_DIAL_POLICY.backoffBaseMs);
    expect(t.links.dialMember(m)).toBe(true);
  });

  it('a member already linked, this node itself, or an address no transport can dial is not dialled', () => {
    const t = setup();
    t.accept(high(1));
    expect(t.links.dialMember(t.target(1))).toBe(false);
    expect(t.links.dialMember({ nodeId: SELF, addrs: ['fake:me'] })).toBe(false);
    expect(t.links.dialMember({ nodeId: high(2), addrs: ['ws://elsewhere'] })).toBe(false);
    expect(t.dialled).toEqual([]);
  });
});
