/**
 * Signed membership claims. A claim is {b, s}: `b` is the CBOR body exactly as the signer
 * encoded it and `s` its signature, so verification runs over the bytes received (never a
 * re-encoding). Lists of claims travel packed into one byte string — per claim a 2-byte
 * big-endian body length, the body, the 64-byte signature — which costs a copy to write and
 * a slice to read, instead of a CBOR map per claim. The body says which kind of claim it is:
 *
 *   k: 'a' alive        {key, i, m?, ad?, t?, lw?}  signed by the member itself (t: membership
 *                       token; lw: state low-water mark, wall ms — its older entries are void)
 *   k: 'l' leave        {key, i}           signed by the member itself
 *   k: 's' suspect      {n, key, i}        signed by the accuser (key), about member n
 *   k: 'u' unreachable  {n, key, i}        signed by the declarer (key), about member n
 *
 * `i` is the subject's incarnation the claim refers to.
 */
import { concatBytes } from '../util/bytes.ts';
import { decodeCbor } from './cbor.ts';
import { nodeIdField, publicKeyField, tokenField } from './fields.ts';
import { array, bad, dict, type Infer, type Schema, struct, tagged, text, u32, uint } from './schema.ts';

/** Largest encoded claim body (keeps one claim well inside a datagram). */
export const MAX_CLAIM_BODY_BYTES = 1024;

export const metaField = dict(text(1, 32, /^[A-Za-z0-9._-]+$/), text(0, 256), 16);
export const addressesField = array(text(1, 256), 4);

export interface WireClaim {
  readonly b: Uint8Array;
  readonly s: Uint8Array;
}

const SIG = 64;

/** Packed form of claims sent often (a claim is gossiped to many peers); weakly held. */
const packedCache = new WeakMap<WireClaim, Uint8Array>();

function packed(c: WireClaim): Uint8Array {
  let p = packedCache.get(c);
  if (!p) {
    p = new Uint8Array(2 + c.b.length + c.s.length);
    p[0] = c.b.length >> 8;
    p[1] = c.b.length & 0xff;
    p.set(c.b, 2);
    p.set(c.s, 2 + c.b.length);
    packedCache.set(c, p);
  }
  return p;
}

/** A packed list of at most `max` claims (see the file comment for the layout). */
export function claimList(max: number): Schema<WireClaim[]> {
  return signedList(max, MAX_CLAIM_BODY_BYTES);
}

/** A packed list of at most `max` signed bodies of at most `maxBody` bytes each. */
export function signedList(max: number, maxBody: number): Schema<WireClaim[]> {
  return {
    desc: { kind: 'custom', name: 'signedList', max },
    parse(v, path) {
      if (!(v instanceof Uint8Array)) bad(path, 'expected packed claims (bytes)');
      const out: WireClaim[] = [];
      const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
      let off = 0;
      while (off < v.length) {
        if (out.length >= max) bad(path, `more than ${max} claims`);
        if (off + 2 > v.length) bad(path, 'truncated claim length');
        const len = view.getUint16(off);
        if (len < 1 || len > maxBody) bad(path, `signed body of ${len} bytes`);
        if (off + 2 + len + SIG > v.length) bad(path, 'truncated claim');
        out.push({
          b: v.subarray(off + 2, off + 2 + len),
          s: v.subarray(off + 2 + len, off + 2 + len + SIG),
        });
        off += 2 + len + SIG;
      }
      return out;
    },
    lower: (claims) => concatBytes(...claims.map(packed)),
  };
}

export const claimBody = tagged('k', {
  a: struct({ key: publicKeyField, i: u32 }, { m: metaField, ad: addressesField, t: tokenField, lw: uint() }),
  l: struct({ key: publicKeyField, i: u32 }),
  s: struct({ n: nodeIdField, key: publicKeyField, i: u32 }),
  u: struct({ n: nodeIdField, key: publicKeyField, i: u32 }),
});
export type ClaimBody = Infer<typeof claimBody>;

/** Strictly decodes a claim body (throws WireError). */
export function decodeClaimBody(bytes: Uint8Array): ClaimBody {
  return claimBody.parse(decodeCbor(bytes, { maxDepth: 4, maxItems: 32 }), 'claim');
}
