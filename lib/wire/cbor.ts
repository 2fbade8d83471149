/**
 * weftmesh's CBOR (RFC 8949): a small codec for the subset its messages use, in place of a
 * general library (cbor-x was ~30 % of the core bundle). Decoding is strict and single-pass
 * (cbor-decode.ts). Encoding writes exactly the bytes cbor-x 1.6.9 wrote with the options
 * weftmesh used (no records, no tags, variable map sizes) — claim, entry and token bodies are
 * signed over their bytes and older nodes read them — so test/unit/cbor-codec.test.ts
 * compares the two on every schema:
 *
 * - heads are as short as possible;
 * - integers from -2^32 to 2^32 - 1 are CBOR integers (-0 is 0); every other number,
 *   including larger integers such as millisecond timestamps, is a float64;
 * - text is UTF-8 (a lone surrogate becomes U+FFFD, as TextEncoder does); a Uint8Array
 *   (or Buffer) is a byte string; arrays are arrays; plain objects are maps in
 *   Object.keys order; booleans and null are simple values.
 *
 * Anything the decoder would refuse (undefined, `__proto__` keys, bigints, Maps, class
 * instances, …) is refused here too, with WireError('encode-failed').
 */
import { WireError } from './errors.ts';

export { type CborLimits, decodeCbor } from './cbor-decode.ts';

const utf8 = new TextEncoder();
/** Strings at least this long are encoded by TextEncoder; shorter ones inline. */
const LONG_TEXT = 48;

// One growing scratch buffer. A nested encodeCbor (a getter calling it) writes after the
// outer one's bytes and leaves `pos` where it found it, so the outer one is unharmed.
let buf = new Uint8Array(8192);
let view = new DataView(buf.buffer);
let pos = 0;

const NO_PREFIX = new Uint8Array(0);
const copyOut = (bytes: Uint8Array): Uint8Array => bytes.slice();

export function encodeCbor(value: unknown): Uint8Array {
  return withCborBytes(NO_PREFIX, value, copyOut);
}

/**
 * Hands `use` the bytes of `prefix` followed by the encoding of `value`, without copying them
 * out of the scratch buffer (for a hash of them: no array is allocated for the bytes). `use`
 * must not keep the view it gets; what it returns is returned.
 */
export function withCborBytes<R>(prefix: Uint8Array, value: unknown, use: (bytes: Uint8Array) => R): R {
  const start = pos;
  try {
    try {
      room(prefix.length);
      buf.set(prefix, pos);
      pos += prefix.length;
      write(value);
    } catch (e) {
      if (e instanceof WireError) throw e;
      // A cycle or absurd nesting exhausts the stack.
      throw new WireError('encode-failed', e instanceof Error ? e.message : String(e));
    }
    return use(buf.subarray(start, pos));
  } finally {
    pos = start;
    if (start === 0 && buf.length > 1 << 20) resize(8192); // do not keep a huge buffer
  }
}

function refuse(why: string): never {
  throw new WireError('encode-failed', why);
}

/** Makes room for `n` more bytes. */
function room(n: number): void {
  if (pos + n > buf.length) resize(Math.max(buf.length * 2, pos + n));
}

function resize(size: number): void {
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, pos));
  buf = next;
  view = new DataView(buf.buffer);
}

/** An item head: major type and argument (< 2^32), shortest form. */
function head(major: number, n: number): void {
  room(5);
  const m = major << 5;
  if (n < 24) {
    buf[pos++] = m | n;
  } else if (n < 0x100) {
    buf[pos++] = m | 24;
    buf[pos++] = n;
  } else if (n < 0x10000) {
    buf[pos++] = m | 25;
    buf[pos++] = n >> 8;
    buf[pos++] = n;
  } else {
    buf[pos++] = m | 26;
    view.setUint32(pos, n);
    pos += 4;
  }
}

const headSize = (n: number): number => (n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);

function write(v: unknown): void {
  switch (typeof v) {
    case 'string':
      writeText(v);
      return;
    case 'number':
      writeNumber(v);
      return;
    case 'boolean':
      room(1);
      buf[pos++] = v ? 0xf5 : 0xf4;
      return;
    case 'object':
      if (v === null) {
        room(1);
        buf[pos++] = 0xf6;
      } else if (v instanceof Uint8Array) {
        head(2, v.length);
        room(v.length);
        buf.set(v, pos);
        pos += v.length;
      } else if (Array.isArray(v)) {
        head(4, v.length);
        for (let i = 0; i < v.length; i++) write(v[i]);
      } else {
        writeMap(v);
      }
      return;
    default:
      refuse(`cannot encode ${typeof v}`);
  }
}

function writeNumber(v: number): void {
  if (Number.isInteger(v) && v <= 0xffffffff && v >= -0x100000000) {
    if (v >= 0) head(0, v);
    else head(1, -1 - v);
    return;
  }
  room(9);
  buf[pos++] = 0xfb;
  view.setFloat64(pos, v);
  pos += 8;
}

function writeText(s: string): void {
  const n = s.length;
  // UTF-8 never has fewer bytes than UTF-16 units: write after a head sized for n, then
  // widen the head if the bytes need it.
  const guess = headSize(n);
  room(5 + 3 * n); // the widest head and the most bytes: head() below cannot move the buffer
  const at = pos + guess;
  let end = at;
  if (n >= LONG_TEXT) {
    end += utf8.encodeInto(s, buf.subarray(at)).written;
  } else {
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        buf[end++] = c;
        continue;
      }
      if (c < 0x800) {
        buf[end++] = 0xc0 | (c >> 6);
      } else {
        if ((c & 0xf800) === 0xd800) {
          const d = s.charCodeAt(i + 1); // NaN past the end
          if (c < 0xdc00 && (d & 0xfc00) === 0xdc00) {
            c = 0x10000 + ((c & 0x3ff) << 10) + (d & 0x3ff);
            i++;
            buf[end++] = 0xf0 | (c >> 18);
            buf[end++] = 0x80 | ((c >> 12) & 0x3f);
          } else {
            c = 0xfffd; // lone surrogate
            buf[end++] = 0xe0 | (c >> 12);
          }
        } else {
          buf[end++] = 0xe0 | (c >> 12);
        }
        buf[end++] = 0x80 | ((c >> 6) & 0x3f);
      }
      buf[end++] = 0x80 | (c & 0x3f);
    }
  }
  const len = end - at;
  const size = headSize(len);
  if (size !== guess) buf.copyWithin(pos + size, at, end);
  head(3, len);
  pos += len;
}

function writeMap(v: object): void {
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    refuse(`cannot encode a ${(v as { constructor?: { name?: string } }).constructor?.name ?? 'object'}`);
  }
  const keys = Object.keys(v);
  const values = Object.values(v); // one pass, instead of a keyed lookup per entry
  head(5, keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const x = values[i];
    if (x === undefined) refuse(`map value of ${JSON.stringify(k)} is undefined`);
    if (k === '__proto__') refuse('map key __proto__');
    writeText(k);
    write(x);
  }
}
