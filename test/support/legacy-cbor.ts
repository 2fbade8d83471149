/**
 * The CBOR pipeline weftmesh shipped until issue 11 (commit 7ac6568): cbor-x 1.6.9 with the
 * options below, behind the strict structural scan. Kept, verbatim, only as the oracle that
 * test/unit/cbor-codec.test.ts and bench/wire.bench.ts compare lib/wire/cbor.ts against:
 * old nodes run this code, so new bytes must equal its bytes and new decoding its decoding.
 */
import { Decoder, Encoder } from 'cbor-x';
import { WireError } from '../../lib/wire/errors.ts';

export interface ScanLimits {
  maxDepth: number;
  maxItems: number;
}

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

export function legacyEncodeCbor(value: unknown): Uint8Array {
  try {
    const b = encoder.encode(value);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new WireError('encode-failed', e instanceof Error ? e.message : String(e));
  }
}

/** Refusals by cbor-x itself (after the scan accepted) say `cbor-x:` (the test tells them apart). */
export function legacyDecodeCbor(bytes: Uint8Array, limits: ScanLimits): unknown {
  scanCbor(bytes, limits);
  try {
    // A fresh view: cbor-x caches a `dataView` property on the object it decodes.
    return decoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new WireError('malformed', `cbor-x: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 strictly; short ASCII (nearly every key and field here) skips TextDecoder. */
function text(bytes: Uint8Array, start: number, end: number): string | undefined {
  if (end - start <= 64) {
    let ascii = '';
    let i = start;
    for (; i < end && bytes[i]! < 0x80; i++) ascii += String.fromCharCode(bytes[i]!);
    if (i === end) return ascii;
  }
  try {
    return utf8.decode(bytes.subarray(start, end));
  } catch {
    return undefined;
  }
}

function scanCbor(bytes: Uint8Array, limits: ScanLimits): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;

  const fail = (code: 'malformed' | 'forbidden', why: string): never => {
    throw new WireError(code, `${why} (offset ${pos})`);
  };
  const need = (n: number): void => {
    if (n > bytes.length - pos) fail('malformed', 'truncated');
  };

  /** Reads the argument of an item head; lengths beyond 2^53 are reported as Infinity. */
  const argument = (info: number): number => {
    if (info < 24) return info;
    switch (info) {
      case 24:
        need(1);
        return view.getUint8(pos++);
      case 25:
        need(2);
        pos += 2;
        return view.getUint16(pos - 2);
      case 26:
        need(4);
        pos += 4;
        return view.getUint32(pos - 4);
      case 27: {
        need(8);
        const hi = view.getUint32(pos);
        const lo = view.getUint32(pos + 4);
        pos += 8;
        return hi >= 0x200000 ? Number.POSITIVE_INFINITY : hi * 2 ** 32 + lo;
      }
      case 31:
        return fail('forbidden', 'indefinite length');
      default:
        return fail('malformed', 'reserved additional info');
    }
  };

  const item = (depth: number): void => {
    need(1);
    const head = bytes[pos++]!;
    const major = head >> 5;
    const info = head & 31;
    switch (major) {
      case 0:
      case 1:
        argument(info);
        return;
      case 2:
      case 3: {
        const len = argument(info);
        need(len);
        if (major === 3 && text(bytes, pos, pos + len) === undefined)
          fail('malformed', 'invalid UTF-8 in text string');
        pos += len;
        return;
      }
      case 4:
      case 5: {
        const count = argument(info);
        if (depth + 1 > limits.maxDepth)
          throw new WireError('too-deep', `nesting deeper than ${limits.maxDepth}`);
        if (count > limits.maxItems)
          throw new WireError('too-many-items', `${count} entries > ${limits.maxItems}`);
        // Every entry takes at least one byte: reject counts the remaining input cannot hold.
        if (count * (major === 5 ? 2 : 1) > bytes.length - pos) fail('malformed', 'truncated collection');
        if (major === 4) {
          for (let i = 0; i < count; i++) item(depth + 1);
          return;
        }
        const keys = new Set<string>();
        for (let i = 0; i < count; i++) {
          need(1);
          const keyHead = bytes[pos++]!;
          if (keyHead >> 5 !== 3) fail('forbidden', 'map key is not a text string');
          const len = argument(keyHead & 31);
          need(len);
          const key = text(bytes, pos, pos + len) ?? fail('malformed', 'invalid UTF-8 in map key');
          // Compare decoded text: two encodings of one key would otherwise slip past.
          if (keys.has(key)) throw new WireError('duplicate-key', `duplicate map key ${JSON.stringify(key)}`);
          if (key === '__proto__') fail('forbidden', 'map key __proto__');
          keys.add(key);
          pos += len;
          item(depth + 1);
        }
        return;
      }
      case 6:
        fail('forbidden', 'CBOR tag');
        return;
      default:
        if (info === 20 || info === 21 || info === 22) return;
        if (info === 25 || info === 26 || info === 27) {
          const size = 1 << (info - 24);
          need(size);
          pos += size;
          return;
        }
        fail('forbidden', `simple value ${info}`);
    }
  };

  item(0);
  if (pos !== bytes.length) fail('malformed', 'trailing bytes after the frame');
}
