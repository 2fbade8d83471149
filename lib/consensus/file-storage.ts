/**
 * A durable ConsensusStorage for Node and Deno (both provide node:fs): `raft.log` in the
 * store's directory, an append-only file of records, each `[u32 length][u32 check][CBOR
 * body]` (check: the first 4 bytes of SHA-256 of the body). A body is a hard state, a run
 * of entries (replacing any held from the first one's index on), a bootstrap voter set, or
 * an image (snapshot, the entries after it, the hard state) that starts the file.
 *
 * Durability policy: the calls an owner makes with a ready record (`applySnapshot`,
 * `append`, `setHardState`) update memory and queue records; `flush()` writes them and
 * fdatasyncs the file, and MeshConsensus sends the record's messages only once it resolved.
 * After a snapshot was installed or the log compacted, `flush()` writes a fresh image to
 * `raft.log.tmp`, syncs it, renames it over `raft.log` and syncs the directory, so the file
 * stays about the size of the state. `open()` replays every whole record and truncates the
 * file at the first torn or damaged one: the state is that of the last completed flush (or
 * a later one whose write had completed). One process at a time may open a directory.
 */

import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { concatBytes } from '../util/bytes.ts';
import { syncDir, writeAll } from '../util/durable-file.ts';
import { sha256 } from '../util/sha256.ts';
import { decodeCbor, encodeCbor } from '../wire/cbor.ts';
import { ConsensusError } from './errors.ts';
import { type Entry, parseEntry, parseVoters, type Snapshot } from './messages.ts';
import {
  MirroredConsensusStorage,
  parseHardState,
  parseSnapshot,
  type StorageChange,
} from './mirrored-storage.ts';
import { type HardState, MemoryConsensusStorage } from './storage.ts';

const FILE = 'raft.log';
const HEADER = 8;
const LIMITS = { maxDepth: 8, maxItems: 1 << 22 };

/** What open() found: bytes dropped from a torn or damaged tail. */
export interface FileConsensusStorageRecovery {
  readonly truncatedBytes: number;
}

type Body =
  | { t: 'h'; term: number; vote: string; commit: number }
  | { t: 'e'; entries: readonly Entry[] }
  | { t: 'b'; voters: readonly string[] }
  | { t: 'i'; snapshot: Snapshot; entries: readonly Entry[]; hard: HardState };

export class FileConsensusStorage extends MirroredConsensusStorage {
  readonly #dir: string;
  #fh: FileHandle;
  /** Records written by the changes since the last flush. */
  #queued: Uint8Array[] = [];
  /** A snapshot replaced part of the log: the next flush writes a fresh image. */
  #rewrite = false;
  /** What open() dropped from the file's tail. */
  readonly recovery: FileConsensusStorageRecovery;

  private constructor(dir: string, fh: FileHandle, mem: MemoryConsensusStorage, truncatedBytes: number) {
    super(mem);
    this.#dir = dir;
    this.#fh = fh;
    this.recovery = { truncatedBytes };
  }

