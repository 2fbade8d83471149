/**
 * The pull protocol's messages and the responder's side. A requester names the last entry it
 * holds (`afterSequence`, `afterHash`); the responder — the author or any replica — checks
 * that entry is its own at that sequence, and answers with the entries that follow (bounded
 * in count and bytes), its latest signed tree head, and a consistency proof from the end of
 * those entries to that head, so the requester can check every entry against the author's
 * signature before appending any.
 */
import { equalBytes } from '../util/bytes.ts';
import type { ChainEntry, ChainHead } from './entry.ts';
import { ChainError } from './errors.ts';
import type { SignedTreeHead } from './tree-head.ts';

export interface ChainSyncRequest {
  readonly chainId: string;
  /** The requester's last sequence (-1: it holds nothing). */
  readonly afterSequence: number;
  /**
   * Its hash, which the responder checks (a divergence shows as `mismatch`). Null when
   * afterSequence is -1, or for a range request of a pipelined pull: the entries after
   * afterSequence, unchecked (the requester checks their links when it applies them in order).
   */
  readonly afterHash: Uint8Array | null;
  /** At most this many entries in the answer (the responder may send fewer). */
  readonly maxEntries: number;
  /** Also send the hash of this entry with its inclusion proof (locating a fork). */
  readonly probe?: number;
}

/** One entry hash with its inclusion proof under the response's tree head. */
export interface ProvenHash {
  readonly sequence: number;
  readonly hash: Uint8Array;
  readonly path: readonly Uint8Array[];
}

export interface ChainSyncResponse {
  readonly chainId: string;
  /** The entries after the requester's (empty on a mismatch). */
  readonly entries: readonly ChainEntry[];
  /** Whether the responder holds more after these. */
  readonly hasMore: boolean;
  /** The responder's head (what it serves up to). */
  readonly head: ChainHead;
  /** The responder's latest signed tree head (absent: it holds no signed entry). */
  readonly treeHead: SignedTreeHead | undefined;
  /** Consistency proof from (afterSequence + 1 + entries.length) to treeHead.size. */
  readonly consistency: readonly Uint8Array[];
  /** The requester's afterHash is not the responder's entry at afterSequence: they diverge there or below. */
  readonly mismatch: boolean;
  /** The probed entry's hash and inclusion proof, when asked and held. */
  readonly probe?: ProvenHash;
}

/** What a responder reads of a chain. */
export interface SyncSource {
  readonly chainId: string;
  /** The latest signed head (it covers what is served). */
  treeHead(): SignedTreeHead | undefined;
  get(sequence: number): ChainEntry | undefined;
  consistencyProof(oldSize: number, newSize: number): Uint8Array[];
  inclusionProof(sequence: number, size: number): Uint8Array[];
}

/** Bounds of one answer: never one giant message (it would block a browser's main thread). */
export interface ServeLimits {
  /** Entries per answer. Default 1,024. */
  readonly maxEntries: number;
  /** Approximate bytes per answer (payloads plus ~100 bytes per entry); at least one entry. Default 256 KiB. */
  readonly maxBytes: number;
}

export const DEFAULT_SERVE_LIMITS: ServeLimits = { maxEntries: 1024, maxBytes: 256 * 1024 };
/** Per-entry overhead counted against maxBytes (hashes, sequence, time, kind, CBOR heads). */
const ENTRY_OVERHEAD = 100;

/** The answer to a request (throws ChainError `unknown-chain` for another chain). */
export function serve(src: SyncSource, req: ChainSyncRequest, limits: ServeLimits): ChainSyncResponse {
  if (req.chainId !== src.chainId) throw new ChainError('unknown-chain', `not chain ${req.chainId}`);
  const treeHead = src.treeHead();
  const size = treeHead?.size ?? 0;
  const last = size > 0 ? src.get(size - 1) : undefined;
  const head: ChainHead = last
    ? { sequence: last.sequence, hash: last.hash }
    : { sequence: -1, hash: new Uint8Array(32) };
  const probe =
    req.probe !== undefined && req.probe >= 0 && req.probe < size
      ? { sequence: req.probe, hash: src.get(req.probe)!.hash, path: src.inclusionProof(req.probe, size) }
      : undefined;
  const answer = (entries: ChainEntry[], end: number, mismatch: boolean): ChainSyncResponse => ({
    chainId: src.chainId,
    entries,
    hasMore: end < size,
    head,
    treeHead,
    consistency: end > 0 && end < size ? src.consistencyProof(end, size) : [],
    mismatch,
    ...(probe ? { probe } : {}),
  });
  const after = req.afterSequence;
  // The requester holds at least what is served: it compares its own root at `size`.
  if (after >= size) return answer([], size, false);
  if (after >= 0 && req.afterHash && !equalBytes(src.get(after)!.hash, req.afterHash))
    return answer([], size, true);
  const entries: ChainEntry[] = [];
  const maxEntries = Math.min(Math.max(0, req.maxEntries), limits.maxEntries);
  let bytes = 0;
  for (let seq = after + 1; seq < size && entries.length < maxEntries; seq++) {
    const e = src.get(seq)!;
    bytes += e.payload.length + ENTRY_OVERHEAD;
    if (bytes > limits.maxBytes && entries.length > 0) break;
    entries.push(e);
  }
  return answer(entries, after + 1 + entries.length, false);
}

/**
 * The answers to one request in up to `maxParts` parts, each for the entries after the one
 * before, until the request's maxEntries or the responder's head (a probe, a mismatch or an
 * empty answer ends it): what a streamed answer carries (MeshNode.respondStream). `serve`
 * answers one request (ChainLog.serveSync with the responder's limits); a generator, so each
 * part is read only when the link has room for it.
 */
export function* serveParts(
  serve: (req: ChainSyncRequest) => ChainSyncResponse,
  req: ChainSyncRequest,
  maxParts: number,
): Generator<ChainSyncResponse> {
  let res = serve(req);
  yield res;
  let left = req.maxEntries - res.entries.length;
  let after = req.afterSequence + res.entries.length;
  for (let part = 1; part < maxParts && left > 0 && res.hasMore && req.probe === undefined; part++) {
    res = serve({ chainId: req.chainId, afterSequence: after, afterHash: null, maxEntries: left });
    if (res.entries.length === 0) return;
    yield res;
    left -= res.entries.length;
    after += res.entries.length;
  }
}
