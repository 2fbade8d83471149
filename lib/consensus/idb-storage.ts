/**
 * A durable ConsensusStorage for browsers (a tab can be a voter), over IndexedDB: the log in
 * the object store `entries` (keyed by index), the hard state and the snapshot in `meta`.
 * The calls an owner makes with a ready record update memory and queue their writes;
 * `flush()` applies them in one readwrite transaction with `durability: 'strict'` (flushed to
 * disk before it reports complete) and resolves on its `complete` event, so MeshConsensus
 * sends the record's messages only once it is durable. A transaction cut by a crash is
 * rolled back whole: the state reopened is that of the last completed flush.
 */
import { decodeCbor, encodeCbor } from '../wire/cbor.ts';
import { ConsensusError } from './errors.ts';
import { type Entry, parseEntry, parseVoters, type Snapshot } from './messages.ts';
import { type HardState, MemoryConsensusStorage, type WritableConsensusStorage } from './storage.ts';

const ENTRIES = 'entries';
const META = 'meta';
const LIMITS = { maxDepth: 8, maxItems: 1 << 16 };

type Op = { t: 'append'; entries: readonly Entry[] } | { t: 'cut'; upTo: number };

function failed(what: string, error: unknown): ConsensusError {
  if (error instanceof ConsensusError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ConsensusError('storage-failed', `IndexedDB ${what}: ${message}`, { cause: error });
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export class IndexedDbConsensusStorage implements WritableConsensusStorage {
  readonly #db: IDBDatabase;
  readonly #mem: MemoryConsensusStorage;
  #ops: Op[] = [];
  #hard: HardState | undefined;
  #snapshot: Snapshot | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #broken: Error | undefined;
  #closed = false;

  private constructor(db: IDBDatabase, mem: MemoryConsensusStorage) {
    this.#db = db;
    this.#mem = mem;
  }

  /**
   * Opens (creating if needed) the database `name` of this origin. A new store's log starts
   * with `voters` as its first configuration (ignored when the store exists).
   */
  static async open(
    name = 'weftmesh-raft',
    voters: readonly string[] = [],
    factory: IDBFactory = globalThis.indexedDB,
  ): Promise<IndexedDbConsensusStorage> {
    if (!factory) throw new ConsensusError('storage-failed', 'IndexedDB is not available in this runtime');
    let db: IDBDatabase;
    try {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore(ENTRIES);
        req.result.createObjectStore(META);
      };
      db = await request(req);
    } catch (e) {
      throw failed('open', e);
    }
    try {
      const tx = db.transaction([ENTRIES, META], 'readonly');
      const [snapRaw, hardRaw] = await Promise.all([
        request(tx.objectStore(META).get('snapshot')),
        request(tx.objectStore(META).get('hard')),
      ]);
      const mem = new MemoryConsensusStorage();
      const snap = snapRaw === undefined ? undefined : snapshotOf(decodeCbor(snapRaw as Uint8Array, LIMITS));
      if (snap && snap.index > 0) mem.applySnapshot(snap);
      else if (snap && snap.voters.length > 0) mem.bootstrap(snap.voters);
      const rows = await request(
        db
          .transaction(ENTRIES, 'readonly')
          .objectStore(ENTRIES)
          .getAll(IDBKeyRange.lowerBound(mem.lastIndex(), true)),
      );
      const entries: Entry[] = [];
      for (const row of rows) {
        const e = parseEntry(decodeCbor(row as Uint8Array, LIMITS));
        if (!e || e.index !== mem.lastIndex() + 1 + entries.length) break;
        entries.push(e);
      }
      mem.append(entries);
      const hard = hardRaw === undefined ? undefined : decodeCbor(hardRaw as Uint8Array, LIMITS);
      if (isHard(hard)) mem.setHardState(hard);
      const store = new IndexedDbConsensusStorage(db, mem);
      if (snap === undefined && voters.length > 0) {
        store.bootstrap(voters);
        await store.flush();
      }
      return store;
    } catch (e) {
      db.close();
      throw failed('open', e);
    }
  }

  hardState(): HardState {
    return this.#mem.hardState();
  }

  snapshot(): Snapshot {
    return this.#mem.snapshot();
  }

  firstIndex(): number {
    return this.#mem.firstIndex();
  }

  lastIndex(): number {
    return this.#mem.lastIndex();
  }

  term(index: number): number | undefined {
    return this.#mem.term(index);
  }

  entries(lo: number, hi: number): Entry[] {
    return this.#mem.entries(lo, hi);
  }

  setHardState(hard: HardState): void {
    this.#mem.setHardState(hard);
    this.#hard = hard;
  }

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.#mem.append(entries);
    this.#ops.push({ t: 'append', entries });
  }

  applySnapshot(snapshot: Snapshot): void {
    const before = this.#mem.snapshot().index;
    this.#mem.applySnapshot(snapshot);
    if (this.#mem.snapshot().index === before) return;
    this.#ops.push({ t: 'cut', upTo: Number.MAX_SAFE_INTEGER });
    this.#snapshot = this.#mem.snapshot();
  }

  compact(index: number, voters: readonly string[], data: Uint8Array): void {
    const before = this.#mem.snapshot().index;
    this.#mem.compact(index, voters, data);
    if (this.#mem.snapshot().index === before) return;
    this.#ops.push({ t: 'cut', upTo: index });
    this.#snapshot = this.#mem.snapshot();
  }

  bootstrap(voters: readonly string[]): void {
    this.#mem.bootstrap(voters);
    this.#snapshot = this.#mem.snapshot();
  }

  /** Writes what the calls since the last flush changed, in one strict transaction. */
  flush(): Promise<void> {
    const run = this.#flushing.then(() => this.#write());
    this.#flushing = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    this.#db.close();
  }

  #write(): Promise<void> {
    if (this.#closed) return Promise.reject(new ConsensusError('storage-failed', 'consensus store closed'));
    if (this.#broken) return Promise.reject(failed('flush (failed earlier)', this.#broken));
    const ops = this.#ops;
    const hard = this.#hard;
    const snapshot = this.#snapshot;
    this.#ops = [];
    this.#hard = undefined;
    this.#snapshot = undefined;
    if (ops.length === 0 && !hard && !snapshot) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const fail = (e: unknown) => {
        // Memory is ahead of the disk from now on: refuse every later flush.
        this.#broken = e instanceof Error ? e : new Error(String(e));
        reject(failed('flush', e));
      };
      try {
        const tx = this.#db.transaction([ENTRIES, META], 'readwrite', { durability: 'strict' });
        tx.oncomplete = () => resolve();
        tx.onabort = () => fail(tx.error);
        const entries = tx.objectStore(ENTRIES);
        for (const op of ops) {
          if (op.t === 'cut') entries.delete(IDBKeyRange.upperBound(op.upTo));
          else {
            entries.delete(IDBKeyRange.lowerBound(op.entries[0]!.index));
            for (const e of op.entries) entries.put(encodeCbor(e), e.index);
          }
        }
        const meta = tx.objectStore(META);
        if (snapshot) meta.put(encodeCbor(snapshot), 'snapshot');
        if (hard) meta.put(encodeCbor(hard), 'hard');
      } catch (e) {
        fail(e);
      }
    });
  }
}

function snapshotOf(v: unknown): Snapshot | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Record<string, unknown>;
  const voters = parseVoters(s.voters);
  if (!voters || !Number.isSafeInteger(s.index) || !Number.isSafeInteger(s.term)) return undefined;
  if (!(s.data instanceof Uint8Array)) return undefined;
  return { index: s.index as number, term: s.term as number, voters, data: s.data };
}

function isHard(v: unknown): v is HardState {
  if (typeof v !== 'object' || v === null) return false;
  const h = v as Record<string, unknown>;
  return Number.isSafeInteger(h.term) && typeof h.vote === 'string' && Number.isSafeInteger(h.commit);
}
