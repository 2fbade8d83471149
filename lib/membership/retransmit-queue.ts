/**
 * The transmit-limited broadcast queue (memberlist's TransmitLimitedQueue): each update is
 * sent a bounded number of times, least-sent first and newest first among equals, packed
 * into a byte budget. A newer claim about a member replaces what is queued about it.
 *
 * Unlike memberlist's, it remembers which neighbours already have each update (sent to
 * them, or received from them) and never sends it to them again: over a bounded set of
 * links that turns random re-sends into a flood that crosses each link about once, and an
 * update retires as soon as every neighbour has it.
 *
 * Entries live in one bucket per transmit count (newest at the end), so taking a few
 * claims from a deep queue costs a few steps, not a sort.
 */
import { equalBytes } from '../util/bytes.ts';
import type { Claim } from './claims.ts';

interface Entry {
  claim: Claim;
  key: string;
  transmits: number;
  live: boolean;
  /** Neighbours known to have this claim (a short array: at most one per link). */
  informed: string[];
}

/** Entries of one transmit count, newest last. Dropped entries stay as holes until compaction. */
interface Bucket {
  items: Array<Entry | undefined>;
  holes: number;
}

/** Smallest claim worth looking for once the budget is nearly used. */
const MIN_CLAIM_BYTES = 100;
/**
 * Entries one take() looks at, at most. In a deep queue most entries may already be known to
 * the peer; scanning all of them for every message would make gossip O(queue) per message.
 */
const MAX_SCAN = 256;

export class RetransmitQueue {
  readonly #byKey = new Map<string, Entry>();
  /** Suspicion entries per subject (their keys name the accuser too); everything else is keyed by subject. */
  readonly #suspicionsOf = new Map<string, string[]>();
  readonly #buckets: Bucket[] = [];
  readonly #maxDepth: number;
  readonly #onPush: (() => void) | undefined;

  /** `onPush`: told after every claim queued (the gossip tick re-arms on it). */
  constructor(maxDepth: number, onPush?: () => void) {
    this.#maxDepth = maxDepth;
    this.#onPush = onPush;
  }

  get size(): number {
    return this.#byKey.size;
  }

  /**
   * Queues a claim. Independent accusers' suspicions of one member are kept side by side
   * (they are confirmations); any other claim replaces everything queued about its subject.
   */
  push(claim: Claim, from?: string): void {
    const key = keyOf(claim);
    if (claim.kind === 'suspect') this.#drop(key);
    else this.forget(claim.subject);
    const entry: Entry = {
      claim,
      key,
      transmits: 0,
      live: true,
      informed: from === undefined ? [] : [from],
    };
    this.#byKey.set(key, entry);
    if (claim.kind === 'suspect') {
      const keys = this.#suspicionsOf.get(claim.subject);
      if (keys) keys.push(key);
      else this.#suspicionsOf.set(claim.subject, [key]);
    }
    this.#bucket(0).items.push(entry);
    if (this.#byKey.size > this.#maxDepth) this.#prune();
    this.#onPush?.();
  }

  /** `peer` evidently has `claim` (it sent it to us): do not send it back. */
  markKnown(claim: Claim, peer: string): void {
    const e = this.#byKey.get(keyOf(claim));
    if (e && (e.claim === claim || equalBytes(e.claim.wire.s, claim.wire.s)) && !e.informed.includes(peer)) {
      e.informed.push(peer);
    }
  }

  /**
   * Takes claims for `peer` fitting in `budget` bytes, least-sent then newest first,
   * skipping what `peer` already has; counts one transmission each and retires those sent
   * `limit` times or known to all `neighbours` (the current link count).
   */
  take(budget: number, limit: number, peer: string, neighbours: number): Claim[] {
    const out: Claim[] = [];
    const moved: Entry[][] = [];
    let used = 0;
    let scanned = 0;
    for (let t = 0; t < this.#buckets.length && budget - used >= MIN_CLAIM_BYTES && scanned < MAX_SCAN; t++) {
      const bucket = this.#buckets[t]!;
      const up: Entry[] = [];
      for (
        let i = bucket.items.length - 1;
        i >= 0 && budget - used >= MIN_CLAIM_BYTES && scanned < MAX_SCAN;
        i--
      ) {
        const e = bucket.items[i];
        if (!e?.live) continue;
        scanned++;
        if (used + e.claim.size > budget || e.informed.includes(peer)) continue;
        used += e.claim.size;
        out.push(e.claim);
        bucket.items[i] = undefined;
        bucket.holes++;
        e.transmits++;
        e.informed.push(peer);
        if (e.transmits >= limit || e.informed.length >= neighbours) this.#unindex(e);
        else up.push(e);
      }
      this.#tidy(bucket);
      moved.push(up);
    }
    // Promote only after the scan, so one call never takes an entry twice.
    moved.forEach((up, t) => {
      if (up.length === 0) return;
      const next = this.#bucket(t + 1);
      // Oldest first, so the newest stays at the end of its new bucket.
      for (let i = up.length - 1; i >= 0; i--) next.items.push(up[i]);
    });
    return out;
  }

  /** Drops everything queued about a member. */
  forget(subject: string): void {
    this.#drop(subject);
    const keys = this.#suspicionsOf.get(subject);
    if (keys) for (const k of [...keys]) this.#drop(k);
  }

  #bucket(t: number): Bucket {
    while (this.#buckets.length <= t) this.#buckets.push({ items: [], holes: 0 });
    return this.#buckets[t]!;
  }

  #drop(key: string): void {
    const e = this.#byKey.get(key);
    if (!e) return;
    this.#unindex(e);
    const bucket = this.#buckets[e.transmits]!;
    bucket.holes++;
    this.#tidy(bucket);
  }

  /** Removes an entry from the indexes; its bucket slot becomes a hole (counted by the caller). */
  #unindex(e: Entry): void {
    e.live = false;
    this.#byKey.delete(e.key);
    if (e.claim.kind !== 'suspect') return;
    const keys = this.#suspicionsOf.get(e.claim.subject);
    if (!keys) return;
    const at = keys.indexOf(e.key);
    if (at >= 0) keys.splice(at, 1);
    if (keys.length === 0) this.#suspicionsOf.delete(e.claim.subject);
  }

  /** Pops trailing holes; compacts (keeping order) once holes are half the bucket. */
  #tidy(bucket: Bucket): void {
    const items = bucket.items;
    while (items.length > 0 && !items[items.length - 1]?.live) {
      items.pop();
      bucket.holes--;
    }
    if (bucket.holes * 2 <= items.length) return;
    let w = 0;
    for (const e of items) if (e?.live) items[w++] = e;
    items.length = w;
    bucket.holes = 0;
  }

  /** Over depth: drop the most-sent, oldest entries first. */
  #prune(): void {
    for (let t = this.#buckets.length - 1; t >= 0 && this.#byKey.size > this.#maxDepth; t--) {
      for (const e of [...this.#buckets[t]!.items]) {
        if (this.#byKey.size <= this.#maxDepth) break;
        if (e?.live) this.#drop(e.key);
      }
    }
  }
}

/** Independent accusers' suspicions of one member are separate entries; everything else is per member. */
function keyOf(claim: Claim): string {
  return claim.kind === 'suspect' ? `${claim.subject}/${claim.signer}` : claim.subject;
}
