/**
 * The record format of durable chain stores: one record per append call, so a call is kept
 * whole or not at all. `[u32 body length][u32 CRC-32 of the rest][32-byte chain id][u32 first
 * sequence][u32 entry count][CBOR body: [entries, head | null]]`, big-endian.
 */
import { fromHex, toHex } from '../util/bytes.ts';
import { decodeCbor, encodeCbor } from '../wire/cbor.ts';
import { crc32 } from './crc32.ts';
import { type ChainEntry, entryFields, readEntry } from './entry.ts';
import { ChainError } from './errors.ts';
import { readTreeHead, type SignedTreeHead, treeHeadFields } from './tree-head.ts';

/** Bytes before the CBOR body. */
export const RECORD_HEADER = 48;
/** Largest body accepted when reading (a length beyond it is a torn or corrupted header). */
export const MAX_RECORD_BODY = 1 << 30;

export interface RecordInfo {
  readonly chainId: string;
  readonly first: number;
  readonly count: number;
  /** Bytes of the whole record. */
  readonly size: number;
}

/** `first`: the sequence the record starts at (for a record of a head alone, the chain's next one). */
export function encodeRecord(
  chainId: string,
  first: number,
  entries: readonly ChainEntry[],
  head: SignedTreeHead | undefined,
): Uint8Array {
  const body = encodeCbor([entries.map(entryFields), head ? treeHeadFields(head) : null]);
  const out = new Uint8Array(RECORD_HEADER + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  out.set(fromHex(chainId), 8);
  view.setUint32(40, first);
  view.setUint32(44, entries.length);
  out.set(body, RECORD_HEADER);
  view.setUint32(4, crc32(out.subarray(8)));
  return out;
}

/** The record at `offset` of `buf` if it is whole and its checksum holds; undefined otherwise (a torn or damaged tail). */
export function checkRecord(buf: Uint8Array, offset: number): RecordInfo | undefined {
  if (buf.length - offset < RECORD_HEADER) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset + offset);
  const len = view.getUint32(0);
  if (len > MAX_RECORD_BODY || buf.length - offset - RECORD_HEADER < len) return undefined;
  const size = RECORD_HEADER + len;
  if (crc32(buf.subarray(offset + 8, offset + size)) !== view.getUint32(4)) return undefined;
  return {
    chainId: toHex(buf.subarray(offset + 8, offset + 40)),
    first: view.getUint32(40),
    count: view.getUint32(44),
    size,
  };
}

/** The entries and head of a record (whose checksum held). */
export function readRecord(record: Uint8Array): { entries: ChainEntry[]; head: SignedTreeHead | undefined } {
  let v: unknown;
  try {
    v = decodeCbor(record.subarray(RECORD_HEADER), { maxDepth: 4, maxItems: 1 << 24 });
  } catch (e) {
    throw new ChainError('malformed', `chain store record: ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[0]))
    throw new ChainError('malformed', 'chain store record');
  return { entries: v[0].map(readEntry), head: v[1] === null ? undefined : readTreeHead(v[1]) };
}
