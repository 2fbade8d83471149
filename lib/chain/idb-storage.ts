/**
 * A durable ChainStorage for browsers, over IndexedDB. Each append is one readwrite
 * transaction with `durability: 'strict'` (the browser flushes it to disk before reporting
 * it complete) and resolves on its `complete` event: acknowledged appends survive a crash,
 * and a transaction cut by one is rolled back whole, so a chain never ends in a partial
 * append. Every chain of an origin shares one database and one connection.
 */
import { decodeCbor, encodeCbor } from '../wire/cbor.ts';
import { type ChainEntry, entryFields, MAX_SEQUENCE, readEntry } from './entry.ts';
import { ChainError } from './errors.ts';
import type { ChainStorage, StoredChain } from './storage.ts';
import { readTreeHead, type SignedTreeHead, treeHeadFields } from './tree-head.ts';

const ENTRIES = 'entries';
const HEADS = 'heads';
const LIMITS = { maxDepth: 2, maxItems: 16 };

function failed(what: string, error: unknown): ChainError {
  if (error instanceof ChainError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ChainError('storage-failed', `IndexedDB ${what}: ${message}`, { cause: error });
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export class IndexedDbChainStorage implements ChainStorage {
  readonly #db: IDBDatabase;
  #closed = false;

  private constructor(db: IDBDatabase) {
    this.#db = db;
  }

  /** Opens (creating if needed) the database `name` of this origin's IndexedDB. */
  static async open(
    name = 'weftmesh-chains',
    factory: IDBFactory = globalThis.indexedDB,
  ): Promise<IndexedDbChainStorage> {
    if (!factory) throw new ChainError('storage-failed', 'IndexedDB is not available in this runtime');
    try {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore(ENTRIES);
        req.result.createObjectStore(HEADS);
      };
      return new IndexedDbChainStorage(await request(req));
    } catch (e) {
      throw failed('open', e);
    }
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

  append(chainId: string, entries: readonly ChainEntry[], head?: SignedTreeHead): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.#check();
        const tx = this.#db.transaction([ENTRIES, HEADS], 'readwrite', { durability: 'strict' });
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
          for (const e of entries) store.put(encodeCbor(entryFields(e)), [chainId, e.sequence]);
          if (head) tx.objectStore(HEADS).put(encodeCbor(treeHeadFields(head)), chainId);
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
