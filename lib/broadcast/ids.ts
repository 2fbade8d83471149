/**
 * Broadcast message ids: the first 8 bytes of a SHA-256 over what identifies the message
 * (its signature, its entry hash, its origin and sequence). Ids travel packed, 8 bytes
 * each, in announcements and grafts. A collision only makes a node skip one announcement
 * (the message still comes along the tree or by anti-entropy); an id names nothing a peer
 * can be made to trust.
 */
import { bytesKey } from '../util/bytes.ts';
import { sha256 } from '../util/sha256.ts';

export const ID_BYTES = 8;

export function messageId(identifying: Uint8Array): Uint8Array {
  return sha256(identifying).subarray(0, ID_BYTES);
}

export function packIds(ids: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(ids.length * ID_BYTES);
  for (let i = 0; i < ids.length; i++) out.set(ids[i]!.subarray(0, ID_BYTES), i * ID_BYTES);
  return out;
}

/** The ids in a packed list, or undefined if its length is not a whole number of ids. */
export function unpackIds(packed: Uint8Array): Uint8Array[] | undefined {
  if (packed.length % ID_BYTES !== 0) return undefined;
  const out: Uint8Array[] = [];
  for (let i = 0; i < packed.length; i += ID_BYTES) out.push(packed.slice(i, i + ID_BYTES));
  return out;
}

/**
 * A Map/Set key for an id of a kind: the kind as one code unit, then one per byte (built in
 * one call, no hex and no concatenation: nodes look ids up for every announcement).
 */
export function idKey(kind: number, id: Uint8Array): string {
  if (id.length !== ID_BYTES) return String.fromCharCode(kind) + bytesKey(id);
  return idKeyAt(kind, id, 0);
}

/** idKey of the id at byte `at` of a packed list `p` (at + ID_BYTES ≤ its length). */
export function idKeyAt(kind: number, p: Uint8Array, at: number): string {
  return String.fromCharCode(
    kind,
    p[at]!,
    p[at + 1]!,
    p[at + 2]!,
    p[at + 3]!,
    p[at + 4]!,
    p[at + 5]!,
    p[at + 6]!,
    p[at + 7]!,
  );
}
