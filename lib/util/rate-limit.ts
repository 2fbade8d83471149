/** Token buckets per key (an origin node), bounded: the least recently used keys are forgotten. */
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
    return b;
  }
}
