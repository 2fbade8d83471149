/**
 * A durable ChainStorage for Node and Deno (both provide node:fs): every chain of a store
 * shares one append-only file, `chains.log` in the store's directory, and one file
 * descriptor, however many chains it holds.
 *
 * Durability policy: an append resolves only after its record was written and the file
 * fdatasync'ed; appends that arrive while a sync is under way (from any chain) are written
 * and synced together after it (group commit), so many chains cost one sync per round, not
 * one each. The directory is synced once when the file is created. One append call is one
 * record with a CRC-32: after a crash, open() keeps every whole record and truncates the
 * file at the first torn or damaged one — the chain ends at its last acknowledged append (or
 * one after it whose write had completed), never at a partial or invalid one. A record that
 * is damaged in the middle of the file also ends every chain there: what follows it cannot
 * be trusted to be in order. One process at a time may open a directory.
 */
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir } from '../util/durable-file.ts';
import type { ChainEntry } from './entry.ts';
import { ChainError } from './errors.ts';
import { checkRecord, encodeRecord, MAX_RECORD_BODY, RECORD_HEADER, readRecord } from './record.ts';
import { type ChainStorage, checkNext, type StoredChain } from './storage.ts';
import type { SignedTreeHead } from './tree-head.ts';

interface Pending {
  readonly chainId: string;
  readonly bytes: Uint8Array;
  readonly done: (error?: Error) => void;
}

/** Bytes read at once while open() checks the file. */
const SCAN_WINDOW = 16 << 20;

/** What open() found: bytes dropped from a torn or damaged tail. */
export interface FileChainStorageRecovery {
  readonly truncatedBytes: number;
}

export class FileChainStorage implements ChainStorage {
  readonly #fh: FileHandle;
  /** Where each chain's records are: [offset, size] in file order. */
  readonly #index = new Map<string, Array<[number, number]>>();
  /** Entries stored or queued per chain: the next sequence each expects. */
  readonly #next = new Map<string, number>();
  #end: number;
  #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #broken: Error | undefined;
  #closed = false;
  /** What open() dropped from the file's tail. */
  readonly recovery: FileChainStorageRecovery;

  private constructor(fh: FileHandle, end: number, truncatedBytes: number) {
    this.#fh = fh;
    this.#end = end;
    this.recovery = { truncatedBytes };
  }

  /**
   * Opens (creating if needed) the store in `dir`, checking every record and truncating a torn
   * tail. The file is read a window at a time (`scanWindowBytes`, default 16 MiB; a record
   * larger than the window is read whole), so its size is not bounded by what one read can hold.
   */
  static async open(dir: string, opts: { scanWindowBytes?: number } = {}): Promise<FileChainStorage> {
    let fh: FileHandle | undefined;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const path = join(dir, 'chains.log');
      fh = await open(path, 'a+', 0o600);
      const size = (await fh.stat()).size;
      if (size === 0) await syncDir(dir);
      const windowBytes = opts.scanWindowBytes ?? SCAN_WINDOW;
      const file = fh;
      const read = async (at: number, bytes: number) => {
        const b = new Uint8Array(Math.min(bytes, size - at));
        const { bytesRead } = await file.read(b, 0, b.length, at);
        return b.subarray(0, bytesRead);
      };
      const index = new Map<string, Array<[number, number]>>();
      const next = new Map<string, number>();
      let offset = 0;
      let base = 0;
      let buf = await read(0, windowBytes);
      for (;;) {
        let r = checkRecord(buf, offset - base);
        if (!r && base + buf.length < size) {
          // The window may end inside this record: read on from it, the whole record if larger.
          base = offset;
          buf = await read(offset, windowBytes);
          const len = buf.length >= RECORD_HEADER ? new DataView(buf.buffer, buf.byteOffset).getUint32(0) : 0;
          if (RECORD_HEADER + len > buf.length && len <= MAX_RECORD_BODY)
            buf = await read(offset, RECORD_HEADER + len);
          r = checkRecord(buf, 0);
        }
        if (!r || r.first !== (next.get(r.chainId) ?? 0)) break;
        listOf(index, r.chainId).push([offset, r.size]);
        next.set(r.chainId, r.first + r.count);
        offset += r.size;
      }
      if (offset < size) {
        await fh.truncate(offset);
        await fh.sync();
      }
      const store = new FileChainStorage(fh, offset, size - offset);
      for (const [k, v] of index) store.#index.set(k, v);
      for (const [k, v] of next) store.#next.set(k, v);
      return store;
    } catch (e) {
      await fh?.close().catch(() => undefined);
      throw e instanceof ChainError
        ? e
        : new ChainError('storage-failed', `chain store ${dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Chains this store holds. */
  chains(): string[] {
    return [...this.#index.keys()];
  }

  async load(chainId: string): Promise<StoredChain | undefined> {
    this.#check();
    await this.#flushing;
    const records = this.#index.get(chainId);
    if (!records) return undefined;
    const entries: ChainEntry[] = [];
    let head: SignedTreeHead | undefined;
    for (const [offset, size] of records) {
      const buf = new Uint8Array(size);
      try {
        await this.#fh.read(buf, 0, size, offset);
      } catch (e) {
        throw new ChainError('storage-failed', `chain store read: ${(e as Error).message}`, { cause: e });
      }
      const r = readRecord(buf);
      for (const e of r.entries) entries.push(e);
      head = r.head ?? head;
    }
    return { entries, head };
  }

  append(chainId: string, entries: readonly ChainEntry[], head?: SignedTreeHead): Promise<void> {
    try {
      this.#check();
      const stored = this.#next.get(chainId) ?? 0;
      checkNext(chainId, stored, entries);
      const bytes = encodeRecord(chainId, stored, entries, head);
      this.#next.set(chainId, stored + entries.length);
      return new Promise((resolve, reject) => {
        this.#pending.push({ chainId, bytes, done: (error) => (error ? reject(error) : resolve()) });
        this.#flushing ??= this.#flush();
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    await this.#fh.close();
  }

  #check(): void {
    if (this.#closed) throw new ChainError('closed', 'chain store closed');
    if (this.#broken)
      throw new ChainError('storage-failed', `chain store failed earlier: ${this.#broken.message}`, {
        cause: this.#broken,
      });
  }

  /** Writes and syncs what is queued, round after round, until nothing is. */
  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      let size = 0;
      for (const p of batch) size += p.bytes.length;
      const buf = new Uint8Array(size);
      let at = 0;
      for (const p of batch) {
        buf.set(p.bytes, at);
        at += p.bytes.length;
      }
      try {
        let written = 0;
        while (written < size) written += (await this.#fh.write(buf, written, size - written)).bytesWritten;
        await this.#fh.datasync();
      } catch (e) {
        // The file may end in a partial record: cut it (open() would), and refuse from now on.
        this.#broken = e as Error;
        await this.#fh.truncate(this.#end).catch(() => undefined);
        const error = new ChainError('storage-failed', `chain store write: ${(e as Error).message}`, {
          cause: e,
        });
        for (const p of [...batch, ...this.#pending]) p.done(error);
        this.#pending = [];
        break;
      }
      for (const p of batch) {
        listOf(this.#index, p.chainId).push([this.#end, p.bytes.length]);
        this.#end += p.bytes.length;
        p.done();
      }
    }
    this.#flushing = undefined;
  }
}

function listOf<T>(map: Map<string, T[]>, key: string): T[] {
  const list = map.get(key) ?? [];
  map.set(key, list);
  return list;
}
