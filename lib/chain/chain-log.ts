/**
 * ChainLog: one append-only chain, the author's own (`open`) or a replica of someone else's
 * (`replica`). Every entry is hash-linked to the one before; an RFC 6962 tree over the entry
 * hashes lets the author sign one tree head per append or batch, and lets a reader check any
 * entry (inclusion proof) or any growth (consistency proof) against such a head.
 *
 * The log holds its entries in memory and acknowledges an append only once its storage has
 * (durably, for a durable backend). What is visible — to get(), to peers it serves — is what
 * the storage acknowledged, so an author that crashes cannot have served an entry it then
 * writes differently.
 */
import type { Signer } from '../identity/signer.ts';
import { fastVerifier, type SignatureVerifier } from '../identity/verifier.ts';
import { LogTree, leafHash, verifyConsistency } from '../merkle/log-tree.ts';
import { HybridLogicalClock } from '../time/hlc.ts';
import { realClock } from '../time/real.ts';
import type { Clock } from '../time/types.ts';
import { equalBytes } from '../util/bytes.ts';
import { encodeCbor } from '../wire/cbor.ts';
import {
  type ChainEntry,
  type ChainHead,
  chainIdBytes,
  chainIdOf,
  checkKind,
  DEFAULT_KIND,
  GENESIS_PREV,
  isChainId,
  MAX_PAYLOAD_BYTES,
  makeEntry,
} from './entry.ts';
import { ChainError } from './errors.ts';
import type { ForkProof } from './fork.ts';
import { loadChain } from './load.ts';
import { type ChainStorage, MemoryChainStorage } from './storage.ts';
import {
  type ChainSyncRequest,
  type ChainSyncResponse,
  DEFAULT_SERVE_LIMITS,
  type ServeLimits,
  serve,
} from './sync.ts';
import { type SignedTreeHead, signTreeHead } from './tree-head.ts';
import { checkEntries, HeadVerifier, hashesAhead } from './verify.ts';

export interface ChainLogOptions {
  /** Default: a new MemoryChainStorage. */
  storage?: ChainStorage;
  /** Time for entry and tree head timestamps. Default: the real clock. */
  clock?: Clock;
  /** Checks tree head signatures. Default: WebCrypto where present, else pure JavaScript. */
  verifier?: SignatureVerifier;
  /**
   * Sync strategy: at most this many entries behind, one request asks for all of them; further
   * behind, the log catches up from the responder's signed head in chunks of `serve.maxEntries`.
   * Default 1,000.
   */
  checkpointThreshold?: number;
  /** Bounds of one sync answer this log sends. */
  serve?: Partial<ServeLimits>;
}

export interface OpenChainOptions extends ChainLogOptions {
  identity: Signer;
  /** 1..64 characters of [A-Za-z0-9._-]; with the author's key it makes the chain id. */
  name: string;
  /**
   * Start a new chain when the storage holds none. Without it, an author whose storage holds
   * no copy refuses to append (`needs-resync`) until it has re-synced its chain from the mesh:
   * a restarted author with lost storage would otherwise write a second, different chain.
   * Ignored on a storage that reports itself `lost` (the browser deleted it).
   */
  create?: boolean;
}

export interface ReplicaOptions extends ChainLogOptions {
  chainId: string;
  /** The author's 32-byte public key. */
  author: Uint8Array;
}

/** What applySync did. */
export interface ApplyResult {
  /** Entries appended (0..entries sent). */
  readonly appended: number;
  /** The responder holds more: pull again. */
  readonly hasMore: boolean;
  /**
   * The responder's signed head does not extend this chain (or it said so): the chains
   * diverge. Run detectChainFork against it to locate and prove the fork.
   */
  readonly diverged: boolean;
}

const EMPTY_HEAD: ChainHead = { sequence: -1, hash: GENESIS_PREV };

