/**
 * Chain entries: what one entry holds, its canonical encoding and hash, and the strict
 * reading of an entry that came from a peer or a store (hostile until checked).
 *
 * An entry's hash covers the chain id, its sequence, the previous entry's hash, its HLC
 * timestamp, its kind and its payload (CBOR bytes), so equal hashes at one sequence mean
 * equal chains up to there. The Merkle tree of a chain has the entry hashes as its leaves.
 */
import { concatBytes, copyBytes, fromHex, toHex, utf8 } from '../util/bytes.ts';
import { sha256 } from '../util/sha256.ts';
import { withCborBytes } from '../wire/cbor.ts';
import { ChainError } from './errors.ts';

/**
 * One entry of a chain. `payload` is the CBOR encoding of what was appended. Entries are the
 * log's own (get, entriesAfter): never write into their byte arrays or transfer their buffers
 * (the entries that arrived in one sync answer share one buffer); copy what you keep or send.
 */
export interface ChainEntry {
  /** 0 for the genesis entry, then +1 per entry. */
  readonly sequence: number;
  /** Hash of the previous entry (32 zero bytes for the genesis entry). */
  readonly prev: Uint8Array;
  /** The author's HLC timestamp: wall milliseconds and counter (the node part is the author). */
  readonly wall: number;
  readonly counter: number;
  /** What kind of entry this is, for the application: 1..32 characters of [a-z0-9._-]. */
  readonly kind: string;
  readonly payload: Uint8Array;
  /** SHA-256 over the canonical encoding of all of the above and the chain id. */
  readonly hash: Uint8Array;
}

/** The head of a chain: its last entry's sequence and hash (sequence -1: empty). */
export interface ChainHead {
  readonly sequence: number;
  readonly hash: Uint8Array;
}

/** Largest payload (CBOR bytes) of one entry. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Sequences stay below this (CBOR integers; a chain of four billion entries). */
export const MAX_SEQUENCE = 0xffffffff;
export const GENESIS_PREV: Uint8Array = new Uint8Array(32);
export const DEFAULT_KIND = 'data';

const KIND = /^[a-z0-9][a-z0-9._-]{0,31}$/;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const CHAIN_ID = /^[0-9a-f]{64}$/;
const ID_TAG = utf8('weftmesh/chain-id/v1\0');
const ENTRY_TAG = utf8('weftmesh/chain-entry/v1\0');

/** A chain's id: hex SHA-256 of the author's public key and the chain's name. */
export function chainIdOf(author: Uint8Array, name: string): string {
  if (!NAME.test(name))
    throw new ChainError('invalid-argument', 'a chain name is 1..64 characters of [A-Za-z0-9._-]');
  if (author.length !== 32) throw new ChainError('invalid-argument', 'an author key is 32 bytes');
  return toHex(sha256(concatBytes(ID_TAG, author, utf8(name))));
}

export function isChainId(id: unknown): id is string {
  return typeof id === 'string' && CHAIN_ID.test(id);
}

export function checkKind(kind: string): string {
  if (typeof kind !== 'string' || !KIND.test(kind))
    throw new ChainError(
      'invalid-argument',
      `entry kind must be 1..32 characters of [a-z0-9._-]: ${JSON.stringify(kind)}`,
    );
  return kind;
}

/**
 * The entry's hash from its fields (what `hash` must equal): SHA-256 of the tag and
 * encodeCbor([chain id, sequence, prev, wall, counter, kind, payload]), hashed where they are
 * encoded (withCborBytes): no array is made for them, one entry after another as a pull
 * checks thousands a second.
 */
export function entryHash(chainId: Uint8Array, e: Omit<ChainEntry, 'hash'>): Uint8Array {
  return withEntryBytes(chainId, e, sha256);
}

/** Hands `use` the bytes entryHash hashes (in the encoder's scratch: `use` must not keep them). */
export function withEntryBytes<R>(
  chainId: Uint8Array,
  e: Omit<ChainEntry, 'hash'>,
  use: (bytes: Uint8Array) => R,
): R {
  return withCborBytes(ENTRY_TAG, [chainId, e.sequence, e.prev, e.wall, e.counter, e.kind, e.payload], use);
}

/** The entry with the given fields and its hash. */
export function makeEntry(chainId: Uint8Array, fields: Omit<ChainEntry, 'hash'>): ChainEntry {
  return { ...fields, hash: entryHash(chainId, fields) };
}

export function chainIdBytes(chainId: string): Uint8Array {
  return fromHex(chainId);
}

/** An entry as the array sent and stored: [sequence, prev, wall, counter, kind, payload, hash]. */
export function entryFields(e: ChainEntry): unknown[] {
  return [e.sequence, e.prev, e.wall, e.counter, e.kind, e.payload, e.hash];
}

function bytes32(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === 32;
}

/**
 * Reads an entry from decoded CBOR, checking every field's type and range (not its hash or
 * its place in a chain: that is verification). Copies byte strings out of the input.
 */
export function readEntry(v: unknown): ChainEntry {
  return read(v, copyBytes);
}

/**
 * readEntry for CBOR decoded from bytes the caller copied for itself: the entry keeps views
 * into them (the entries of one sync answer share its copy instead of three arrays each).
 */
export function readEntryInPlace(v: unknown): ChainEntry {
  return read(v, (b) => b);
}

function read(v: unknown, keep: (b: Uint8Array) => Uint8Array): ChainEntry {
  if (!Array.isArray(v) || v.length !== 7)
    throw new ChainError('malformed', 'an entry is an array of 7 fields');
  const [sequence, prev, wall, counter, kind, payload, hash] = v;
  if (!Number.isInteger(sequence) || (sequence as number) < 0 || (sequence as number) > MAX_SEQUENCE)
    throw new ChainError('malformed', 'entry sequence out of range');
  if (!bytes32(prev) || !bytes32(hash)) throw new ChainError('malformed', 'entry hashes are 32 bytes');
  if (!Number.isSafeInteger(wall) || (wall as number) < 0)
    throw new ChainError('malformed', 'entry wall time out of range');
  if (!Number.isInteger(counter) || (counter as number) < 0 || (counter as number) > 0xffff)
    throw new ChainError('malformed', 'entry counter out of range');
  if (typeof kind !== 'string' || !KIND.test(kind)) throw new ChainError('malformed', 'entry kind invalid');
  if (!(payload instanceof Uint8Array) || payload.length > MAX_PAYLOAD_BYTES)
    throw new ChainError('malformed', 'entry payload is not bytes or too large');
  return {
    sequence: sequence as number,
    prev: keep(prev),
    wall: wall as number,
    counter: counter as number,
    kind,
    payload: keep(payload),
    hash: keep(hash),
  };
}

/** Whether `b` comes after `a` in HLC order (wall, then counter). */
export function laterThan(
  b: { wall: number; counter: number },
  a: { wall: number; counter: number },
): boolean {
  return b.wall > a.wall || (b.wall === a.wall && b.counter > a.counter);
}
