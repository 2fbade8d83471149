/**
 * Token buckets per key (an origin node), bounded: the least recently used keys are
 * forgotten, and so is a key whose bucket has refilled (a full bucket is what an unknown key
 * gets), so the map holds the keys in use, not every key ever seen: a node of a large
 * cluster kept a bucket for each of the last 4,096 signers it heard from, ~0.4 MB, forever.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /** `rate` units per second, up to `burst` at once; at most `maxKeys` keys remembered. */
  constructor(rate: number, burst: number, now: () => number, maxKeys = 4096) {
    this.#rate = rate;
    this.#burst = burst;
    this.#now = now;
    this.#max = maxKeys;
  }

  /** Keys remembered (those whose buckets are not full, at most `maxKeys`). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes `cost` units for `key`; false (and nothing taken) if it has not got them. */
  take(key: string, cost = 1): boolean {
    const b = this.#bucket(key);
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }

  /** Whether `key` has `cost` units now (nothing taken): to take from two limiters or none. */
  available(key: string, cost = 1): boolean {
    return this.#bucket(key).tokens >= cost;
  }

  /** The key's bucket, refilled to now and made the most recently used. */
  #bucket(key: string): { tokens: number; at: number } {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (b) this.#buckets.delete(key);
    else b = { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    this.#buckets.set(key, b);
    if (this.#buckets.size > this.#max) this.#buckets.delete(this.#buckets.keys().next().value!);
    else this.#forgetRefilled(now, b);
    return b;
  }

  /** Forgets the least recently used key if its bucket is full by now: one a call, at no search. */
  #forgetRefilled(now: number, current: { tokens: number; at: number }): void {
    const [key, oldest] = this.#buckets.entries().next().value!;
    if (oldest !== current && oldest.tokens + ((now - oldest.at) / 1000) * this.#rate >= this.#burst)
      this.#buckets.delete(key);
  }
}
