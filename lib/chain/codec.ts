/**
 * The bytes of chain messages (sync requests and answers, fork proofs) and their strict
 * reading: everything from a peer is hostile, so decoding checks every field's type, length
 * and range and throws ChainError (`malformed`) for anything else; it never throws another
 * error and never keeps a view into the input (a sync answer's entries may be views into a copy of it).
 */
import { copyBytes } from '../util/bytes.ts';
import { decodeCbor, encodeCbor } from '../wire/cbor.ts';
import {
  type ChainHead,
  entryFields,
  isChainId,
  MAX_SEQUENCE,
  readEntry,
  readEntryInPlace,
} from './entry.ts';
import { ChainError } from './errors.ts';
import type { ForkProof } from './fork.ts';
import type { ChainSyncRequest, ChainSyncResponse, ProvenHash } from './sync.ts';
import { readTreeHead, treeHeadFields } from './tree-head.ts';

/** Entries one answer may carry when read (a responder's ServeLimits.maxEntries must not exceed it). */
export const MAX_WIRE_ENTRIES = 4096;
/** Hashes in one proof: enough for any tree of up to 2^32 entries. */
const MAX_PATH = 64;
const LIMITS = { maxDepth: 5, maxItems: MAX_WIRE_ENTRIES };

function fail(why: string): never {
  throw new ChainError('malformed', why);
}

function decode(bytes: Uint8Array): unknown {
  try {
    return decodeCbor(bytes, LIMITS);
  } catch (e) {
    throw new ChainError('malformed', `not a chain message: ${(e as Error).message}`, { cause: e });
  }
}

function seq(v: unknown, min: number): number {
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > MAX_SEQUENCE)
    fail('sequence out of range');
  return v as number;
}

function hash32(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== 32) fail('a hash is 32 bytes');
  return copyBytes(v);
}

function path(v: unknown): Uint8Array[] {
  if (!Array.isArray(v) || v.length > MAX_PATH) fail('a proof is an array of at most 64 hashes');
  return v.map(hash32);
}

function provenFields(p: ProvenHash): unknown[] {
  return [p.sequence, p.hash, [...p.path]];
}

function readProven(v: unknown): ProvenHash {
  if (!Array.isArray(v) || v.length !== 3) fail('a proven hash is [sequence, hash, path]');
  return { sequence: seq(v[0], 0), hash: hash32(v[1]), path: path(v[2]) };
}

export function encodeSyncRequest(r: ChainSyncRequest): Uint8Array {
  const fields: unknown[] = [r.chainId, r.afterSequence, r.afterHash, r.maxEntries];
  if (r.probe !== undefined) fields.push(r.probe);
  return encodeCbor(fields);
}

export function decodeSyncRequest(bytes: Uint8Array): ChainSyncRequest {
  const v = decode(bytes);
  if (!Array.isArray(v) || (v.length !== 4 && v.length !== 5))
    fail('a sync request is an array of 4 or 5 fields');
  const [chainId, after, afterHash, maxEntries, probe] = v;
  if (!isChainId(chainId)) fail('chain id invalid');
  const afterSequence = after === -1 ? -1 : seq(after, 0);
  if (afterSequence === -1 && afterHash !== null) fail('afterHash is null when afterSequence is -1');
  return {
    chainId,
    afterSequence,
    afterHash: afterHash === null ? null : hash32(afterHash),
    maxEntries: seq(maxEntries, 0),
    ...(v.length === 5 ? { probe: seq(probe, 0) } : {}),
  };
}

export function encodeSyncResponse(r: ChainSyncResponse): Uint8Array {
  return encodeCbor([
    r.chainId,
    r.entries.map(entryFields),
    r.hasMore,
    [r.head.sequence, r.head.hash],
    r.treeHead ? treeHeadFields(r.treeHead) : null,
    [...r.consistency],
    r.mismatch,
    r.probe ? provenFields(r.probe) : null,
  ]);
}

/**
 * Whether the entries of an answer hold at least half its bytes. Then they are read as views
 * into one copy of the answer instead of three small arrays each; otherwise (few or tiny
 * entries beside a long proof) each is copied, so an entry never pins more than about twice
 * its own bytes, whatever a peer sends.
 */
function keepsMost(entries: unknown[], total: number): boolean {
  let kept = 0;
  for (const e of entries) {
    if (!Array.isArray(e)) return false; // readEntry refuses it
    for (const f of e) if (f instanceof Uint8Array) kept += f.length;
  }
  return 2 * kept >= total;
}

export function decodeSyncResponse(bytes: Uint8Array): ChainSyncResponse {
  const own = copyBytes(bytes);
  const v = decode(own);
  if (!Array.isArray(v) || v.length !== 8) fail('a sync response is an array of 8 fields');
  const [chainId, entries, hasMore, head, treeHead, consistency, mismatch, probe] = v;
  if (!isChainId(chainId)) fail('chain id invalid');
  if (!Array.isArray(entries)) fail('entries is an array');
  if (typeof hasMore !== 'boolean' || typeof mismatch !== 'boolean') fail('flags are booleans');
  if (!Array.isArray(head) || head.length !== 2) fail('head is [sequence, hash]');
  const h: ChainHead = { sequence: head[0] === -1 ? -1 : seq(head[0], 0), hash: hash32(head[1]) };
  return {
    chainId,
    entries: entries.map(keepsMost(entries, own.length) ? readEntryInPlace : readEntry),
    hasMore,
    head: h,
    treeHead: treeHead === null ? undefined : readTreeHead(treeHead),
    consistency: path(consistency),
    mismatch,
    ...(probe === null ? {} : { probe: readProven(probe) }),
  };
}

export function encodeForkProof(p: ForkProof): Uint8Array {
  return encodeCbor([
    p.chainId,
    p.author,
    treeHeadFields(p.a),
    treeHeadFields(p.b),
    p.entryA ? provenFields(p.entryA) : null,
    p.entryB ? provenFields(p.entryB) : null,
  ]);
}

export function decodeForkProof(bytes: Uint8Array): ForkProof {
  const v = decode(bytes);
  if (!Array.isArray(v) || v.length !== 6) fail('a fork proof is an array of 6 fields');
  const [chainId, author, a, b, entryA, entryB] = v;
  if (!isChainId(chainId)) fail('chain id invalid');
  if ((entryA === null) !== (entryB === null)) fail('both entries or neither');
  return {
    chainId,
    author: hash32(author),
    a: readTreeHead(a),
    b: readTreeHead(b),
    ...(entryA === null ? {} : { entryA: readProven(entryA), entryB: readProven(entryB) }),
  };
}
