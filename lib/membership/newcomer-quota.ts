/**
 * How many new members (identities not in the table) a node takes in: per minute in all,
 * and per link the first claim of each arrived over. Token buckets, refilled continuously,
 * bursting to one minute's worth. The core charges it only for verified claims that would
 * otherwise be admitted, so a refused or forged claim costs no quota. Per-link buckets
 * outlive their link (a peer that reconnects gets no fresh budget) and are capped in number,
 * the least recently used forgotten; whoever cycles through more links than that to reset
 * them still meets the node-wide budget.
 */

import { RateLimiter } from '../util/rate-limit.ts';

/** Per-link buckets remembered at most (links are bounded; this also bounds transient ones). */
const MAX_LINK_BUCKETS = 1024;
const ALL = '';

export class NewcomerQuota {
  readonly #all: RateLimiter;
  readonly #links: RateLimiter;
  /**
   * Members introducing themselves over their own link (a join through this node): a budget
   * of their own, as large as the node's. Charged to the shared one, a seed's joiners waited
   * behind the newcomers it relays (and its transient links, held for their exchanges, turned
   * the next joiners away); not charged at all, a peer that cycles identities through
   * handshakes would add members without bound.
   */
  readonly #direct: RateLimiter;

  constructor(perMinute: number, perLinkPerMinute: number, now: () => number) {
    this.#all = new RateLimiter(perMinute / 60, perMinute, now, 1);
    this.#links = new RateLimiter(perLinkPerMinute / 60, perLinkPerMinute, now, MAX_LINK_BUCKETS);
    this.#direct = new RateLimiter(perMinute / 60, perMinute, now, 1);
  }

  /**
   * Takes one newcomer that arrived over `link`, from the node's and the link's budgets, or
   * (`direct`: it is the peer of `link` itself) from the budget of direct ones; false (nothing
   * taken) when spent.
   */
  take(link: string, direct = false): boolean {
    if (direct) return this.#direct.take(ALL);
    if (!this.#links.available(link) || !this.#all.available(ALL)) return false;
    return this.#links.take(link) && this.#all.take(ALL);
  }

  /** Whether every budget of the node is spent (no newcomer can be taken over any link). */
  spent(): boolean {
    return !this.#all.available(ALL) && !this.#direct.available(ALL);
  }
}
