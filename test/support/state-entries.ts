/** Entries for state tests: real encoding, a signer that does not bother to sign (cores do not verify). */
import type { Signer } from '../../lib/identity/signer.ts';
import { type StateEntry, signEntry } from '../../lib/state/entry.ts';
import type { StateTable } from '../../lib/wire/entries.ts';

export function fakeSigner(index: number): Signer {
  const nodeId = index.toString(16).padStart(32, '0');
  return { nodeId, publicKey: new Uint8Array(32), sign: () => new Uint8Array(64) };
}

export function entry(
  origin: number,
  table: StateTable,
  key: string,
  value: string | undefined,
  wall: number,
  counter = 0,
): StateEntry {
  const signer = fakeSigner(origin);
  return signEntry(signer, table, key, value === undefined ? undefined : new TextEncoder().encode(value), {
    wall,
    counter,
    node: signer.nodeId,
  });
}
