// Many waiters' timeouts on one timer (lib/time/deadline-queue.ts), in virtual time against
// the timer-per-waiter behaviour it replaces: each waiter expires exactly at its own
// deadline unless settled first, a settled one never expires, and memory does not keep the
// settled waiters behind a slow one.
import { describe, expect, it } from 'vitest';
import { type Deadline, DeadlineQueue } from '../../lib/time/deadline-queue.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';

function rig(delayMs: number) {
  const scheduler = new VirtualScheduler();
  const clock = new VirtualClock(scheduler);
  return { scheduler, clock, queue: new DeadlineQueue({ clock, scheduler }, delayMs) };
}

describe('DeadlineQueue', () => {
  for (const seed of [1, 2, 3])
    it(`expires the same waiters at the same instants as a timer per waiter (seed ${seed})`, () => {
      const { scheduler, clock, queue } = rig(100);
      const random = new SeededRandom(seed);
      const fromQueue: string[] = [];
      const fromTimers: string[] = [];
      const live: Array<{ name: string; deadline: Deadline; timer: number }> = [];
      let n = 0;
      // Waiters arrive at random instants and are settled at random later ones; each is also
      // given a plain timer, the reference.
      const arrive = () => {
        const name = `w${n++}`;
        const deadline = queue.add(() => fromQueue.push(`${name}@${clock.now()}`));
        const timer = scheduler.setTimer(100, () => fromTimers.push(`${name}@${clock.now()}`));
        live.push({ name, deadline, timer });
        if (n < 3_000) scheduler.setTimer(random.int(40), arrive);
      };
      const settleSome = () => {
        if (live.length > 0) {
          const [w] = live.splice(random.int(live.length), 1);
          const wasPending = queue.settle(w!.deadline);
          expect(wasPending).toBe(fromTimers.every((e) => !e.startsWith(`${w!.name}@`)));
          scheduler.cancelTimer(w!.timer);
        }
        if (n < 3_000 || live.length > 0) scheduler.setTimer(random.int(60), settleSome);
      };
      arrive();
      // Settling half a ms off the deadlines' grid: at the very instant of a deadline, which
      // of two timers runs first is an accident of when each was set.
      scheduler.setTimer(0.5, settleSome);
      while (scheduler.step()) {}
      expect(fromQueue.length).toBeGreaterThan(100);
      expect(fromQueue.length).toBeLessThan(3_000);
      expect(fromQueue).toEqual(fromTimers);
      expect(queue.pending).toBe(0);
    });

  it('keeps at most one timer, and settling does not touch the scheduler', () => {
    const { scheduler, queue } = rig(1_000);
    const a = queue.add(() => {});
    expect(scheduler.pending).toBe(1);
    for (let i = 0; i < 50; i++) queue.settle(queue.add(() => {}));
    expect(scheduler.pending).toBe(1);
    queue.settle(a);
    expect(scheduler.pending).toBe(1);
    expect(queue.settle(a)).toBe(false);
    while (scheduler.step()) {}
    expect(scheduler.pending).toBe(0);
  });

  it('does not keep settled waiters in memory behind one that is still pending', () => {
    const { queue } = rig(10_000);
    queue.add(() => {});
    for (let i = 0; i < 10_000; i++) queue.settle(queue.add(() => {}));
    expect(queue.pending).toBe(1);
    // The pending head, and fewer settled ones than the compaction's bound (2 × pending + 64).
    expect(queue.held).toBeLessThanOrEqual(1 + 2 + 64);
    expect(queue.held).toBeGreaterThanOrEqual(1);
  });
});
