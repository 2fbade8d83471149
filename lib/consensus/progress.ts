/**
 * What a leader knows of one follower's log (etcd's Progress): the highest index known to
 * match, the next to send, and how it sends — one probe at a time until it finds where the
 * logs agree, then a bounded window of appends in flight, or a snapshot in chunks.
 */

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The last indexes of appends in flight, oldest first, at most `capacity`. */
export class Inflights {
  readonly capacity: number;
  #items: number[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get count(): number {
    return this.#items.length;
  }

  full(): boolean {
    return this.#items.length >= this.capacity;
  }

  add(lastIndex: number): void {
    this.#items.push(lastIndex);
  }

  /** Frees every append up to `index` (acknowledged). */
  freeTo(index: number): void {
    let n = 0;
    while (n < this.#items.length && this.#items[n]! <= index) n++;
    if (n > 0) this.#items.splice(0, n);
  }

  /** Frees the oldest (a heartbeat answered while the window is full: appends may have been lost). */
  freeFirst(): void {
    this.#items.shift();
  }

  reset(): void {
    this.#items = [];
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Probe state: one append is out, wait for its answer (or a heartbeat's). */
  probeSent = false;
  /** Snapshot state: the index of the snapshot being sent and how many bytes the follower holds. */
  pendingSnapshot = 0;
  snapshotOffset = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = true;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    this.next =
      this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.state = 'probe';
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.inflights.reset();
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.snapshotOffset = 0;
    this.inflights.reset();
  }

  /** An append up to `index` was acknowledged; false when that is old news. */
  maybeUpdate(index: number): boolean {
    const updated = this.match < index;
    if (updated) {
      this.match = index;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Appends up to `last` were sent (replicate state: optimistically move on). */
  sentEntries(last: number): void {
    if (this.state === 'replicate') {
      this.next = last + 1;
      this.inflights.add(last);
    } else if (this.state === 'probe') this.probeSent = true;
  }

  /**
   * The follower refused an append at prevIndex `rejected`; `hint` is where the leader's
   * log may agree with it (from the follower's conflict hint). False when the refusal is stale.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    if (this.state === 'probe') return this.probeSent;
    if (this.state === 'replicate') return this.inflights.full();
    return true;
  }
}
