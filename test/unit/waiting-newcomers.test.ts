// The waiting room of newcomers over quota (lib/membership/waiting-newcomers.ts): bounds,
// newer claims replacing older ones, goodbyes, expiry, and admission that takes the links in
// turn so that one link's backlog holds back nobody else.
import { describe, expect, it } from 'vitest';
import { type Claim, type ClaimSigner, signClaim } from '../../lib/membership/claims.ts';
import {
  MAX_WAITING,
  PER_LINK_WAITING,
  WAIT_MS,
  WaitingNewcomers,
} from '../../lib/membership/waiting-newcomers.ts';

/** An alive claim of a fresh member (the room never checks signatures: the boundary did). */
function claim(n: number, incarnation = 1): Claim {
  const publicKey = new Uint8Array(32);
  new DataView(publicKey.buffer).setUint32(0, n);
  const signer: ClaimSigner = { nodeId: '', publicKey, sign: () => new Uint8Array(64) };
  return signClaim(signer, 'alive', { incarnation });
}

/** Drains with unlimited budgets except those given; returns the claims admitted, by link. */
function drain(
  room: WaitingNewcomers,
  opts: { now?: number; budget?: number; perLink?: Record<string, number>; stale?: Set<string> } = {},
) {
  const admitted: Array<[string, Claim]> = [];
  let budget = opts.budget ?? Number.POSITIVE_INFINITY;
  const perLink = { ...(opts.perLink ?? {}) };
  room.drain(opts.now ?? 0, {
    stale: (c) => opts.stale?.has(c.subject) ?? false,
    take: (_claim, link) => {
      if (budget < 1 || (perLink[link] ?? 1) < 1) return false;
      budget--;
      if (perLink[link] !== undefined) perLink[link]--;
      return true;
    },
    spent: () => budget < 1,
    admit: (c, link) => admitted.push([link, c]),
  });
  return admitted;
}

describe('WaitingNewcomers', () => {
  it('holds a member once: a newer claim replaces the waiting one, an older or equal one does not', () => {
    const room = new WaitingNewcomers();
    const a1 = claim(1, 5);
    expect(room.hold(a1, 'L', 0)).toBe('waiting');
    expect(room.hold(claim(1, 4), 'M', 0)).toBe('known');
    expect(room.hold(claim(1, 7), 'M', 0)).toBe('known');
    expect(room.size).toBe(1);
    const [[link, admitted]] = drain(room) as [[string, Claim]];
    // Still on the link it first came over, at the newest incarnation.
    expect(link).toBe('L');
    expect(admitted.incarnation).toBe(7);
    expect(room.size).toBe(0);
  });

  it('bounds each link to its share and the whole room to MAX_WAITING', () => {
    const room = new WaitingNewcomers();
    let n = 0;
    for (let i = 0; i < PER_LINK_WAITING; i++) expect(room.hold(claim(n++), 'flood', 0)).toBe('waiting');
    expect(room.hold(claim(n++), 'flood', 0)).toBe('full');
    // Other links still have room.
    expect(room.hold(claim(n++), 'other', 0)).toBe('waiting');
    for (let l = 0; room.size < MAX_WAITING; l++)
      for (let i = 0; i < PER_LINK_WAITING && room.size < MAX_WAITING; i++)
        room.hold(claim(n++), `link${l}`, 0);
    expect(room.size).toBe(MAX_WAITING);
    expect(room.hold(claim(n++), 'fresh', 0)).toBe('full');
  });

  it("a goodbye at or above the waiting claim's incarnation drops it; an older one does not", () => {
    const room = new WaitingNewcomers();
    const c = claim(1, 5);
    room.hold(c, 'L', 0);
    room.drop(c.subject, 4);
    expect(room.size).toBe(1);
    room.drop(c.subject, 5);
    expect(room.size).toBe(0);
    expect(drain(room)).toEqual([]);
  });

  it('admits the links in turn: a backlog of one link does not hold back the others', () => {
    const room = new WaitingNewcomers();
    for (let i = 0; i < 100; i++) room.hold(claim(i), 'flood', 0);
    room.hold(claim(1_000), 'a', 1);
    room.hold(claim(1_001), 'b', 2);
    const admitted = drain(room, { budget: 6 });
    expect(admitted.map(([link]) => link).sort()).toEqual(['a', 'b', 'flood', 'flood', 'flood', 'flood']);
    // Within a link, oldest first.
    expect(admitted.filter(([l]) => l === 'flood').map(([, c]) => c.subject)).toEqual(
      [0, 1, 2, 3].map((i) => claim(i).subject),
    );
    expect(room.size).toBe(96);
  });

  it("a link whose own budget is spent waits; the others' claims go in", () => {
    const room = new WaitingNewcomers();
    for (let i = 0; i < 10; i++) room.hold(claim(i), 'slow', 0);
    for (let i = 10; i < 13; i++) room.hold(claim(i), 'fast', 0);
    const admitted = drain(room, { perLink: { slow: 2 } });
    expect(admitted.filter(([l]) => l === 'slow')).toHaveLength(2);
    expect(admitted.filter(([l]) => l === 'fast')).toHaveLength(3);
    expect(room.size).toBe(8);
  });

  it('drops claims that waited WAIT_MS, and those whose member came in another way', () => {
    const room = new WaitingNewcomers();
    room.hold(claim(1), 'L', 0);
    room.hold(claim(2), 'L', 10);
    room.hold(claim(3), 'L', 20);
    const admitted = drain(room, { now: WAIT_MS + 5, stale: new Set([claim(3).subject]) });
    // 1 expired (waited WAIT_MS + 5), 3 is no newcomer any more: only 2 goes in.
    expect(admitted.map(([, c]) => c.subject)).toEqual([claim(2).subject]);
    expect(room.size).toBe(0);
  });

  it('stops when the node budget is spent, leaving the rest waiting in order', () => {
    const room = new WaitingNewcomers();
    for (let i = 0; i < 5; i++) room.hold(claim(i), 'L', 0);
    expect(drain(room, { budget: 2 }).map(([, c]) => c.subject)).toEqual([
      claim(0).subject,
      claim(1).subject,
    ]);
    expect(drain(room, { budget: 0 })).toEqual([]);
    expect(drain(room).map(([, c]) => c.subject)).toEqual([2, 3, 4].map((i) => claim(i).subject));
  });
});
