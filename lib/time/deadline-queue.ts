/**
 * Timeouts for many waiters that share one delay, kept with one timer. A timer per waiter
 * costs a call into the platform to arm it and another to cancel it: in Chromium that was
 * ~36 µs of a Raft leader's ~1 ms commit, on the commit's path both times. With one delay
 * for all, deadlines fall due in the order the waiters came, so only the oldest pending one
 * needs a timer; a waiter settled before its deadline is only marked, and the timer, when
 * it fires, skips it and re-arms for the next pending one.
 */
import type { Clock, Scheduler, TimerId } from './types.ts';

/** A waiter's place in the queue: pass it to `settle`. */
export interface Deadline {
  readonly at: number;
}

interface Entry extends Deadline {
  readonly expire: () => void;
  settled: boolean;
}

export class DeadlineQueue {
  readonly #env: { readonly clock: Clock; readonly scheduler: Scheduler };
  readonly #delayMs: number;
  #queue: Entry[] = [];
  /** Entries before this index are gone (expired or settled and passed). */
  #head = 0;
  #pending = 0;
  #timer: TimerId | undefined;

  constructor(env: { readonly clock: Clock; readonly scheduler: Scheduler }, delayMs: number) {
    this.#env = env;
    this.#delayMs = delayMs;
  }

  /** Waiters neither settled nor expired. */
  get pending(): number {
    return this.#pending;
  }

  /** Entries held in memory: the pending ones and settled ones not yet dropped. */
  get held(): number {
    return this.#queue.length - this.#head;
  }

  /** `expire` runs `delayMs` from now unless the deadline is settled first. */
  add(expire: () => void): Deadline {
    const entry: Entry = { at: this.#env.clock.now() + this.#delayMs, expire, settled: false };
    this.#queue.push(entry);
    this.#pending++;
    this.#trim();
    if (this.#timer === undefined) this.#arm(this.#delayMs);
    return entry;
  }

  /** Takes the deadline off: true if it was still pending (its `expire` will not run). */
  settle(deadline: Deadline): boolean {
    const entry = deadline as Entry;
    if (entry.settled) return false;
    entry.settled = true;
    this.#pending--;
    return true;
  }

  #arm(delayMs: number): void {
    this.#timer = this.#env.scheduler.setTimer(delayMs, () => this.#fire());
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#env.clock.now();
    const due: Entry[] = [];
    for (; this.#head < this.#queue.length; this.#head++) {
      const e = this.#queue[this.#head]!;
      if (e.settled) continue;
      if (e.at > now) break;
      e.settled = true;
      this.#pending--;
      due.push(e);
    }
    this.#trim();
    const next = this.#queue[this.#head];
    if (next) this.#arm(Math.max(0, next.at - now));
    for (const e of due) e.expire();
  }

  /**
   * Drops settled entries at the head, and compacts when settled ones behind a pending head
   * outnumber the pending (one slow waiter must not keep every later one in memory).
   */
  #trim(): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.settled) this.#head++;
    const live = this.#queue.length - this.#head;
    if (live === 0) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 || live > 2 * this.#pending + 64) {
      this.#queue = this.#queue.slice(this.#head).filter((e) => !e.settled);
      this.#head = 0;
    }
  }
}
