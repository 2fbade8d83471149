/**
 * One suspicion timer and its confirmations (memberlist's suspicion.go). With a fixed
 * timeout the member becomes Unreachable `min` ms after the first suspicion; with dynamic
 * suspicion (Lifeguard) the timer starts at `max` and shrinks towards `min` as independent
 * accusers confirm: timeout = max − (max − min) · log(c + 1) / log(k + 1). Which accusers
 * count (members only, each once) is the core's rule; this counts distinct names.
 */
import type { Scheduler, TimerId } from '../time/types.ts';

export class SuspicionTimer {
  readonly startedAt: number;
  readonly #accusers = new Set<string>();
  readonly #min: number;
  readonly #max: number;
  readonly #expected: number;
  readonly #scheduler: Scheduler;
  readonly #now: () => number;
  readonly #onExpire: () => void;
  #timer: TimerId | undefined;

  constructor(opts: {
    accuser: string;
    minMs: number;
    maxMs: number;
    /** Confirmations after which the timeout reaches minMs. */
    expectedConfirmations: number;
    scheduler: Scheduler;
    now: () => number;
    onExpire: () => void;
  }) {
    this.#min = opts.minMs;
    this.#max = Math.max(opts.minMs, opts.maxMs);
    this.#expected = Math.max(0, opts.expectedConfirmations);
    this.#scheduler = opts.scheduler;
    this.#now = opts.now;
    this.#onExpire = opts.onExpire;
    this.startedAt = opts.now();
    this.#accusers.add(opts.accuser);
    this.#arm();
  }

  get confirmations(): number {
    return this.#accusers.size - 1;
  }

  /** Who accused: the first accuser and every confirmation. */
  get accusers(): ReadonlySet<string> {
    return this.#accusers;
  }

  /** The current total timeout (from startedAt). Never below the minimum. */
  timeoutMs(): number {
    if (this.#max === this.#min || this.#expected === 0) return this.#min;
    const c = Math.min(this.confirmations, this.#expected);
    const frac = Math.log(c + 1) / Math.log(this.#expected + 1);
    return Math.max(this.#min, Math.floor(this.#max - frac * (this.#max - this.#min)));
  }

  /** A new independent accuser; true if it was new (worth re-gossiping). */
  confirm(accuser: string): boolean {
    if (this.#accusers.has(accuser)) return false;
    this.#accusers.add(accuser);
    if (this.#max !== this.#min) this.#arm();
    return true;
  }

  cancel(): void {
    if (this.#timer !== undefined) this.#scheduler.cancelTimer(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.cancel();
    const remaining = Math.max(0, this.startedAt + this.timeoutMs() - this.#now());
    this.#timer = this.#scheduler.setTimer(remaining, () => {
      this.#timer = undefined;
      this.#onExpire();
    });
  }
}
