/**
 * At most `max` uses per peer (a node id, or a link object) in each window of `windowMs`
 * (a fixed window opened by the peer's first use). Windows that ended are forgotten, so
 * memory is bounded by the peers seen within one window — links, which are bounded —
 * whether or not a link-down is reported for each.
 */
export class PeerBudget<K = string> {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Open windows, oldest first (a peer whose window ends is re-inserted at the end). */
  readonly #open = new Map<K, { start: number; used: number }>();

  constructor(max: number, windowMs: number, now: () => number) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Uses one unit of `peer`'s budget; false (nothing used) when its window is spent. */
  take(peer: K): boolean {
    if (!this.available(peer)) return false;
    let w = this.#open.get(peer);
    if (!w) {
      w = { start: this.#now(), used: 0 };
      this.#open.set(peer, w);
    }
    w.used++;
    return true;
  }

  /** Whether `take(peer)` would succeed now. */
  available(peer: K): boolean {
    this.#expire();
    const w = this.#open.get(peer);
    return w === undefined || w.used < this.#max;
  }

  forget(peer: K): void {
    this.#open.delete(peer);
  }

  #expire(): void {
    const now = this.#now();
    for (const [peer, w] of this.#open) {
      if (now - w.start < this.#windowMs) break;
      this.#open.delete(peer);
    }
  }
}
