/**
 * Signed membership claims. On the wire a claim is {b, s}: `b` is the CBOR body exactly as
 * the signer encoded it and `s` its signature, so verification runs over the bytes received
 * (never a re-encoding). The body says which kind of claim it is:
 *
 *   k: 'a' alive        {key, i, m?, ad?}  signed by the member itself (key = its key)
 *   k: 'l' leave        {key, i}           signed by the member itself
 *   k: 's' suspect      {n, key, i}        signed by the accuser (key), about member n
 *   k: 'u' unreachable  {n, key, i}        signed by the declarer (key), about member n
 *
 * `i` is the subject's incarnation the claim refers to.
 */
import { decodeCbor } from './cbor.ts';
import { nodeIdField, publicKeyField, signatureField } from './fields.ts';
import { array, bytes, dict, type Infer, struct, tagged, text, u32 } from './schema.ts';

/** Largest encoded claim body (keeps one claim well inside a datagram). */
export const MAX_CLAIM_BODY_BYTES = 1024;

export const metaField = dict(text(1, 32, /^[A-Za-z0-9._-]+$/), text(0, 256), 16);
export const addressesField = array(text(1, 256), 4);

export const claimField = struct({ b: bytes(1, MAX_CLAIM_BODY_BYTES), s: signatureField });
export type WireClaim = Infer<typeof claimField>;

export const claimBody = tagged('k', {
  a: struct({ key: publicKeyField, i: u32 }, { m: metaField, ad: addressesField }),
  l: struct({ key: publicKeyField, i: u32 }),
  s: struct({ n: nodeIdField, key: publicKeyField, i: u32 }),
  u: struct({ n: nodeIdField, key: publicKeyField, i: u32 }),
});
export type ClaimBody = Infer<typeof claimBody>;

/** Strictly decodes a claim body (throws WireError). */
export function decodeClaimBody(bytes: Uint8Array): ClaimBody {
  return claimBody.parse(decodeCbor(bytes, { maxDepth: 4, maxItems: 32 }), 'claim');
}
