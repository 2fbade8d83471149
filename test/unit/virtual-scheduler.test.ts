// The simulator's event queue against a plain reference: timers fire by time, then in the
// order they were set; cancelled ones never fire; timers set while firing take their turn.
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../lib/time/random.ts';
import { VirtualScheduler } from '../../lib/time/virtual.ts';

/** The reference: every pending timer in a list, the earliest (time, then seq) taken each step. */
class ListScheduler {
  now = 0;
  #seq = 0;
  readonly #pending: Array<{ time: number; seq: number; id: number; fn: () => void }> = [];
  setTimer(delay: number, fn: () => void): number {
    const id = this.#seq++;
    this.#pending.push({ time: this.now + Math.max(0, delay), seq: id, id, fn });
    return id;
  }
  cancelTimer(id: number): void {
    const i = this.#pending.findIndex((p) => p.id === id);
    if (i >= 0) this.#pending.splice(i, 1);
  }
  runUntil(time: number): void {
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.#pending.length; i++) {
        const p = this.#pending[i]!;
        const b = this.#pending[best];
        if (p.time <= time && (!b || p.time < b.time || (p.time === b.time && p.seq < b.seq))) best = i;
      }
      if (best < 0) break;
      const [p] = this.#pending.splice(best, 1);
      this.now = p!.time;
      p!.fn();
    }
    this.now = Math.max(this.now, time);
  }
}

interface Sched {
  setTimer(delay: number, fn: () => void): number;
  cancelTimer(id: number): void;
  runUntil(time: number): void;
}

/** 3,000 timers with coarse delays (many ties), a fifth cancelled, some set from inside others. */
function trace(s: Sched, seed: number): string[] {
  const random = new SeededRandom(seed);
  const fired: string[] = [];
  const ids: number[] = [];
  let made = 0;
  const make = (depth: number) => {
    const name = `t${made++}`;
    const id = s.setTimer(random.int(50) * 10, () => {
      fired.push(name);
      if (depth < 2 && random.next() < 0.3) make(depth + 1);
      if (random.next() < 0.2 && ids.length > 0) s.cancelTimer(ids[random.int(ids.length)]!);
    });
    ids.push(id);
  };
  for (let round = 0; round < 30; round++) {
    for (let k = 0; k < 100; k++) make(0);
    s.runUntil((round + 1) * 37);
  }
  s.runUntil(10_000);
  return fired;
}

describe('VirtualScheduler', () => {
  it('fires timers in (time, insertion) order, never a cancelled one, like a plain list', () => {
    for (const seed of [1, 2, 3]) {
      const fast = trace(new VirtualScheduler(), seed);
      expect(fast.length).toBeGreaterThan(2_000);
      expect(fast).toEqual(trace(new ListScheduler(), seed));
    }
  });

  it('counts pending timers and steps one at a time', () => {
    const s = new VirtualScheduler();
    const order: number[] = [];
    const a = s.setTimer(5, () => order.push(1));
    s.setTimer(5, () => order.push(2));
    s.setTimer(1, () => order.push(0));
    s.cancelTimer(a);
    s.cancelTimer(a);
    expect(s.pending).toBe(2);
    expect(s.step()).toBe(true);
    expect(s.now).toBe(1);
    expect(s.step()).toBe(true);
    expect(s.step()).toBe(false);
    expect(order).toEqual([0, 2]);
    expect(s.pending).toBe(0);
  });
});
