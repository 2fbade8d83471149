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

  constructor(perMinute: number, perLinkPerMinute: number, now: () => number) {
    this.#all = new RateLimiter(perMinute / 60, perMinute, now, 1);
    this.#links = new RateLimiter(perLinkPerMinute / 60, perLinkPerMinute, now, MAX_LINK_BUCKETS);
  }

  /** Takes one newcomer from the node's and `link`'s budgets; false (nothing taken) if either is spent. */
  take(link: string): boolean {
    if (!this.#links.available(link) || !this.#all.available(ALL)) return false;
    return this.#links.take(link) && this.#all.take(ALL);
  }

  /** Whether the node's own budget is spent (no newcomer can be taken over any link). */
  spent(): boolean {
    return !this.#all.available(ALL);
  }
}
