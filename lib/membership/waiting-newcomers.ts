/**
 * Newcomers over the quota (newcomer-quota.ts) wait here, verified, instead of being refused.
 * A refusal forgot the claim, and the cluster kept offering it: the broadcast tree grafted it
 * from the next announcer, exchanges carried it again, and each copy counted as a duplicate
 * that pruned the links it came over. A legitimate join burst faster than the quota (300
 * nodes joining over 3 s against 2 a second: 3.6× the messages, 4.3 duplicates per
 * delivery, a tree of half its eager links) turned into a storm. Waiting, the claim counts as
 * had: nothing asks for it again, and it is admitted as the quota refills, at the rate the
 * quota was set to.
 *
 * Bounded: at most MAX_WAITING claims, PER_LINK_WAITING of them per link (a flooding link
 * fills its own share, not the others'), each at most WAIT_MS; beyond that a claim is
 * refused as before (and offered again later by an exchange). Admission takes the links in
 * turn, oldest claim first within a link, so a link's backlog does not hold back the
 * newcomers that arrived over the others.
 */
import type { Claim } from './claims.ts';

export const MAX_WAITING = 2_048;
export const PER_LINK_WAITING = 256;
/** A claim that waited this long is dropped: its member may have gone since. */
export const WAIT_MS = 60_000;

interface Waiting {
  claim: Claim;
  since: number;
}

export class WaitingNewcomers {
  /** Link → subject → its claim; both in arrival order (the links rotate as they are served). */
  readonly #byLink = new Map<string, Map<string, Waiting>>();
  /** Subject → the link its claim waits on. */
  readonly #linkOf = new Map<string, string>();

  get size(): number {
    return this.#linkOf.size;
  }

  /**
   * Holds `claim` (a newcomer's alive claim, over quota on `link`): 'waiting' if it now
   * waits, 'known' if its member's claim was already waiting (kept, or replaced by this one
   * if it is newer), 'full' if there is no room (refused).
   */
  hold(claim: Claim, link: string, now: number): 'waiting' | 'known' | 'full' {
    const on = this.#linkOf.get(claim.subject);
    if (on !== undefined) {
      const w = this.#byLink.get(on)!.get(claim.subject)!;
      if (claim.incarnation > w.claim.incarnation) w.claim = claim;
      return 'known';
    }
    const queue = this.#byLink.get(link);
    if (this.size >= MAX_WAITING || (queue?.size ?? 0) >= PER_LINK_WAITING) return 'full';
    if (queue) queue.set(claim.subject, { claim, since: now });
    else this.#byLink.set(link, new Map([[claim.subject, { claim, since: now }]]));
    this.#linkOf.set(claim.subject, link);
    return 'waiting';
  }

  /** Forgets the waiting claim of `subject`, if it is at or below `incarnation` (all: undefined). */
  drop(subject: string, incarnation?: number): void {
    const on = this.#linkOf.get(subject);
    if (on === undefined) return;
    const queue = this.#byLink.get(on)!;
    if (incarnation !== undefined && queue.get(subject)!.claim.incarnation > incarnation) return;
    this.#remove(on, queue, subject);
  }

  /**
   * Admits what the quota allows now: takes the links in turn, each time its oldest claim.
   * `stale(claim)`: the claim is no longer a newcomer's (its member came in another way, or
   * left): dropped. `take(claim, link)`: charge it to the node's and `link`'s budgets; false
   * when they are spent. `spent()`: the node's own budget is spent (stop). `admit` gets
   * each claim that was charged for.
   */
  drain(
    now: number,
    hooks: {
      stale(claim: Claim): boolean;
      take(claim: Claim, link: string): boolean;
      spent(): boolean;
      admit(claim: Claim, link: string): void;
    },
  ): void {
    let progress = true;
    while (progress && this.size > 0 && !hooks.spent()) {
      progress = false;
      for (const [link, queue] of [...this.#byLink]) {
        const next = this.#oldestFresh(link, queue, now, hooks.stale);
        if (next === undefined) continue;
        if (!hooks.take(next.claim, link)) {
          if (hooks.spent()) return;
          continue;
        }
        this.#remove(link, queue, next.claim.subject);
        // Served: its turn comes again after the others'.
        if (queue.size > 0) {
          this.#byLink.delete(link);
          this.#byLink.set(link, queue);
        }
        hooks.admit(next.claim, link);
        progress = true;
        if (hooks.spent()) return;
      }
    }
  }

  /** The oldest claim of `queue` still worth admitting; the expired and stale ones before it are dropped. */
  #oldestFresh(
    link: string,
    queue: Map<string, Waiting>,
    now: number,
    stale: (claim: Claim) => boolean,
  ): Waiting | undefined {
    for (const [subject, w] of queue) {
      if (now - w.since < WAIT_MS && !stale(w.claim)) return w;
      this.#remove(link, queue, subject);
    }
    return undefined;
  }

  #remove(link: string, queue: Map<string, Waiting>, subject: string): void {
    queue.delete(subject);
    this.#linkOf.delete(subject);
    if (queue.size === 0) this.#byLink.delete(link);
  }
}
