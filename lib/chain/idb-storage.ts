/**
 * A durable ChainStorage for browsers, over IndexedDB. Each append is one readwrite
 * transaction with `durability: 'strict'` (the browser flushes it to disk before reporting
 * it complete) and resolves on its `complete` event: acknowledged appends survive a crash,
 * and a transaction cut by one is rolled back whole, so a chain never ends in a partial
 * append. Every chain of an origin shares one database and one connection.
 *
 * Chromium deletes an origin's IndexedDB when it finds its files corrupt after a crash. A
 * store that held chains leaves a mark outside IndexedDB (util/idb-store.ts); opened empty
 * under that mark it is `lost`, and an author's log does not `create` a chain on it (that
 * would be a second chain under the same id).
 */
import {
  deleteStore,
  identifyStore,
  newStoreId,
  readStoreMark,
  request,
  writeStoreMark,
} from '../util/idb-store.ts';
import { decodeCbor, encodeCbor } from '../wire/cbor.ts';
import { type ChainEntry, entryFields, MAX_SEQUENCE, readEntry } from './entry.ts';
import { ChainError } from './errors.ts';
import type { ChainStorage, StoredChain } from './storage.ts';
import { readTreeHead, type SignedTreeHead, treeHeadFields } from './tree-head.ts';

const ENTRIES = 'entries';
const HEADS = 'heads';
/** The store's id (`store`), also written in its mark. */
const META = 'meta';
const markOf = (name: string) => `weftmesh-chain-store.${name}`;
const LIMITS = { maxDepth: 2, maxItems: 16 };

