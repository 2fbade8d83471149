/**
 * What the durable consensus storages (a file, IndexedDB) share: the whole state is kept in
 * memory (a MemoryConsensusStorage) and read from there; each change is applied to memory and
 * handed to the store to write at the next flush(). Flushes run one at a time; once one
 * failed, what the medium holds may lag memory, so every later flush is refused.
 */
import { ConsensusError } from './errors.ts';
import { type Entry, parseVoters, type Snapshot } from './messages.ts';
import type { HardState, MemoryConsensusStorage, WritableConsensusStorage } from './storage.ts';

/** A change since the last flush, as a store writes it. */
export type StorageChange =
  | { t: 'hard'; hard: HardState }
  | { t: 'append'; entries: readonly Entry[] }
  /** A snapshot replaced the log up to `upTo` (now `mem.snapshot()`). */
  | { t: 'snapshot'; upTo: number }
  | { t: 'bootstrap'; voters: readonly string[] };

export abstract class MirroredConsensusStorage implements WritableConsensusStorage {
  protected readonly mem: MemoryConsensusStorage;
  #flushing: Promise<void> = Promise.resolve();
  #broken: unknown;
  #closed = false;

  protected constructor(mem: MemoryConsensusStorage) {
    this.mem = mem;
  }

  hardState(): HardState {
    return this.mem.hardState();
  }

  snapshot(): Snapshot {
    return this.mem.snapshot();
  }

  firstIndex(): number {
    return this.mem.firstIndex();
  }

  lastIndex(): number {
    return this.mem.lastIndex();
  }

  term(index: number): number | undefined {
    return this.mem.term(index);
  }

  entries(lo: number, hi: number): Entry[] {
    return this.mem.entries(lo, hi);
  }

  setHardState(hard: HardState): void {
    this.mem.setHardState(hard);
    this.changed({ t: 'hard', hard });
  }

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.mem.append(entries);
    this.changed({ t: 'append', entries });
  }

  applySnapshot(snapshot: Snapshot): void {
    const before = this.mem.snapshot().index;
    this.mem.applySnapshot(snapshot);
    if (this.mem.snapshot().index !== before) this.changed({ t: 'snapshot', upTo: Number.MAX_SAFE_INTEGER });
  }

  compact(index: number, voters: readonly string[], data: Uint8Array): void {
    const before = this.mem.snapshot().index;
    this.mem.compact(index, voters, data);
    if (this.mem.snapshot().index !== before) this.changed({ t: 'snapshot', upTo: index });
  }

  bootstrap(voters: readonly string[]): void {
    this.mem.bootstrap(voters);
    this.changed({ t: 'bootstrap', voters });
  }

  /** Makes what the calls since the last flush changed durable (one flush at a time). */
  flush(): Promise<void> {
    const run = this.#flushing.then(() => this.#write());
    this.#flushing = run.catch(() => undefined);
    return run;
  }

  /** Waits for a flush under way, then closes the store (it cannot be used after). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    await this.release();
  }

  async #write(): Promise<void> {
    if (this.#closed) throw new ConsensusError('storage-failed', 'consensus store closed');
    if (this.#broken !== undefined) throw this.failure('flush (failed earlier)', this.#broken);
    try {
      await this.write();
    } catch (e) {
      this.#broken = e;
      throw this.failure('flush', e);
    }
  }

  /** Records a change to write at the next flush. @internal */
  protected abstract changed(change: StorageChange): void;
  /** Writes the changes recorded since the last flush, durably. @internal */
  protected abstract write(): Promise<void>;
  /** Releases the medium (file handle, database). @internal */
  protected abstract release(): Promise<void>;
  /** The `storage-failed` error for a failure of `what`. @internal */
  protected abstract failure(what: string, error: unknown): ConsensusError;
}

/** A stored hard state, or undefined when it is not one. */
export function parseHardState(v: unknown): HardState | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { term, vote, commit } = v as Record<string, unknown>;
  if (!Number.isSafeInteger(term) || typeof vote !== 'string' || !Number.isSafeInteger(commit))
    return undefined;
  return { term: term as number, vote, commit: commit as number };
}

/** A stored snapshot, or undefined when it is not one. */
export function parseSnapshot(v: unknown): Snapshot | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Record<string, unknown>;
  const voters = parseVoters(s.voters);
  if (!voters || !Number.isSafeInteger(s.index) || !Number.isSafeInteger(s.term)) return undefined;
  if (!(s.data instanceof Uint8Array)) return undefined;
  return { index: s.index as number, term: s.term as number, voters, data: s.data };
}
