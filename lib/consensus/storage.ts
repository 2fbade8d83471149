/**
 * Where a Raft core's durable state lives. The core only reads it (at start and for entries
 * it no longer holds in memory); the owner writes what each ready record says to persist,
 * before sending that record's messages (see `Ready` in raft.ts).
 */
import { ConsensusError } from './errors.ts';
import type { Entry, Snapshot } from './messages.ts';

/** What must survive a restart besides the log: the current term, the vote cast in it, the commit index. */
export interface HardState {
  readonly term: number;
  /** The candidate voted for in `term` ('' for none). */
  readonly vote: string;
  readonly commit: number;
}

export const emptyHardState: HardState = { term: 0, vote: '', commit: 0 };

/** The read side the core uses. Indexes below `firstIndex()` are compacted into `snapshot()`. */
export interface ConsensusStorage {
  hardState(): HardState;
  /** The newest snapshot (index 0 and the initial voters for a fresh log). */
  snapshot(): Snapshot;
  /** Index of the first entry held: `snapshot().index + 1`. */
  firstIndex(): number;
  /** Index of the last entry held (`snapshot().index` when none). */
  lastIndex(): number;
  /** Term of entry `index`, for `firstIndex() - 1 ≤ index ≤ lastIndex()`; undefined outside. */
  term(index: number): number | undefined;
  /** Entries [lo, hi) with firstIndex() ≤ lo ≤ hi ≤ lastIndex() + 1. */
  entries(lo: number, hi: number): Entry[];
}

/**
 * A storage an owner can write: the three calls it makes with each ready record
 * (`applySnapshot`, `append`, `setHardState`, in that order), compaction, and `bootstrap`
 * for a node that founds a group. Durable implementations make the calls durable by
 * `flush()`.
 */
export interface WritableConsensusStorage extends ConsensusStorage {
  setHardState(hard: HardState): void;
  append(entries: readonly Entry[]): void;
  applySnapshot(snapshot: Snapshot): void;
  compact(index: number, voters: readonly string[], data: Uint8Array): void;
  /**
   * Sets the first configuration of a pristine log (no term, no entries, no snapshot): the
   * founding voters. Throws ConsensusError `invalid-argument` on a log that is not pristine.
   */
  bootstrap(voters: readonly string[]): void;
  /**
   * A durable storage: makes every call since the last flush durable (resolving once it is);
   * the owner sends the ready record's messages only then. A storage that is durable when
   * each call returns (or is not durable at all) has none.
   */
  flush?(): Promise<void>;
}

/** Whether a storage holds nothing yet: no term, no vote, no entries, no snapshot, no voters. */
export function isPristine(s: ConsensusStorage): boolean {
  const snap = s.snapshot();
  const hard = s.hardState();
  return snap.index === 0 && snap.voters.length === 0 && s.lastIndex() === 0 && hard.term === 0;
}

/**
 * An in-memory ConsensusStorage (tests, simulations, and a base for durable ones: write
 * through to disk in the same three calls the owner makes after each ready record).
 */
export class MemoryConsensusStorage implements WritableConsensusStorage {
  #hard: HardState = emptyHardState;
  #snapshot: Snapshot;
  /** Entries after the snapshot, #entries[i] at index snapshot.index + 1 + i. */
  #entries: Entry[] = [];

  /** A fresh log whose first configuration is `voters` (every founding member starts with the same set). */
  constructor(voters: readonly string[] = []) {
    this.#snapshot = { index: 0, term: 0, voters: [...voters], data: new Uint8Array(0) };
  }

  hardState(): HardState {
    return this.#hard;
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  firstIndex(): number {
    return this.#snapshot.index + 1;
  }

  lastIndex(): number {
    return this.#snapshot.index + this.#entries.length;
  }

  term(index: number): number | undefined {
    const base = this.#snapshot.index;
    if (index === base) return this.#snapshot.term;
    if (index < base || index > this.lastIndex()) return undefined;
    return this.#entries[index - base - 1]!.term;
  }

  entries(lo: number, hi: number): Entry[] {
    const base = this.#snapshot.index;
    if (lo <= base || hi > this.lastIndex() + 1 || lo > hi)
      throw new ConsensusError(
        'invalid-argument',
        `entries [${lo}, ${hi}) outside (${base}, ${this.lastIndex()}]`,
      );
    return this.#entries.slice(lo - base - 1, hi - base - 1);
  }

  // ---- what the owner calls with a ready record ----

  setHardState(hard: HardState): void {
    this.#hard = hard;
  }

  /** Appends entries, first dropping any held at or after the first one's index (a leader overwrote them). */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (!first) return;
    const base = this.#snapshot.index;
    if (first.index <= base)
      throw new ConsensusError('invalid-argument', `append at ${first.index} ≤ snapshot ${base}`);
    if (first.index > this.lastIndex() + 1)
      throw new ConsensusError(
        'invalid-argument',
        `append at ${first.index} leaves a gap after ${this.lastIndex()}`,
      );
    this.#entries.length = first.index - base - 1;
    this.#entries.push(...entries);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.#snapshot.index) return;
    this.#snapshot = snapshot;
    this.#entries = [];
  }

  bootstrap(voters: readonly string[]): void {
    if (!isPristine(this))
      throw new ConsensusError('invalid-argument', 'bootstrap of a log that is not pristine');
    this.#snapshot = { ...this.#snapshot, voters: [...voters] };
  }

  // ---- compaction, called by the owner once its state machine has applied `index` ----

  /**
   * Records the state machine image at `index` (applied, so committed) with the voters in
   * force there, and drops the entries it covers. Older or equal snapshots are ignored.
   */
  compact(index: number, voters: readonly string[], data: Uint8Array): void {
    const base = this.#snapshot.index;
    if (index <= base) return;
    const term = this.term(index);
    if (term === undefined)
      throw new ConsensusError('invalid-argument', `compact at ${index} beyond ${this.lastIndex()}`);
    this.#snapshot = { index, term, voters: [...voters], data };
    this.#entries = this.#entries.slice(index - base);
  }
}
