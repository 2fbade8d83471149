/**
 * Where chains are kept. A ChainLog loads its chain at open and hands every append to its
 * storage, and acknowledges (resolves `append`) only when the storage resolved: a durable
 * backend resolves once the entries are on disk. Entries of one chain are appended in
 * sequence order and never rewritten.
 */
import type { ChainEntry } from './entry.ts';
import { ChainError } from './errors.ts';
import type { SignedTreeHead } from './tree-head.ts';

/** What a storage holds of one chain. */
export interface StoredChain {
  /** Every entry, in sequence order from 0. */
  readonly entries: readonly ChainEntry[];
  /** The last tree head stored (it may cover fewer entries than are stored, after a crash). */
  readonly head: SignedTreeHead | undefined;
}

export interface ChainStorage {
  /** The chain as stored, or undefined when this storage holds none of it. */
  load(chainId: string): Promise<StoredChain | undefined>;
  /**
   * Appends entries (the next sequences of the chain) and, if given, the head that covers
   * them. Resolves once they are durable; rejects with ChainError (`gap`, `storage-failed`,
   * `closed`) and then may have kept any prefix of them.
   */
  append(chainId: string, entries: readonly ChainEntry[], head?: SignedTreeHead): Promise<void>;
  /** Releases what the storage holds open (files, databases). */
  close(): Promise<void>;
  /**
   * True when this storage held chains and its backend lost them (IndexedDbChainStorage: the
   * browser deleted the database): an author's log opened on it does not `create` a chain.
   */
  readonly lost?: boolean;
}

/** The next sequence a storage expects, checked by every backend. */
export function checkNext(chainId: string, stored: number, entries: readonly ChainEntry[]): void {
  const first = entries[0];
  if (first && first.sequence !== stored)
    throw new ChainError(
      'gap',
      `chain ${chainId.slice(0, 8)}: storage holds ${stored} entries, got sequence ${first.sequence}`,
    );
}

/** Chains in memory: the default; forgets everything when the process ends. */
export class MemoryChainStorage implements ChainStorage {
  readonly #chains = new Map<string, { entries: ChainEntry[]; head: SignedTreeHead | undefined }>();
  #closed = false;

  async load(chainId: string): Promise<StoredChain | undefined> {
    const c = this.#chains.get(chainId);
    return c && { entries: [...c.entries], head: c.head };
  }

  async append(chainId: string, entries: readonly ChainEntry[], head?: SignedTreeHead): Promise<void> {
    if (this.#closed) throw new ChainError('closed', 'chain storage closed');
    const c = this.#chains.get(chainId) ?? { entries: [], head: undefined };
    checkNext(chainId, c.entries.length, entries);
    this.#chains.set(chainId, c);
    for (const e of entries) c.entries.push(e);
    if (head) c.head = head;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
