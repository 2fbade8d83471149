import assert from 'node:assert/strict';
import {
  CryptoRandom,
  compareHlc,
  HLC_MAX_COUNTER,
  HlcSkewError,
  HybridLogicalClock,
  RealScheduler,
  SeededRandom,
  shuffle,
  TimerScope,
  VirtualClock,
  VirtualScheduler,
} from '../../lib/time/mod.ts';
import type { Suite } from './case.ts';

function manualClock(start: number) {
  const c = { wall: start, now: () => c.wall, wallNow: () => c.wall };
  return c;
}

export const timeCases: Suite = {
  'virtual scheduler fires in time order, ties in insertion order, and skips cancelled timers'() {
    const s = new VirtualScheduler();
    const log: string[] = [];
    s.setTimer(20, () => log.push('b@20'));
    s.setTimer(10, () => log.push('a@10'));
    const x = s.setTimer(15, () => log.push('cancelled'));
    s.setTimer(20, () => log.push('c@20'));
    s.setTimer(10, () => s.setTimer(0, () => log.push('nested@10')));
    s.cancelTimer(x);
    s.runUntil(19);
    assert.deepEqual(log, ['a@10', 'nested@10']);
    assert.equal(s.now, 19);
    s.runFor(100);
    assert.deepEqual(log, ['a@10', 'nested@10', 'b@20', 'c@20']);
    assert.equal(s.pending, 0);
    assert.equal(s.step(), false);
  },

  'TimerScope cancels all its timers at once and aligns them to wake-ups when throttled'() {
    const s = new VirtualScheduler();
    const scope = new TimerScope(s, () => s.now);
    const fired: number[] = [];
    scope.setTimer(5, () => fired.push(s.now));
    scope.setTimer(50, () => fired.push(s.now));
    s.setTimer(60, () => fired.push(-1));
    s.runFor(10);
    scope.cancelAll();
    s.runFor(100);
    assert.deepEqual(fired, [5, -1]);
    scope.wakeIntervalMs = 1000;
    scope.setTimer(20, () => fired.push(s.now));
    scope.setTimer(1500, () => fired.push(s.now));
    s.runFor(10_000);
    assert.deepEqual(fired.slice(2), [1000, 2000]);
  },

  'virtual clock: wall time is epoch + virtual time + offset'() {
    const s = new VirtualScheduler();
    const c = new VirtualClock(s, { epochMs: 1000, offsetMs: -50 });
    s.runFor(200);
    assert.equal(c.now(), 200);
    assert.equal(c.wallNow(), 1150);
  },

  async 'real scheduler runs and cancels timers'() {
    const s = new RealScheduler();
    let fired = 0;
    const id = s.setTimer(1, () => fired++);
    s.cancelTimer(id);
    await new Promise<void>((resolve) => s.setTimer(5, resolve));
    assert.equal(fired, 0);
    assert.equal(s.pending, 0);
  },

  async 'real scheduler runs a timer with a window in the first wake-up within it, else at its end'() {
    const s = new RealScheduler();
    const log: string[] = [];
    const t0 = performance.now();
    let ownAt = 0;
    // Any time from 5 to 200 ms will do: the plain timer at 30 ms wakes the scheduler anyway.
    s.setTimer(100, () => log.push('flexible'), { earliestMs: 5, latestMs: 200 });
    // Its window opens after every other wake-up here: it fires on its own, at the window's
    // end (250 ms), not at its delay (150 ms).
    s.setTimer(
      150,
      () => {
        ownAt = performance.now() - t0;
        log.push('own wake-up');
      },
      { earliestMs: 100, latestMs: 250 },
    );
    const cancelled = s.setTimer(150, () => log.push('cancelled'), { earliestMs: 1, latestMs: 300 });
    s.cancelTimer(cancelled);
    await new Promise<void>((resolve) =>
      s.setTimer(30, () => {
        log.push('plain');
        // Microtasks run after the whole wake-up: the flexible timer ran in it.
        queueMicrotask(() => {
          log.push(`after the wake-up: ${log.includes('flexible') ? 'flexible ran' : 'flexible waits'}`);
          resolve();
        });
      }),
    );
    assert.deepEqual(log, ['plain', 'flexible', 'after the wake-up: flexible ran']);
    assert.equal(s.pending, 1);
    // Waited outside the scheduler, which has no wake-up of its own before 250 ms.
    await new Promise<void>((resolve) => setTimeout(resolve, 320));
    assert.deepEqual(log.slice(3), ['own wake-up']);
    assert.ok(ownAt >= 245, `ran at ${ownAt} ms`);
    assert.equal(s.pending, 0);
  },

  'seeded random is reproducible, forks are independent, ranges hold'() {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const seqA = Array.from({ length: 20 }, () => a.next());
    assert.deepEqual(
      seqA,
      Array.from({ length: 20 }, () => b.next()),
    );
    assert.notDeepEqual(new SeededRandom(43).bytes(16), new SeededRandom(42).bytes(16));
    assert.deepEqual(new SeededRandom('x').fork().bytes(8), new SeededRandom('x').fork().bytes(8));
    const r = new SeededRandom(7);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[r.int(6)]++;
    for (const c of counts) assert.ok(c > 9_000 && c < 11_000, `roughly uniform: ${counts}`);
    assert.throws(() => r.int(0), RangeError);
    const items = [1, 2, 3, 4, 5, 6, 7, 8];
    assert.deepEqual([...shuffle(items.slice(), new SeededRandom(1))].sort(), items);
  },

  'crypto random: every draw from the CSPRNG, in range, across its 64-word refills; forks draw their own'() {
    const r = new CryptoRandom();
    const draws = Array.from({ length: 6_400 }, () => r.next());
    for (const d of draws) assert.ok(d >= 0 && d < 1, `in [0, 1): ${d}`);
    // 6,400 words: a repeat is a buffer handed out twice (chance otherwise ~5e-3 for one pair).
    assert.ok(new Set(draws).size >= 6_390, `distinct: ${new Set(draws).size}`);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[r.int(6)]++;
    for (const c of counts) assert.ok(c > 9_000 && c < 11_000, `roughly uniform: ${counts}`);
    assert.throws(() => r.int(0), RangeError);
    const fork = r.fork();
    const mine = Array.from({ length: 64 }, () => r.next());
    assert.ok(Array.from({ length: 64 }, () => fork.next()).every((d) => !mine.includes(d)));
    assert.equal(r.bytes(100).length, 100);
  },

  'HLC: strictly increasing, follows wall time, total order by (wall, counter, node)'() {
    const clock = manualClock(1000);
    const h = new HybridLogicalClock('b', clock);
    const t1 = h.now();
    const t2 = h.now();
    assert.deepEqual([t1.wall, t1.counter, t2.wall, t2.counter], [1000, 0, 1000, 1]);
    clock.wall = 900; // wall clock stepped back
    const t3 = h.now();
    assert.ok(compareHlc(t3, t2) > 0);
    clock.wall = 2000;
    assert.deepEqual(h.now(), { wall: 2000, counter: 0, node: 'b' });
    assert.ok(compareHlc({ wall: 1, counter: 0, node: 'a' }, { wall: 1, counter: 0, node: 'b' }) < 0);
    assert.equal(compareHlc(t1, { ...t1 }), 0);
  },

  'HLC receive: result exceeds both local and remote; too-far-future is refused untouched'() {
    const clock = manualClock(1000);
    const h = new HybridLogicalClock('a', clock, { maxSkewMs: 500 });
    const remote = { wall: 1400, counter: 7, node: 'z' };
    const t = h.receive(remote);
    assert.deepEqual(t, { wall: 1400, counter: 8, node: 'a' });
    assert.ok(compareHlc(h.now(), t) > 0);
    const before = h.peek();
    assert.throws(() => h.receive({ wall: 1501 + 1000, counter: 0, node: 'z' }), HlcSkewError);
    assert.deepEqual(h.peek(), before);
    assert.equal(h.acceptable({ wall: 1500, counter: 0, node: 'z' }), true);
    assert.equal(h.acceptable({ wall: 1501, counter: 0, node: 'z' }), false);
  },

  'HLC drift bound: a timestamp further ahead moves the clock only to the bound; an own one is passed whatever its lead'() {
    const clock = manualClock(1000);
    const h = new HybridLogicalClock('a', clock, { maxSkewMs: 60_000, maxDriftMs: 100 });
    assert.equal(h.receive({ wall: 50_000, counter: 3, node: 'z' }).wall, 1100);
    assert.equal(h.now().wall, 1100);
    const own = { wall: 50_000, counter: 3, node: 'a' };
    h.passOwn(own);
    assert.ok(compareHlc(h.now(), own) > 0);
    const before = h.peek();
    h.passOwn({ wall: 900, counter: 0, node: 'a' });
    assert.deepEqual(h.peek(), before, 'an older own timestamp changes nothing');
  },

  'HLC counter overflow steps the wall part'() {
    const clock = manualClock(5);
    const h = new HybridLogicalClock('a', clock);
    for (let i = 0; i <= HLC_MAX_COUNTER; i++) h.now();
    const t = h.now();
    assert.equal(t.wall, 6);
    assert.ok(t.counter <= 1);
  },

  'HLC restart: persisted reservation keeps timestamps above everything issued before'() {
    const clock = manualClock(10_000);
    let stored = 0;
    const h1 = new HybridLogicalClock('a', clock, { reserveMs: 1000, onReserve: (v) => (stored = v) });
    let last = h1.now();
    for (let i = 0; i < 50; i++) {
      clock.wall += 37;
      last = h1.now();
    }
    assert.ok(stored > last.wall, 'reservation runs ahead of issued timestamps');
    clock.wall = 9_000; // restarted with a clock that went backwards
    const h2 = new HybridLogicalClock('a', clock, { notBefore: stored });
    assert.ok(compareHlc(h2.now(), last) > 0);
  },
};
