/**
 * A replicated state entry as the state layer sees it: decoded, with its identity, its HLC
 * timestamp, and the hashes the prefix tree needs. Signatures are checked at the node
 * boundary (node/entry-verifier.ts); here entries are made (own writes) and interpreted.
 */
import { Domain, signingInput } from '../identity/signed.ts';
import type { Signer } from '../identity/signer.ts';
import type { HlcTimestamp } from '../time/hlc.ts';
import { fromHex, toHex, utf8 } from '../util/bytes.ts';
import { sha256 } from '../util/sha256.ts';
import { encodeCbor } from '../wire/cbor.ts';
import type { WireClaim } from '../wire/claims.ts';
import { decodeEntryBody, entryBody, type StateTable } from '../wire/entries.ts';

export interface StateEntry {
  readonly table: StateTable;
  /** The node that wrote it (the only writer of its keys). */
  readonly origin: string;
  readonly key: string;
  /** Absent: a tombstone (the key was deleted). */
  readonly value: Uint8Array | undefined;
  readonly ts: HlcTimestamp;
  readonly wire: WireClaim;
  /** table/origin/key — the register this entry is a version of. */
  readonly id: string;
  /** SHA-256 of `id`: where it sits in the prefix tree. */
  readonly idHash: Uint8Array;
  /** SHA-256 of the signed body: which version it is. */
  readonly digest: Uint8Array;
  readonly size: number;
}

export function entryId(table: StateTable, origin: string, key: string): string {
  return `${table}/${origin}/${key}`;
}

/** Interprets a wire entry (strict body decode). Does not check the signature. Throws WireError. */
export function interpretEntry(wire: WireClaim): StateEntry {
  const body = decodeEntryBody(wire.b);
  const origin = toHex(body.o);
  const id = entryId(body.t, origin, body.k);
  return {
    table: body.t,
    origin,
    key: body.k,
    value: body.v,
    ts: { wall: body.w, counter: body.c, node: origin },
    wire,
    id,
    idHash: sha256(utf8(id)),
    digest: sha256(wire.b),
    size: wire.b.length + wire.s.length + 2,
  };
}

/** Makes and signs an entry of this node at HLC time `ts` (ts.node must be the signer). */
export function signEntry(
  signer: Signer,
  table: StateTable,
  key: string,
  value: Uint8Array | undefined,
  ts: HlcTimestamp,
): StateEntry {
  const body: Record<string, unknown> = {
    t: table,
    k: key,
    w: ts.wall,
    c: ts.counter,
    o: fromHex(signer.nodeId),
  };
  if (value) body.v = value;
  const b = encodeCbor(entryBody.parse(body, 'entry'));
  return interpretEntry({ b, s: signer.sign(signingInput(Domain.Entry, b)) });
}
