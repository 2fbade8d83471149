/**
 * The replicated log as the core sees it: the storage's stable part, then the entries (and
 * possibly a snapshot) not yet persisted. Also the commit index and how far entries were
 * handed out for applying.
 */
import type { Entry, Snapshot } from './messages.ts';
import type { ConsensusStorage } from './storage.ts';

/** Rough size of an entry on the wire (for batching limits). */
export function entrySize(e: Entry): number {
  return 24 + (e.kind === 'command' ? e.data.length : e.kind === 'config' ? 32 * e.voters.length : 0);
}

export class RaftLog {
  readonly #storage: ConsensusStorage;
  /** A received snapshot not yet persisted (it replaces everything before it). */
  #snapshot: Snapshot | undefined;
  /** Index of #entries[0]. */
  #offset: number;
  #entries: Entry[] = [];
  committed: number;
  /** Entries up to here were handed out for applying. */
  applied: number;

  constructor(storage: ConsensusStorage) {
    this.#storage = storage;
    this.#offset = storage.lastIndex() + 1;
    const first = storage.firstIndex() - 1;
    this.committed = Math.min(Math.max(storage.hardState().commit, first), storage.lastIndex());
    this.applied = first;
  }

  firstIndex(): number {
    return this.#snapshot ? this.#snapshot.index + 1 : this.#storage.firstIndex();
  }

  lastIndex(): number {
    if (this.#entries.length > 0) return this.#offset + this.#entries.length - 1;
    return this.#snapshot ? this.#snapshot.index : this.#storage.lastIndex();
  }

  /** Term of entry `index`, or undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index >= this.#offset) {
      return index === 0 ? 0 : this.#entries[index - this.#offset]?.term;
    }
    if (this.#snapshot) return index === this.#snapshot.index ? this.#snapshot.term : undefined;
    return this.#storage.term(index);
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** The newest snapshot: the one received and not yet persisted, else the storage's. */
  snapshot(): Snapshot {
    return this.#snapshot ?? this.#storage.snapshot();
  }

  /** Entries [lo, hi) up to about `maxBytes` (at least one), or undefined when lo is compacted. */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    hi = Math.min(hi, this.lastIndex() + 1);
    if (lo >= hi) return [];
    const out: Entry[] = [];
    if (lo < this.#offset) out.push(...this.#storage.entries(lo, Math.min(hi, this.#offset)));
    if (hi > this.#offset)
      out.push(...this.#entries.slice(Math.max(lo, this.#offset) - this.#offset, hi - this.#offset));
    let bytes = 0;
    for (let i = 0; i < out.length; i++) {
      bytes += entrySize(out[i]!);
      if (bytes > maxBytes && i > 0) return out.slice(0, i);
    }
    return out;
  }

  /** True when a log ending at (lastIndex, lastTerm) is at least as up to date as this one (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const t = this.lastTerm();
    return lastTerm > t || (lastTerm === t && lastIndex >= this.lastIndex());
  }

  /** Appends entries, truncating any held from the first one's index on. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (!first) return;
    const at = first.index;
    const end = this.#offset + this.#entries.length;
    if (at === end) this.#entries.push(...entries);
    else if (at <= this.#offset) {
      this.#offset = at;
      this.#entries = [...entries];
    } else this.#entries = [...this.#entries.slice(0, at - this.#offset), ...entries];
  }

  /** Index of the first entry whose term differs from ours (or that we lack); 0 when all match. */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The last index at or below `index` whose term is at most `term` (the first index before
   * the compacted part at worst), with that term: where a leader with a conflicting log may
   * resume (fast back-tracking, §5.3 and etcd's findConflictByTerm).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term || i === 0) return { index: i, term: t };
      i--;
    }
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    this.committed = Math.min(index, this.lastIndex());
    return true;
  }

  /** Marks entries up to `index` persisted, if the one there still has `term` (a later append may have replaced it). */
  stableTo(index: number, term: number): void {
    if (index < this.#offset || this.term(index) !== term) return;
    this.#entries = this.#entries.slice(index + 1 - this.#offset);
    this.#offset = index + 1;
  }

  /** The pending snapshot was persisted. */
  stableSnapshotTo(index: number): void {
    if (this.#snapshot?.index === index) this.#snapshot = undefined;
  }

  /** The last index persisted (as advance() reported); 0 while a received snapshot waits to be. */
  stableIndex(): number {
    return this.#snapshot ? 0 : this.#offset - 1;
  }

  unstableEntries(): readonly Entry[] {
    return this.#entries;
  }

  unstableSnapshot(): Snapshot | undefined {
    return this.#snapshot;
  }

  /** Replaces the whole log with a snapshot (to be persisted and loaded by the owner). */
  restore(snapshot: Snapshot): void {
    this.#snapshot = snapshot;
    this.#offset = snapshot.index + 1;
    this.#entries = [];
    this.committed = snapshot.index;
  }
}