export class ChainLog {
  readonly chainId: string;
  /** The author's public key. */
  readonly author: Uint8Array;
  readonly #idBytes: Uint8Array;
  readonly #storage: ChainStorage;
  readonly #heads: HeadVerifier;
  readonly #signer: Signer | undefined;
  readonly #hlc: HybridLogicalClock | undefined;
  readonly #threshold: number;
  readonly #limits: ServeLimits;
  readonly #entries: ChainEntry[] = [];
  readonly #tree = new LogTree();
  /** The latest signed head covering no more than the entries held: what is served. */
  #head: SignedTreeHead | undefined;
  /** The largest size a peer's valid signed head claimed (to plan pulls). */
  #remoteSize = 0;
  #needsResync = false;
  #forked: ForkProof | undefined;
  /** Largest payload append() takes (lowered by whoever must carry the entries: limitPayload). */
  #maxPayload = MAX_PAYLOAD_BYTES;
  #maxPayloadWhy = '';
  #lock: Promise<unknown> = Promise.resolve();

  private constructor(
    chainId: string,
    author: Uint8Array,
    opts: ChainLogOptions,
    signer: Signer | undefined,
  ) {
    this.chainId = chainId;
    this.author = author;
    this.#idBytes = chainIdBytes(chainId);
    this.#storage = opts.storage ?? new MemoryChainStorage();
    this.#heads = new HeadVerifier(chainId, author, opts.verifier ?? fastVerifier);
    this.#signer = signer;
    this.#hlc = signer && new HybridLogicalClock(signer.nodeId, opts.clock ?? realClock);
    const t = opts.checkpointThreshold ?? 1000;
    if (!Number.isInteger(t) || t < 1)
      throw new ChainError('invalid-argument', 'checkpointThreshold must be an integer ≥ 1');
    this.#threshold = t;
    this.#limits = { ...DEFAULT_SERVE_LIMITS, ...(opts.serve ?? {}) };
  }

