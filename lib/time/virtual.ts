import type { Clock, Scheduler, TimerId, TimerWindow } from './types.ts';

interface Pending {
  time: number;
  seq: number;
  id: TimerId;
  fn: () => void;
  /** Not yet fired nor cancelled (a cancelled entry stays in the heap until it surfaces). */
  live: boolean;
}

function before(a: Pending, b: Pending): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/**
 * Virtual time driven by an event queue (a binary heap ordered by time, then by insertion).
 * Nothing happens until the owner runs it; equal seeds and inputs give identical runs.
 */
export class VirtualScheduler implements Scheduler {
  #now = 0;
  #seq = 0;
  #nextId = 1;
  readonly #heap: Pending[] = [];
  readonly #live = new Map<TimerId, Pending>();

  /** Current virtual time in ms. */
  get now(): number {
    return this.#now;
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.#live.size;
  }

  setTimer(delayMs: number, fn: () => void): TimerId {
    const entry: Pending = {
      time: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      id: this.#nextId++,
      fn,
      live: true,
    };
    this.#live.set(entry.id, entry);
    this.#push(entry);
    return entry.id;
  }

  cancelTimer(id: TimerId): void {
    const entry = this.#live.get(id);
    if (entry === undefined) return;
    entry.live = false;
    this.#live.delete(id);
  }

  /** Runs the earliest pending timer; false when none is left. */
  step(): boolean {
    while (this.#heap.length > 0) {
      const entry = this.#pop();
      if (!entry.live) continue;
      this.#fire(entry);
      return true;
    }
    return false;
  }

  /** Runs every timer due at or before `time`, then sets the clock to `time`. */
  runUntil(time: number): void {
    const h = this.#heap;
    while (h.length > 0) {
      const top = h[0]!;
      if (top.live && top.time > time) break;
      this.#pop();
      if (top.live) this.#fire(top);
    }
    if (time > this.#now) this.#now = time;
  }

  runFor(ms: number): void {
    this.runUntil(this.#now + ms);
  }

  #fire(entry: Pending): void {
    entry.live = false;
    this.#live.delete(entry.id);
    this.#now = entry.time;
    entry.fn();
  }

  /** Sifts up from the end, moving the hole rather than swapping. */
  #push(entry: Pending): void {
    const h = this.#heap;
    let i = h.length;
    h.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (!before(entry, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = entry;
  }

  #pop(): Pending {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const m = r < n && before(h[r]!, h[l]!) ? r : l;
        if (!before(h[m]!, last)) break;
        h[i] = h[m]!;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}

/** Reads a VirtualScheduler's time; the wall clock is an epoch plus a per-node offset (skew). */
export class VirtualClock implements Clock {
  readonly #scheduler: VirtualScheduler;
  readonly #epochMs: number;
  offsetMs: number;

  constructor(scheduler: VirtualScheduler, opts: { epochMs?: number; offsetMs?: number } = {}) {
    this.#scheduler = scheduler;
    this.#epochMs = opts.epochMs ?? 1_700_000_000_000;
    this.offsetMs = opts.offsetMs ?? 0;
  }

  now(): number {
    return this.#scheduler.now;
  }

  wallNow(): number {
    return this.#epochMs + this.#scheduler.now + this.offsetMs;
  }
}

/**
 * A view of another scheduler whose timers can all be cancelled at once (a crashed node's
 * timers vanish with it) and can be throttled like a background browser tab, whose timers
 * only run at periodic wake-ups.
 */
export class TimerScope implements Scheduler {
  readonly #inner: Scheduler;
  readonly #now: () => number;
  readonly #ids = new Set<TimerId>();
  /** Timers fire only at multiples of this (0: no throttling). Background tabs: 1,000 ms. */
  wakeIntervalMs = 0;

  constructor(inner: Scheduler, now: () => number) {
    this.#inner = inner;
    this.#now = now;
  }

  setTimer(delayMs: number, fn: () => void, window?: TimerWindow): TimerId {
    const aligned = (ms: number) => this.alignedDelay(Math.max(0, ms));
    const id = this.#inner.setTimer(
      aligned(delayMs),
      () => {
        this.#ids.delete(id);
        fn();
      },
      window && { earliestMs: aligned(window.earliestMs), latestMs: aligned(window.latestMs) },
    );
    this.#ids.add(id);
    return id;
  }

  /** The delay after which something due in `delayMs` actually runs, given the wake-ups. */
  alignedDelay(delayMs: number): number {
    const w = this.wakeIntervalMs;
    if (w <= 0) return delayMs;
    const now = this.#now();
    return Math.ceil((now + delayMs) / w) * w - now;
  }

  cancelTimer(id: TimerId): void {
    if (this.#ids.delete(id)) this.#inner.cancelTimer(id);
  }

  cancelAll(): void {
    for (const id of this.#ids) this.#inner.cancelTimer(id);
    this.#ids.clear();
  }

  get pending(): number {
    return this.#ids.size;
  }
}
