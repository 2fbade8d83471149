/**
 * Signed tree heads: the author's signature over (chain id, size, Merkle root, HLC time).
 * One signature covers every entry up to `size` — a reader checks an entry with an inclusion
 * proof and growth with a consistency proof — as hypercore signs roots, not blocks.
 */

import { signingInput } from '../identity/signed.ts';
import type { Signer } from '../identity/signer.ts';
import { type MaybePromise, type SignatureVerifier, whenVerified } from '../identity/verifier.ts';
import { copyBytes, fromHex } from '../util/bytes.ts';
import { encodeCbor } from '../wire/cbor.ts';
import { isChainId, MAX_SEQUENCE } from './entry.ts';
import { ChainError } from './errors.ts';

/** The signature domain of tree heads (lib/identity/signed.ts). */
export const TREE_HEAD_DOMAIN = 'weftmesh/chain-head/v1';

export interface SignedTreeHead {
  readonly chainId: string;
  /** Entries covered: sequences 0..size-1. */
  readonly size: number;
  /** RFC 6962 root over the entry hashes. */
  readonly root: Uint8Array;
  /** The author's HLC time when it signed. */
  readonly wall: number;
  readonly counter: number;
  /** Ed25519 by the author over signingInput(TREE_HEAD_DOMAIN, treeHeadPayload(head)). */
  readonly signature: Uint8Array;
}

export type UnsignedTreeHead = Omit<SignedTreeHead, 'signature'>;

/** The bytes signed: CBOR [chain id, size, root, wall, counter]. */
export function treeHeadPayload(h: UnsignedTreeHead): Uint8Array {
  return encodeCbor([fromHex(h.chainId), h.size, h.root, h.wall, h.counter]);
}

export function signTreeHead(signer: Signer, h: UnsignedTreeHead): SignedTreeHead {
  return { ...h, signature: signer.sign(signingInput(TREE_HEAD_DOMAIN, treeHeadPayload(h))) };
}

/** Whether the author signed this head. Never throws. */
export function verifyTreeHead(
  verifier: SignatureVerifier,
  author: Uint8Array,
  h: SignedTreeHead,
): MaybePromise<boolean> {
  return whenVerified(
    verifier.verify(author, TREE_HEAD_DOMAIN, treeHeadPayload(h), h.signature),
    (ok) => ok,
    () => false,
  );
}

export function treeHeadFields(h: SignedTreeHead): unknown[] {
  return [h.chainId, h.size, h.root, h.wall, h.counter, h.signature];
}

/** Reads a tree head from decoded CBOR, checking types and ranges (not the signature). */
export function readTreeHead(v: unknown): SignedTreeHead {
  if (!Array.isArray(v) || v.length !== 6)
    throw new ChainError('malformed', 'a tree head is an array of 6 fields');
  const [chainId, size, root, wall, counter, signature] = v;
  if (!isChainId(chainId)) throw new ChainError('malformed', 'tree head chain id invalid');
  if (!Number.isInteger(size) || (size as number) < 0 || (size as number) > MAX_SEQUENCE)
    throw new ChainError('malformed', 'tree head size out of range');
  if (!(root instanceof Uint8Array) || root.length !== 32)
    throw new ChainError('malformed', 'tree head root is 32 bytes');
  if (!Number.isSafeInteger(wall) || (wall as number) < 0)
    throw new ChainError('malformed', 'tree head wall time out of range');
  if (!Number.isInteger(counter) || (counter as number) < 0 || (counter as number) > 0xffff)
    throw new ChainError('malformed', 'tree head counter out of range');
  if (!(signature instanceof Uint8Array) || signature.length !== 64)
    throw new ChainError('malformed', 'tree head signature is 64 bytes');
  return {
    chainId,
    size: size as number,
    root: copyBytes(root),
    wall: wall as number,
    counter: counter as number,
    signature: copyBytes(signature),
  };
}
