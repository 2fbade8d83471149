/**
 * How many new members (identities not in the table) a node takes in: per minute in all,
 * and per link the first claim of each arrived over. Token buckets, refilled continuously,
 * bursting to one minute's worth. The core charges it only for verified claims that would
 * otherwise be admitted, so a refused or forged claim costs no quota. Per-link buckets
 * outlive their link (a peer that reconnects gets no fresh budget) and are capped in number,
 * the least recently used forgotten; whoever cycles through more links than that to reset
 * them still meets the node-wide budget.
 */

interface Bucket {
  tokens: number;
  at: number;
}

/** Per-link buckets remembered at most (links are bounded; this also bounds transient ones). */
const MAX_LINK_BUCKETS = 1024;

export class NewcomerQuota {
  readonly #perMs: number;
  readonly #perLinkMs: number;
  readonly #burst: number;
  readonly #linkBurst: number;
  readonly #now: () => number;
  readonly #all: Bucket;
  readonly #links = new Map<string, Bucket>();

  constructor(perMinute: number, perLinkPerMinute: number, now: () => number) {
    this.#burst = perMinute;
    this.#linkBurst = perLinkPerMinute;
    this.#perMs = perMinute / 60_000;
    this.#perLinkMs = perLinkPerMinute / 60_000;
    this.#now = now;
    this.#all = { tokens: perMinute, at: now() };
  }

  /** Takes one newcomer from the node's and `link`'s budgets; false (nothing taken) if either is spent. */
  take(link: string): boolean {
    const now = this.#now();
    let b = this.#links.get(link);
    if (b) this.#links.delete(link);
    else b = { tokens: this.#linkBurst, at: now };
    this.#links.set(link, b);
    if (this.#links.size > MAX_LINK_BUCKETS) this.#links.delete(this.#links.keys().next().value!);
    refill(b, now, this.#perLinkMs, this.#linkBurst);
    refill(this.#all, now, this.#perMs, this.#burst);
    if (b.tokens < 1 || this.#all.tokens < 1) return false;
    b.tokens--;
    this.#all.tokens--;
    return true;
  }
}

function refill(b: Bucket, now: number, perMs: number, burst: number): void {
  b.tokens = Math.min(burst, b.tokens + (now - b.at) * perMs);
  b.at = now;
}
