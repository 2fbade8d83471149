/**
 * Replicated state entries. Like claims, an entry travels as {b, s}: the CBOR body exactly
 * as its origin encoded it, and the origin's signature (domain weftmesh/entry/v1). Body:
 *
 *   {t: table, k: key, w: wall ms, c: counter, o: origin node id, v?: value}
 *
 * (w, c, o) is the entry's Hybrid Logical Clock timestamp; no `v` means a tombstone.
 * Tables: 'p' process table (key: pid), 's' service registry (key: service name).
 */
import { decodeCbor } from './cbor.ts';
import { signedList } from './claims.ts';
import { nodeIdField } from './fields.ts';
import { bytes, type Infer, oneOf, struct, text, uint } from './schema.ts';

export const MAX_ENTRY_VALUE_BYTES = 4096;
export const MAX_ENTRY_BODY_BYTES = MAX_ENTRY_VALUE_BYTES + 256;
export const STATE_TABLES = ['p', 's'] as const;
export type StateTable = (typeof STATE_TABLES)[number];

export const entryBody = struct(
  { t: oneOf(STATE_TABLES), k: text(1, 128), w: uint(), c: uint(0xffff), o: nodeIdField },
  { v: bytes(1, MAX_ENTRY_VALUE_BYTES) },
);
export type EntryBody = Infer<typeof entryBody>;

/** A packed list of signed entries. */
export const entryList = (max: number) => signedList(max, MAX_ENTRY_BODY_BYTES);

export function decodeEntryBody(b: Uint8Array): EntryBody {
  return entryBody.parse(decodeCbor(b, { maxDepth: 2, maxItems: 16 }), 'entry');
}