function failed(what: string, error: unknown): ChainError {
  if (error instanceof ChainError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ChainError('storage-failed', `IndexedDB ${what}: ${message}`, { cause: error });
}

export class IndexedDbChainStorage implements ChainStorage {
  readonly #db: IDBDatabase;
  readonly #name: string;
  /** The store's id once it holds chains (then also in its mark). */
  #id: string | undefined;
  #lost: boolean;
  /** The append carrying the store's new id, and its mark, while in progress. */
  #identifying: Promise<void> | undefined;
  #closed = false;

  private constructor(db: IDBDatabase, name: string, id: string | undefined, lost: boolean) {
    this.#db = db;
    this.#name = name;
    this.#id = id;
    this.#lost = lost;
  }

  /** Opens (creating if needed) the database `name` of this origin's IndexedDB. */
  static async open(
    name = 'weftmesh-chains',
    factory: IDBFactory = globalThis.indexedDB,
  ): Promise<IndexedDbChainStorage> {
    if (!factory) throw new ChainError('storage-failed', 'IndexedDB is not available in this runtime');
    let db: IDBDatabase;
    try {
      const req = factory.open(name, 2);
      req.onupgradeneeded = () => {
        for (const store of [ENTRIES, HEADS, META])
          if (!req.result.objectStoreNames.contains(store)) req.result.createObjectStore(store);
      };
      db = await request(req);
    } catch (e) {
      throw failed('open', e);
    }
    try {
      const tx = db.transaction([META, HEADS], 'readonly');
      const [idRaw, heads] = await Promise.all([
        request(tx.objectStore(META).get('store')),
        request(tx.objectStore(HEADS).count()),
      ]);
      const mark = await readStoreMark(markOf(name));
      const id = typeof idRaw === 'string' ? idRaw : undefined;
      const storage = new IndexedDbChainStorage(db, name, id, !!mark && mark !== id);
      // A store of an earlier version that holds chains: give it its id and mark now.
      if (id === undefined && heads > 0 && !mark) await storage.#identify();
      else if (id !== undefined && mark === undefined) await writeStoreMark(markOf(name), id);
      return storage;
    } catch (e) {
      db.close();
      throw failed('open', e);
    }
  }

  /**
   * Deletes the database `name` and its mark: for an author who accepts that a `lost` store's
   * chains are gone for good (no replica holds them) and starts over. Close the store first.
   */
  static async reset(name = 'weftmesh-chains', factory: IDBFactory = globalThis.indexedDB): Promise<void> {
    try {
      await deleteStore(factory, name, markOf(name));
    } catch (e) {
      throw failed('delete', e);
    }
  }

  /** This store held chains and the browser lost them (see the file's comment); false once it holds chains again. */
  get lost(): boolean {
    return this.#lost;
  }

  async #identify(): Promise<void> {
    this.#id = await identifyStore(this.#db, META, markOf(this.#name));
    this.#lost = false;
  }

  async load(chainId: string): Promise<StoredChain | undefined> {
    this.#check();
    try {
      const tx = this.#db.transaction([ENTRIES, HEADS], 'readonly');
      const [values, head] = await Promise.all([
        request(tx.objectStore(ENTRIES).getAll(range(chainId))),
        request(tx.objectStore(HEADS).get(chainId)),
      ]);
      if (values.length === 0 && head === undefined) return undefined;
      return {
        entries: values.map((v) => readEntry(decodeCbor(v as Uint8Array, LIMITS))),
        head: head === undefined ? undefined : readTreeHead(decodeCbor(head as Uint8Array, LIMITS)),
      };
    } catch (e) {
      throw failed('load', e);
    }
  }

  async append(chainId: string, entries: readonly ChainEntry[], head?: SignedTreeHead): Promise<void> {
    // Until the store has an id, appends go one at a time: the first carries the id in its
    // own transaction (both or neither: a separate write that failed after the entries' would
    // report stored entries as not stored, and every later append would fail with `gap`) and
    // writes the mark once it committed; the others wait for all of that (an append
    // acknowledged before the mark exists would be lost unnoticed with the database), and one
    // carries the id itself if that append failed.
    while (this.#id === undefined && this.#identifying) await this.#identifying.catch(() => {});
    if (this.#id !== undefined) return this.#write(chainId, entries, head);
    const id = newStoreId();
    const carrying = this.#write(chainId, entries, head, id).then(async () => {
      this.#id = id;
      this.#lost = false;
      await writeStoreMark(markOf(this.#name), id);
    });
    this.#identifying = carrying;
    try {
      await carrying;
    } finally {
      if (this.#identifying === carrying) this.#identifying = undefined;
    }
  }

  #write(chainId: string, entries: readonly ChainEntry[], head?: SignedTreeHead, id?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.#check();
        const scope = id === undefined ? [ENTRIES, HEADS] : [ENTRIES, HEADS, META];
        const tx = this.#db.transaction(scope, 'readwrite', { durability: 'strict' });
        const store = tx.objectStore(ENTRIES);
        let refused: ChainError | undefined;
        tx.oncomplete = () => resolve();
        tx.onabort = () => reject(refused ?? failed('append', tx.error));
        const first = entries[0];
        // Within the transaction: the entries must follow the stored ones.
        const counted = store.count(range(chainId));
        counted.onsuccess = () => {
          if (first && first.sequence !== counted.result) {
            refused = new ChainError(
              'gap',
              `storage holds ${counted.result} entries, got sequence ${first.sequence}`,
            );
            tx.abort();
            return;
          }
          try {
            for (const e of entries) store.put(encodeCbor(entryFields(e)), [chainId, e.sequence]);
            if (head) tx.objectStore(HEADS).put(encodeCbor(treeHeadFields(head)), chainId);
            if (id !== undefined) tx.objectStore(META).put(id, 'store');
          } catch (e) {
            // A put refused at once (quota, a closing database): none of the append is kept,
            // and the error says why (a throw from here would abort it as an "uncaught exception").
            refused = failed('append', e);
            tx.abort();
          }
        };
      } catch (e) {
        reject(failed('append', e));
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#db.close();
  }

  #check(): void {
    if (this.#closed) throw new ChainError('closed', 'chain storage closed');
  }
}

function range(chainId: string): IDBKeyRange {
  return IDBKeyRange.bound([chainId, 0], [chainId, MAX_SEQUENCE]);
}
