/** cbor-x configured for untrusted input: no records, no structured clone, no tag extensions. */
import { Decoder, Encoder } from 'cbor-x';
import { plainBytes } from '../util/bytes.ts';
import { type ScanLimits, scanCbor } from './cbor-scan.ts';
import { WireError } from './errors.ts';

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  tagUint8Array: false,
  pack: false,
  variableMapSize: true,
});

const decoder = new Decoder({
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
});

export function encodeCbor(value: unknown): Uint8Array {
  try {
    return plainBytes(encoder.encode(value));
  } catch (e) {
    throw new WireError('encode-failed', e instanceof Error ? e.message : String(e));
  }
}

/**
 * Scan, then decode. Throws only WireError. Byte strings in the result are views into
 * `bytes` (no copies): callers that keep one for long should copy it, or it pins the frame.
 */
export function decodeCbor(bytes: Uint8Array, limits: ScanLimits): unknown {
  scanCbor(bytes, limits);
  try {
    return decoder.decode(bytes);
  } catch (e) {
    // The scan accepted it, so this would be a cbor-x quirk; still never let it escape raw.
    throw new WireError('malformed', e instanceof Error ? e.message : String(e));
  }
}