  /** The author's own chain: continues from the storage's copy, or creates it (`create`). */
  static async open(opts: OpenChainOptions): Promise<ChainLog> {
    const { identity } = opts;
    const log = new ChainLog(chainIdOf(identity.publicKey, opts.name), identity.publicKey, opts, identity);
    const found = await log.#load();
    if (!found) {
      // A lost store (the browser deleted it) held this chain, maybe: re-sync, never a second chain.
      if (!opts.create || log.#storage.lost) log.#needsResync = true;
    } else if (log.length > (log.#head?.size ?? 0)) {
      // A crash between the entries and their head: sign the head now.
      const head = log.#sign(log.length);
      await log.#store([], head);
      log.#head = head;
    }
    return log;
  }

  /** A replica of another author's chain, from what the storage holds of it. */
  static async replica(opts: ReplicaOptions): Promise<ChainLog> {
    if (!isChainId(opts.chainId)) throw new ChainError('invalid-argument', 'a chain id is 64 hex characters');
    if (!(opts.author instanceof Uint8Array) || opts.author.length !== 32)
      throw new ChainError('invalid-argument', 'an author key is 32 bytes');
    const log = new ChainLog(opts.chainId, new Uint8Array(opts.author), opts, undefined);
    await log.#load();
    return log;
  }

  get length(): number {
    return this.#entries.length;
  }

  /** Largest payload (CBOR bytes) append() takes: MAX_PAYLOAD_BYTES, unless limitPayload lowered it. */
  get maxPayloadBytes(): number {
    return this.#maxPayload;
  }

  /**
   * Refuses appends of payloads over `bytes` from now on (`why` goes into the error): for a
   * carrier of the entries that cannot take larger ones (the chains service's answers carry
   * at most SERVED_PAYLOAD_BYTES). Only lowers the limit.
   */
  limitPayload(bytes: number, why: string): void {
    if (bytes < this.#maxPayload) {
      this.#maxPayload = bytes;
      this.#maxPayloadWhy = why;
    }
  }

  /** Whether this is the author's own chain (it may append). */
  get isAuthor(): boolean {
    return this.#signer !== undefined;
  }

  /** Whether append() is allowed now: the author's, not awaiting a re-sync, not forked. */
  get writable(): boolean {
    return this.isAuthor && !this.#needsResync && this.#forked === undefined;
  }

  /** Whether the author must re-sync its chain from the mesh before appending (storage was lost). */
  get needsResync(): boolean {
    return this.#needsResync;
  }

  /** The fork proof this log was marked with (markForked), if any: it accepts nothing more. */
  get forkProof(): ForkProof | undefined {
    return this.#forked;
  }

  /** The largest size a peer's validly signed head announced (noteRemoteSize, applySync). */
  get remoteSize(): number {
    return this.#remoteSize;
  }

  head(): ChainHead {
    const last = this.#entries.at(-1);
    return last ? { sequence: last.sequence, hash: last.hash } : EMPTY_HEAD;
  }

  get(sequence: number): ChainEntry | undefined {
    return Number.isInteger(sequence) ? this.#entries[sequence] : undefined;
  }

  /** The entry hash at `sequence` (a ChainView for detectChainFork). */
  hashAt(sequence: number): Uint8Array | undefined {
    return this.get(sequence)?.hash;
  }

  /** Up to `max` entries after `sequence` (-1: from the genesis entry). */
  entriesAfter(sequence: number, max = Number.POSITIVE_INFINITY): ChainEntry[] {
    if (!Number.isInteger(sequence) || sequence < -1)
      throw new ChainError('invalid-argument', 'sequence must be ≥ -1');
    return this.#entries.slice(sequence + 1, sequence + 1 + Math.max(0, max));
  }

  /** The latest signed tree head (undefined while the log holds no signed entry). */
  treeHead(): SignedTreeHead | undefined {
    return this.#head;
  }

  /** The Merkle root over the first `size` entries (default: all). */
  rootAt(size = this.length): Uint8Array {
    this.#checkSize(size, 0);
    return this.#tree.root(size);
  }

  /** Inclusion proof of entry `sequence` in the tree of the first `size` entries (default: the signed head's). */
  inclusionProof(sequence: number, size = this.#head?.size ?? this.length): Uint8Array[] {
    this.#checkSize(size, 1);
    if (!Number.isInteger(sequence) || sequence < 0 || sequence >= size)
      throw new ChainError('invalid-argument', `sequence ${sequence} outside a tree of ${size}`);
    return this.#tree.inclusionProof(sequence, size);
  }

  /** Consistency proof from the tree of `oldSize` entries to that of `newSize` (default: the signed head's). */
  consistencyProof(oldSize: number, newSize = this.#head?.size ?? this.length): Uint8Array[] {
    this.#checkSize(newSize, 1);
    if (!Number.isInteger(oldSize) || oldSize < 1 || oldSize > newSize)
      throw new ChainError('invalid-argument', `old size ${oldSize} not within 1..${newSize}`);
    return this.#tree.consistencyProof(oldSize, newSize);
  }

  /** Appends one entry (payload: any CBOR-encodable value); resolves once storage acknowledged it. */
  async append(payload: unknown, kind: string = DEFAULT_KIND): Promise<ChainEntry> {
    return (await this.appendBatch([payload], kind))[0]!;
  }

  /** Appends entries under one signed tree head; resolves once storage acknowledged them all. */
  appendBatch(payloads: readonly unknown[], kind: string = DEFAULT_KIND): Promise<ChainEntry[]> {
    checkKind(kind);
    const encoded = payloads.map((p) => {
      let bytes: Uint8Array;
      try {
        bytes = encodeCbor(p);
      } catch (e) {
        throw new ChainError('invalid-argument', `payload cannot be encoded: ${(e as Error).message}`, {
          cause: e,
        });
      }
      if (bytes.length > this.#maxPayload)
        throw new ChainError(
          'invalid-argument',
          `payload of ${bytes.length} bytes > ${this.#maxPayload}${this.#maxPayloadWhy && `: ${this.#maxPayloadWhy}`}`,
        );
      return bytes;
    });
    return this.#exclusive(async () => {
      this.#checkWritable();
      if (encoded.length === 0) return [];
      const hlc = this.#hlc!;
      const start = this.length;
      let prev = this.head().hash;
      const entries = encoded.map((payload, i) => {
        const t = hlc.now();
        const e = makeEntry(this.#idBytes, {
          sequence: start + i,
          prev,
          wall: t.wall,
          counter: t.counter,
          kind,
          payload,
        });
        prev = e.hash;
        return e;
      });
      for (const e of entries) this.#tree.appendHash(leafHash(e.hash));
      const head = this.#sign(start + entries.length);
      try {
        await this.#store(entries, head);
      } catch (e) {
        this.#tree.truncate(start);
        throw e;
      }
      for (const e of entries) this.#entries.push(e);
      this.#head = head;
      return entries;
    });
  }

  /** A pull request from this log's head, sized by the sync strategy (or `maxEntries`). */
  syncRequest(maxEntries?: number): ChainSyncRequest {
    const head = this.head();
    const behind = this.#remoteSize - this.length;
    const planned = behind > 0 && behind <= this.#threshold ? behind : this.#limits.maxEntries;
    return {
      chainId: this.chainId,
      afterSequence: head.sequence,
      afterHash: head.sequence < 0 ? null : head.hash,
      maxEntries: maxEntries ?? planned,
    };
  }

  /**
   * Answers a peer's pull (any replica serves, not only the author), within this log's
   * serve limits or tighter ones (`limits`: a transport with smaller messages). Throws
   * ChainError `unknown-chain`.
   */
  serveSync(request: ChainSyncRequest, limits?: Partial<ServeLimits>): ChainSyncResponse {
    return serve(
      {
        chainId: this.chainId,
        treeHead: () => this.#head,
        get: (seq) => this.#entries[seq],
        consistencyProof: (a, b) => this.#tree.consistencyProof(a, b),
        inclusionProof: (i, n) => this.#tree.inclusionProof(i, n),
      },
      request,
      limits ? { ...this.#limits, ...limits } : this.#limits,
    );
  }

  /** A peer announced (in gossip) a head of this size: the next syncRequest plans for it. */
  noteRemoteSize(size: number): void {
    if (Number.isInteger(size) && size > this.#remoteSize) this.#remoteSize = size;
  }

  /**
   * Verifies a peer's answer and appends its entries: every entry's sequence, link and hash,
   * and all of them together under the author's signed tree head. A bad answer throws
   * ChainError (`tampered`, `gap`, `bad-signature`, `unknown-chain`, `forked`) and appends
   * none of its entries; what earlier answers appended stays.
   */
  applySync(res: ChainSyncResponse): Promise<ApplyResult> {
    return this.#exclusive(async () => {
      if (this.#forked !== undefined)
        throw new ChainError('forked', `chain ${this.chainId.slice(0, 8)} is forked`);
      if (res.chainId !== this.chainId)
        throw new ChainError('unknown-chain', 'an answer about another chain');
      const remote = res.treeHead;
      const L = this.length;
      const nothing = { appended: 0, hasMore: false, diverged: false };
      if (!remote) {
        if (res.entries.length > 0) throw new ChainError('tampered', 'entries without a signed tree head');
        // A peer that holds nothing proves nothing: an author re-syncing stays read-only.
        return nothing;
      }
      await this.#heads.check(remote);
      this.noteRemoteSize(remote.size);
      if (res.mismatch) return { ...nothing, diverged: true };
      if (remote.size <= L) {
        if (res.entries.length > 0) throw new ChainError('tampered', 'entries beyond the signed tree head');
        if (remote.size > 0 && !equalBytes(this.#tree.root(remote.size), remote.root))
          return { ...nothing, diverged: true };
        // A head for exactly what this log holds, newer than its own: keep it, to serve with.
        if (remote.size === L && (this.#head?.size ?? 0) < L) {
          await this.#store([], remote);
          this.#head = remote;
        }
        return this.#caughtUp(nothing);
      }
      const entries = res.entries;
      const end = L + entries.length;
      if (end > remote.size)
        throw new ChainError('tampered', 'more entries than the signed tree head covers');
      checkEntries(this.#idBytes, L, this.head().hash, entries, await hashesAhead(this.#idBytes, entries));
      for (const e of entries) this.#tree.appendHash(leafHash(e.hash));
      const root = this.#tree.root(end);
      const proven =
        end === remote.size
          ? equalBytes(root, remote.root)
          : end > 0 &&
            verifyConsistency(end, remote.size, root, remote.root, res.consistency as Uint8Array[]);
      if (!proven) {
        this.#tree.truncate(L);
        throw new ChainError(
          'tampered',
          `entries ${L}..${end - 1} are not under the signed tree head of size ${remote.size}`,
        );
      }
      const head = end === remote.size ? remote : undefined;
      if (entries.length > 0 || head) {
        try {
          await this.#store(entries, head);
        } catch (e) {
          this.#tree.truncate(L);
          throw e;
        }
      }
      for (const e of entries) this.#entries.push(e);
      if (head) this.#head = head;
      const result = { appended: entries.length, hasMore: end < remote.size, diverged: false };
      return result.hasMore ? result : this.#caughtUp(result);
    });
  }

  /**
   * Marks the chain forked (after detectChainFork proved it): applySync throws `forked` and
   * append is refused until the application decides (a new chain, or accepting one branch).
   */
  markForked(proof: ForkProof): void {
    this.#forked ??= proof;
  }

  /**
   * Recomputes every entry hash and link, the tree, and checks the signed head's root and
   * signature. False when anything does not hold.
   */
  verifyIntegrity(): Promise<boolean> {
    return this.#heads.verifyCopy(this.#idBytes, this.#entries, this.#head);
  }

  /** Releases the storage. */
  close(): Promise<void> {
    return this.#exclusive(() => this.#storage.close());
  }

  // ---- internals ----

  /** Runs mutations one at a time, in call order. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  #checkWritable(): void {
    if (!this.#signer) throw new ChainError('not-author', 'only the author appends to a chain');
    if (this.#forked !== undefined) throw new ChainError('forked', 'the chain is forked');
    if (this.#needsResync)
      throw new ChainError(
        'needs-resync',
        'storage held no copy of this chain: re-sync it from the mesh first',
      );
  }

  #checkSize(size: number, min: number): void {
    if (!Number.isInteger(size) || size < min || size > this.length)
      throw new ChainError('invalid-argument', `size ${size} not within ${min}..${this.length}`);
  }

  /** A fully applied answer under a signed head: an author that was re-syncing may append again. */
  #caughtUp(result: ApplyResult): ApplyResult {
    if (this.#needsResync && !result.diverged) {
      this.#needsResync = false;
      const last = this.#entries.at(-1);
      if (last) this.#hlc!.passOwn({ wall: last.wall, counter: last.counter, node: this.#signer!.nodeId });
      if (this.#head)
        this.#hlc!.passOwn({
          wall: this.#head.wall,
          counter: this.#head.counter,
          node: this.#signer!.nodeId,
        });
    }
    return result;
  }

  #sign(size: number): SignedTreeHead {
    const t = this.#hlc!.now();
    return signTreeHead(this.#signer!, {
      chainId: this.chainId,
      size,
      root: this.#tree.root(size),
      wall: t.wall,
      counter: t.counter,
    });
  }

  async #store(entries: readonly ChainEntry[], head: SignedTreeHead | undefined): Promise<void> {
    try {
      await this.#storage.append(this.chainId, entries, head);
    } catch (e) {
      if (e instanceof ChainError) throw e;
      throw new ChainError('storage-failed', `chain storage: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Loads and checks the storage's copy; false when it holds none. */
  async #load(): Promise<boolean> {
    const loaded = await loadChain(this.#storage, this.chainId, this.#idBytes, this.#heads, this.#tree);
    if (!loaded) return false;
    for (const e of loaded.entries) this.#entries.push(e);
    this.#head = loaded.head;
    const last = this.#entries.at(-1);
    const head = loaded.storedHead;
    if (this.#hlc) {
      const node = this.#signer!.nodeId;
      if (last) this.#hlc.passOwn({ wall: last.wall, counter: last.counter, node });
      if (head) this.#hlc.passOwn({ wall: head.wall, counter: head.counter, node });
    }
    return true;
  }
}