  /**
   * Opens (creating if needed) the store in `dir`, replaying every record and truncating a
   * torn tail. A new store's log starts with `voters` as its first configuration (ignored
   * when the store exists).
   */
  static async open(dir: string, voters: readonly string[] = []): Promise<FileConsensusStorage> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await rm(join(dir, `${FILE}.tmp`), { force: true });
    const fh = await open(join(dir, FILE), 'a+', 0o600);
    try {
      const buf = new Uint8Array(await fh.readFile());
      const mem = new MemoryConsensusStorage();
      let offset = 0;
      for (;;) {
        const body = readRecord(buf, offset);
        if (!body || !replay(mem, body.value)) break;
        offset = body.end;
      }
      if (offset < buf.length) {
        await fh.truncate(offset);
        await fh.sync();
      }
      if (offset === 0) {
        // A new store (or one whose first record a crash left torn: nothing was acknowledged):
        // its first configuration is on disk before anything else.
        if (voters.length > 0) {
          const b: Body = { t: 'b', voters };
          mem.bootstrap(voters);
          await writeAll(fh, encodeRecord(b));
          await fh.datasync();
        }
        await syncDir(dir);
      }
      return new FileConsensusStorage(dir, fh, mem, buf.length - offset);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  protected changed(c: StorageChange): void {
    if (c.t === 'hard') {
      const { term, vote, commit } = c.hard;
      this.#queued.push(encodeRecord({ t: 'h', term, vote, commit }));
    } else if (c.t === 'append') this.#queued.push(encodeRecord({ t: 'e', entries: c.entries }));
    else if (c.t === 'bootstrap') this.#queued.push(encodeRecord({ t: 'b', voters: c.voters }));
    else this.#rewrite = true;
  }

  /** Appends and fdatasyncs the queued records, or writes a fresh image after a snapshot. */
  protected async write(): Promise<void> {
    const records = this.#queued;
    this.#queued = [];
    if (this.#rewrite) {
      this.#rewrite = false;
      await this.#writeImage();
    } else if (records.length > 0) {
      await writeAll(this.#fh, concatBytes(...records));
      await this.#fh.datasync();
    }
  }

  protected release(): Promise<void> {
    return this.#fh.close();
  }

  protected failure(what: string, error: unknown): ConsensusError {
    const message = error instanceof Error ? error.message : String(error);
    return new ConsensusError('storage-failed', `consensus store ${what}: ${message}`, { cause: error });
  }

  /** Replaces the file with one image of the state, atomically (tmp, sync, rename, sync dir). */
  async #writeImage(): Promise<void> {
    const m = this.mem;
    const image = encodeRecord({
      t: 'i',
      snapshot: m.snapshot(),
      entries: m.lastIndex() >= m.firstIndex() ? m.entries(m.firstIndex(), m.lastIndex() + 1) : [],
      hard: m.hardState(),
    });
    const path = join(this.#dir, FILE);
    const tmp = await open(`${path}.tmp`, 'w', 0o600);
    try {
      await writeAll(tmp, image);
      await tmp.sync();
    } finally {
      await tmp.close();
    }
    await rename(`${path}.tmp`, path);
    await syncDir(this.#dir);
    const old = this.#fh;
    this.#fh = await open(path, 'a', 0o600);
    await old.close();
  }
}

function encodeRecord(body: Body): Uint8Array {
  const payload = encodeCbor(body);
  const out = new Uint8Array(HEADER + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length);
  out.set(sha256(payload).subarray(0, 4), 4);
  out.set(payload, HEADER);
  return out;
}

/** The record at `offset`, or undefined when it is torn, damaged or not a record. */
function readRecord(buf: Uint8Array, offset: number): { value: unknown; end: number } | undefined {
  if (offset + HEADER > buf.length) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset + offset, HEADER);
  const end = offset + HEADER + view.getUint32(0);
  if (end > buf.length) return undefined;
  const payload = buf.subarray(offset + HEADER, end);
  const check = sha256(payload);
  for (let i = 0; i < 4; i++) if (check[i] !== buf[offset + 4 + i]) return undefined;
  try {
    return { value: decodeCbor(payload, LIMITS), end };
  } catch {
    return undefined;
  }
}

/** Applies one stored record to `mem`; false when it is not one (the file ends before it). */
function replay(mem: MemoryConsensusStorage, v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const b = v as Record<string, unknown>;
  try {
    switch (b.t) {
      case 'h': {
        const hard = parseHardState(b);
        if (!hard) return false;
        mem.setHardState(hard);
        return true;
      }
      case 'e': {
        const entries = entriesOf(b.entries);
        if (!entries || entries.length === 0) return false;
        mem.append(entries);
        return true;
      }
      case 'b': {
        const voters = parseVoters(b.voters);
        if (!voters) return false;
        mem.bootstrap(voters);
        return true;
      }
      case 'i': {
        const snapshot = parseSnapshot(b.snapshot);
        const entries = entriesOf(b.entries);
        const hard = parseHardState(b.hard);
        if (!snapshot || !entries || !hard) return false;
        mem.applySnapshot(snapshot);
        mem.append(entries);
        mem.setHardState(hard);
        return true;
      }
      default:
        return false;
    }
  } catch {
    return false; // out of order (a gap, before the snapshot): the file ends here
  }
}

function entriesOf(v: unknown): Entry[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: Entry[] = [];
  for (const raw of v) {
    const e = parseEntry(raw);
    if (!e || (out.length > 0 && e.index !== out.at(-1)!.index + 1)) return undefined;
    out.push(e);
  }
  return out;
}
