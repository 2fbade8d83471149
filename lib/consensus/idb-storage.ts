/**
 * A durable ConsensusStorage for browsers (a tab can be a voter), over IndexedDB: the log in
 * the object store `entries` (keyed by index), the hard state and the snapshot in `meta`.
 * The calls an owner makes with a ready record update memory and queue their writes;
 * `flush()` applies them in one readwrite transaction with `durability: 'strict'` (flushed to
 * disk before it reports complete) and resolves on its `complete` event, so MeshConsensus
 * sends the record's messages only once it is durable. A transaction cut by a crash is
 * rolled back whole: the state reopened is that of the last completed flush.
 */
import { deleteStore, identifyStore, readStoreMark, request, writeStoreMark } from '../util/idb-store.ts';
import { decodeCbor, encodeCbor } from '../wire/cbor.ts';
import { ConsensusError } from './errors.ts';
import { type Entry, parseEntry, type Snapshot } from './messages.ts';
import {
  MirroredConsensusStorage,
  parseHardState,
  parseSnapshot,
  type StorageChange,
} from './mirrored-storage.ts';
import { type HardState, isPristine, MemoryConsensusStorage } from './storage.ts';

const ENTRIES = 'entries';
const META = 'meta';
const LIMITS = { maxDepth: 8, maxItems: 1 << 16 };
/** The store's mark outside IndexedDB (util/idb-store.ts). */
const markOf = (name: string) => `weftmesh-raft-store.${name}`;

type Op = { t: 'append'; entries: readonly Entry[] } | { t: 'cut'; upTo: number };

function failed(what: string, error: unknown): ConsensusError {
  if (error instanceof ConsensusError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ConsensusError('storage-failed', `IndexedDB ${what}: ${message}`, { cause: error });
}

export class IndexedDbConsensusStorage extends MirroredConsensusStorage {
  readonly #db: IDBDatabase;
  #ops: Op[] = [];
  #hard: HardState | undefined;
  #snapshot: Snapshot | undefined;

  private constructor(db: IDBDatabase, mem: MemoryConsensusStorage) {
    super(mem);
    this.#db = db;
  }

  /**
   * Opens (creating if needed) the database `name` of this origin. A new store's log starts
   * with `voters` as its first configuration (ignored when the store exists). Rejects with
   * `storage-lost` when a store of this name was made on this origin before (util/idb-store.ts)
   * and IndexedDB no longer holds it: this node may have voted, and must rejoin (reset()).
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
      const [snapRaw, hardRaw, idRaw] = await Promise.all([
        request(tx.objectStore(META).get('snapshot')),
        request(tx.objectStore(META).get('hard')),
        request(tx.objectStore(META).get('store')),
      ]);
      const stored = typeof idRaw === 'string' ? idRaw : undefined;
      const mark = await readStoreMark(markOf(name));
      const fresh = stored === undefined && snapRaw === undefined && hardRaw === undefined;
      if (mark && (fresh || (stored !== undefined && stored !== mark)))
        throw new ConsensusError(
          'storage-lost',
          `the consensus store "${name}" was made on this origin before and IndexedDB no longer holds it ` +
            '(Chromium deletes a database it finds corrupt after a crash): this node may have voted, so it ' +
            'must rejoin: IndexedDbConsensusStorage.reset(name), then open with no voters and have the leader add it',
        );
      const mem = new MemoryConsensusStorage();
      const snap =
        snapRaw === undefined ? undefined : parseSnapshot(decodeCbor(snapRaw as Uint8Array, LIMITS));
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
      const hard =
        hardRaw === undefined ? undefined : parseHardState(decodeCbor(hardRaw as Uint8Array, LIMITS));
      if (hard) mem.setHardState(hard);
      const store = new IndexedDbConsensusStorage(db, mem);
      // Voters found only a store that holds nothing yet (one opened before without them has a
      // term or entries: they are ignored then, as the file store does).
      if (voters.length > 0 && isPristine(mem)) {
        store.bootstrap(voters);
        await store.flush();
      }
      if (stored === undefined) await identifyStore(db, META, markOf(name));
      else if (mark === undefined) await writeStoreMark(markOf(name), stored);
      return store;
    } catch (e) {
      db.close();
      throw failed('open', e);
    }
  }

  /**
   * Deletes the database `name` and its mark, for a node that is to rejoin after `storage-lost`
   * (or to leave the cluster's consensus for good). Close any open store of that name first.
   */
  static async reset(name = 'weftmesh-raft', factory: IDBFactory = globalThis.indexedDB): Promise<void> {
    try {
      await deleteStore(factory, name, markOf(name));
    } catch (e) {
      throw failed('delete', e);
    }
  }

  protected changed(c: StorageChange): void {
    if (c.t === 'hard') this.#hard = c.hard;
    else if (c.t === 'append') this.#ops.push({ t: 'append', entries: c.entries });
    else {
      if (c.t === 'snapshot') this.#ops.push({ t: 'cut', upTo: c.upTo });
      this.#snapshot = this.mem.snapshot();
    }
  }

  /** Writes what the changes since the last flush changed, in one strict transaction. */
  protected write(): Promise<void> {
    const ops = this.#ops;
    const hard = this.#hard;
    const snapshot = this.#snapshot;
    this.#ops = [];
    this.#hard = undefined;
    this.#snapshot = undefined;
    if (ops.length === 0 && !hard && !snapshot) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const fail = (e: unknown) => reject(e instanceof Error ? e : new Error(String(e)));
      let tx: IDBTransaction | undefined;
      try {
        tx = this.#db.transaction([ENTRIES, META], 'readwrite', { durability: 'strict' });
        const t = tx;
        t.oncomplete = () => resolve();
        t.onabort = () => fail(t.error);
        const entries = t.objectStore(ENTRIES);
        for (const op of ops) {
          if (op.t === 'cut') entries.delete(IDBKeyRange.upperBound(op.upTo));
          else {
            entries.delete(IDBKeyRange.lowerBound(op.entries[0]!.index));
            for (const e of op.entries) entries.put(encodeCbor(e), e.index);
          }
        }
        const meta = t.objectStore(META);
        if (snapshot) meta.put(encodeCbor(snapshot), 'snapshot');
        if (hard) meta.put(encodeCbor(hard), 'hard');
      } catch (e) {
        // Nothing of a flush that failed half-way may commit (a cut without its snapshot).
        try {
          tx?.abort();
        } catch {
          // already finished or aborted
        }
        fail(e);
      }
    });
  }

  protected async release(): Promise<void> {
    this.#db.close();
  }

  protected failure(what: string, error: unknown): ConsensusError {
    return failed(what, error);
  }
}
