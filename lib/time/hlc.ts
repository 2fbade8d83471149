/**
 * Hybrid Logical Clock (Kulkarni et al. 2014): timestamps close to wall time that respect
 * causality, totally ordered by (wall ms, counter, node id). Used for last-writer-wins.
 */
import type { Clock } from './types.ts';

export interface HlcTimestamp {
  readonly wall: number;
  readonly counter: number;
  readonly node: string;
}

/** Counter values stay below this; on overflow the clock steps its wall part by 1 ms. */
export const HLC_MAX_COUNTER = 0xffff;

export function compareHlc(a: HlcTimestamp, b: HlcTimestamp): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/** A remote timestamp lies further in the future than the skew bound allows (code `clock-skew`). */
export class HlcSkewError extends Error {
  override name = 'HlcSkewError';
  readonly code = 'clock-skew' as const;
  /** How far ahead of the local wall clock the timestamp was, ms. */
  readonly aheadMs: number;
  constructor(aheadMs: number) {
    super(`timestamp is ${aheadMs} ms ahead of the local wall clock`);
    this.aheadMs = aheadMs;
  }
}

export interface HlcOptions {
  /** Remote timestamps more than this far ahead of local wall time are refused. Default 60 s. */
  maxSkewMs?: number;
  /**
   * A received timestamp moves the clock at most this far ahead of local wall time. One within
   * the skew bound but further ahead is accepted without being followed, so a peer cannot drag
   * this clock (and every later write) up to the skew bound. Default 1,000 ms.
   */
  maxDriftMs?: number;
  /** A persisted high-water mark: the clock never issues a wall part below it (restart safety). */
  notBefore?: number;
  /**
   * Called when the wall part passes the last reservation; persist the value and pass it back
   * as `notBefore` after a restart. Reservations run `reserveMs` ahead so writes are rare.
   */
  onReserve?: (reservedUntil: number) => void;
  /** Default 5,000 ms. */
  reserveMs?: number;
}

export class HybridLogicalClock {
  readonly #node: string;
  readonly #clock: Clock;
  readonly #maxSkewMs: number;
  readonly #maxDriftMs: number;
  readonly #reserveMs: number;
  readonly #onReserve: ((reservedUntil: number) => void) | undefined;
  #wall: number;
  #counter = 0;
  #reserved: number;

  constructor(node: string, clock: Clock, opts: HlcOptions = {}) {
    this.#node = node;
    this.#clock = clock;
    this.#maxSkewMs = opts.maxSkewMs ?? 60_000;
    this.#maxDriftMs = opts.maxDriftMs ?? 1_000;
    this.#reserveMs = opts.reserveMs ?? 5_000;
    this.#onReserve = opts.onReserve;
    this.#wall = opts.notBefore ?? 0;
    this.#reserved = this.#wall;
  }

  get maxSkewMs(): number {
    return this.#maxSkewMs;
  }

  /** The latest timestamp issued or observed. */
  peek(): HlcTimestamp {
    return { wall: this.#wall, counter: this.#counter, node: this.#node };
  }

  /** A new timestamp for a local event or a send; strictly greater than every earlier one. */
  now(): HlcTimestamp {
    const physical = Math.floor(this.#clock.wallNow());
    if (physical > this.#wall) {
      this.#wall = physical;
      this.#counter = 0;
    } else {
      this.#tick();
    }
    this.#reserve();
    return this.peek();
  }

  /** Whether a remote timestamp is within the skew bound (no state change). */
  acceptable(remote: HlcTimestamp): boolean {
    return remote.wall - this.#clock.wallNow() <= this.#maxSkewMs;
  }

  /**
   * Merges a remote timestamp (on receipt) and returns a new local timestamp above both, or,
   * for one more than the drift bound ahead of local wall time, above that bound only.
   * Throws HlcSkewError, leaving the clock untouched, if it is beyond the skew bound.
   */
  receive(remote: HlcTimestamp): HlcTimestamp {
    const physical = Math.floor(this.#clock.wallNow());
    if (remote.wall - physical > this.#maxSkewMs) throw new HlcSkewError(remote.wall - physical);
    const bound = physical + this.#maxDriftMs;
    this.#follow(remote.wall > bound ? { wall: bound, counter: 0 } : remote, physical);
    return this.peek();
  }

  /**
   * A timestamp this node issued itself, perhaps before a restart that lost the clock: the
   * clock moves past it whatever the drift bound, so nothing issued from now on is older.
   */
  passOwn(issued: HlcTimestamp): void {
    if (compareHlc(issued, this.peek()) <= 0) return;
    this.#follow(issued, Math.floor(this.#clock.wallNow()));
  }

  #follow(remote: { wall: number; counter: number }, physical: number): void {
    const wall = Math.max(this.#wall, remote.wall, physical);
    if (wall === this.#wall && wall === remote.wall) {
      this.#counter = Math.max(this.#counter, remote.counter);
      this.#tick();
    } else if (wall === this.#wall) {
      this.#tick();
    } else if (wall === remote.wall) {
      this.#wall = wall;
      this.#counter = remote.counter;
      this.#tick();
    } else {
      this.#wall = wall;
      this.#counter = 0;
    }
    this.#reserve();
  }

  #tick(): void {
    if (this.#counter >= HLC_MAX_COUNTER) {
      this.#wall += 1;
      this.#counter = 0;
    } else {
      this.#counter += 1;
    }
  }

  #reserve(): void {
    if (!this.#onReserve || this.#wall + this.#reserveMs / 2 < this.#reserved) return;
    this.#reserved = this.#wall + this.#reserveMs;
    this.#onReserve(this.#reserved);
  }
}
