/**
 * Membership claims as the core sees them: decoded, with the node ids they name. Whether
 * a claim's signature holds is checked at the node boundary before it reaches the core
 * (see node/claim-verifier.ts); here they are built (own claims) and interpreted.
 */
import { nodeIdOf } from '../identity/node-identity.ts';
import { Domain, signingInput } from '../identity/signed.ts';
import type { Signer } from '../identity/signer.ts';
import { fromHex, toHex } from '../util/bytes.ts';
import { encodeCbor } from '../wire/cbor.ts';
import { type ClaimBody, claimBody, decodeClaimBody, type WireClaim } from '../wire/claims.ts';
import { WireError } from '../wire/errors.ts';
import { StateCode } from './node-state.ts';

export type ClaimKind = 'alive' | 'leave' | 'suspect' | 'unreachable';

export interface Claim {
  readonly kind: ClaimKind;
  /** The member the claim is about. */
  readonly subject: string;
  /** Who signed it (the subject itself for alive and leave). */
  readonly signer: string;
  readonly signerKey: Uint8Array;
  /** The subject's incarnation the claim refers to. */
  readonly incarnation: number;
  readonly meta: Readonly<Record<string, string>>;
  readonly addrs: readonly string[];
  /** Alive claims of clusters that require it: the member's membership token. */
  readonly token: Uint8Array | undefined;
  /** Alive claims: the member's state entries older than this (wall ms) are void (0: none). */
  readonly lowWaterMark: number;
  /** Exactly the bytes that travel (and were signed). */
  readonly wire: WireClaim;
  /** Encoded size on the wire, for piggyback budgets. */
  readonly size: number;
}

const KIND: Record<ClaimBody['k'], ClaimKind> = { a: 'alive', l: 'leave', s: 'suspect', u: 'unreachable' };
const CODE: Record<ClaimKind, ClaimBody['k']> = { alive: 'a', leave: 'l', suspect: 's', unreachable: 'u' };
const DOMAIN: Record<ClaimKind, string> = {
  alive: Domain.Alive,
  leave: Domain.Leave,
  suspect: Domain.Suspect,
  unreachable: Domain.Unreachable,
};
const EMPTY_META: Readonly<Record<string, string>> = Object.freeze(Object.create(null));

export function claimDomain(kind: ClaimKind): string {
  return DOMAIN[kind];
}

/** The member state a claim puts its subject in. */
export function claimState(kind: ClaimKind): StateCode {
  switch (kind) {
    case 'alive':
      return StateCode.Active;
    case 'suspect':
      return StateCode.Suspect;
    case 'unreachable':
      return StateCode.Unreachable;
    case 'leave':
      return StateCode.Left;
  }
}

/** CBOR overhead of one {b, s} claim around its body (map head, keys, byte-string heads). */
const CLAIM_OVERHEAD = 1 + 2 + 3 + 2 + 2 + 64;

/**
 * Interprets a wire claim: strict body decode and the identities it names. Does NOT check
 * the signature. Throws WireError when the body is malformed or inconsistent.
 */
export function interpretClaim(wire: WireClaim): Claim {
  const body = decodeClaimBody(wire.b);
  const signer = nodeIdOf(body.key);
  const kind = KIND[body.k];
  let subject = signer;
  if (body.k === 's' || body.k === 'u') {
    subject = toHex(body.n);
    if (subject === signer) throw new WireError('invalid-field', 'a node cannot accuse itself', 'claim.n');
  }
  return {
    kind,
    subject,
    signer,
    signerKey: body.key,
    incarnation: body.i,
    meta: body.k === 'a' && body.m ? body.m : EMPTY_META,
    addrs: body.k === 'a' && body.ad ? body.ad : [],
    token: body.k === 'a' ? body.t : undefined,
    lowWaterMark: body.k === 'a' ? (body.lw ?? 0) : 0,
    wire,
    size: wire.b.length + CLAIM_OVERHEAD,
  };
}

/** What a node needs to make claims: the identity layer's Signer (NodeIdentity fits). */
export type ClaimSigner = Signer;

export interface ClaimFields {
  incarnation: number;
  /** Alive only. */
  meta?: Record<string, string>;
  /** Alive only: how to reach the signer (transport addresses). */
  addrs?: string[];
  /** Alive only: the signer's membership token. */
  token?: Uint8Array;
  /** Alive only: the state low-water mark. */
  lowWaterMark?: number;
  /** Suspect / unreachable: the accused member. */
  subject?: string;
}

/** Builds and signs a claim of this node. Throws WireError if the fields do not fit the schema. */
export function signClaim(signer: ClaimSigner, kind: ClaimKind, f: ClaimFields): Claim {
  const body: Record<string, unknown> = { k: CODE[kind], key: signer.publicKey, i: f.incarnation };
  if (kind === 'alive') {
    if (f.meta && Object.keys(f.meta).length > 0) body.m = f.meta;
    if (f.addrs && f.addrs.length > 0) body.ad = f.addrs;
    if (f.token) body.t = f.token;
    if (f.lowWaterMark) body.lw = f.lowWaterMark;
  } else if (kind === 'suspect' || kind === 'unreachable') {
    if (!f.subject) throw new WireError('invalid-field', 'an accusation names its subject', 'claim.n');
    body.n = fromHex(f.subject);
  }
  const b = encodeCbor(claimBody.parse(body, 'claim'));
  const s = signer.sign(signingInput(DOMAIN[kind], b));
  return interpretClaim({ b, s });
}
