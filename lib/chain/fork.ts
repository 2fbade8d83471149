/**
 * Fork detection and fork proofs. Two chains are compared at their common length, not only
 * at their heads: entry hashes chain every entry to the ones before, so equal hashes at a
 * sequence mean equal chains up to it, and a binary search finds the first differing entry
 * with O(log n) comparisons.
 *
 * A fork proof is two tree heads validly signed by the author that cannot both be true:
 * the same size with different roots, or different entries at one sequence (each shown by
 * an inclusion proof under its head). Anyone holding the author's key can check it without
 * trusting who sent it.
 */
import type { MaybePromise, SignatureVerifier } from '../identity/verifier.ts';
import { verifyInclusion } from '../merkle/log-tree.ts';
import { equalBytes } from '../util/bytes.ts';
import { ChainError } from './errors.ts';
import type { ProvenHash } from './sync.ts';
import { type SignedTreeHead, verifyTreeHead } from './tree-head.ts';

export type ForkStatus = 'InSync' | 'LocalBehind' | 'RemoteBehind' | 'Forked';

export interface ForkDetection {
  readonly status: ForkStatus;
  /** When Forked: the first sequence whose entries differ (the chains share 0..forkPoint-1). */
  readonly forkPoint?: number;
  /** Entry hashes compared (at most ⌈log₂ n⌉ + 1). */
  readonly comparisons: number;
}

/** What detectChainFork reads of a chain: a ChainLog, or a peer's chain seen through proofs. */
export interface ChainView {
  readonly chainId: string;
  readonly length: number;
  hashAt(sequence: number): MaybePromise<Uint8Array | undefined>;
}

/**
 * Compares two views of one chain at their common length and, if they differ there, finds
 * where they diverge by binary search over the entry hashes.
 */
export async function detectChainFork(local: ChainView, remote: ChainView): Promise<ForkDetection> {
  if (local.chainId !== remote.chainId) throw new ChainError('unknown-chain', 'two different chains');
  const common = Math.min(local.length, remote.length);
  let comparisons = 0;
  const differs = async (seq: number): Promise<boolean> => {
    comparisons++;
    const [a, b] = await Promise.all([local.hashAt(seq), remote.hashAt(seq)]);
    return !a || !b || !equalBytes(a, b);
  };
  if (common > 0 && (await differs(common - 1))) {
    let lo = 0;
    let hi = common - 1; // differs at hi; the first difference is in lo..hi
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (await differs(mid)) hi = mid;
      else lo = mid + 1;
    }
    return { status: 'Forked', forkPoint: lo, comparisons };
  }
  const status =
    local.length === remote.length ? 'InSync' : local.length < remote.length ? 'LocalBehind' : 'RemoteBehind';
  return { status, comparisons };
}

/** A chain seen through a peer's signed heads and inclusion proofs (each checked on arrival). */
export class RemoteChainView implements ChainView {
  readonly chainId: string;
  readonly length: number;
  readonly #author: Uint8Array;
  readonly #verifier: SignatureVerifier;
  readonly #fetch: (
    sequence: number,
  ) => Promise<{ treeHead: SignedTreeHead | undefined; probe?: ProvenHash }>;
  readonly #proven = new Map<number, { head: SignedTreeHead; proof: ProvenHash }>();

  /**
   * `head`: the peer's signed head as applySync accepted it (its size is the view's length;
   * every hash is proven on its own); `fetch(seq)`: asks the peer for entry
   * `seq`'s hash with its inclusion proof under its current signed head (a sync request
   * with `probe`).
   */
  constructor(
    head: SignedTreeHead,
    author: Uint8Array,
    verifier: SignatureVerifier,
    fetch: (sequence: number) => Promise<{ treeHead: SignedTreeHead | undefined; probe?: ProvenHash }>,
  ) {
    this.chainId = head.chainId;
    this.length = head.size;
    this.#author = author;
    this.#verifier = verifier;
    this.#fetch = fetch;
  }

  /** The entry hash at `sequence`, checked against a head the author signed; throws ChainError when the peer cannot prove it. */
  async hashAt(sequence: number): Promise<Uint8Array> {
    const known = this.#proven.get(sequence);
    if (known) return known.proof.hash;
    const { treeHead: head, probe } = await this.#fetch(sequence);
    if (!head || !probe || probe.sequence !== sequence || head.chainId !== this.chainId)
      throw new ChainError('tampered', `the peer did not prove entry ${sequence}`);
    if (!(await verifyTreeHead(this.#verifier, this.#author, head)))
      throw new ChainError('bad-signature', 'a probe answered under a tree head the author did not sign');
    if (!verifyInclusion(probe.hash, sequence, head.size, probe.path as Uint8Array[], head.root))
      throw new ChainError('tampered', `entry ${sequence}: inclusion proof does not hold`);
    this.#proven.set(sequence, { head, proof: probe });
    return probe.hash;
  }

  /** The signed head and proof under which entry `sequence` was proven, if it was. */
  provenAt(sequence: number): { head: SignedTreeHead; proof: ProvenHash } | undefined {
    return this.#proven.get(sequence);
  }
}

/** Portable evidence that a chain's author signed two inconsistent tree heads. */
export interface ForkProof {
  readonly chainId: string;
  readonly author: Uint8Array;
  readonly a: SignedTreeHead;
  readonly b: SignedTreeHead;
  /** Entry `sequence` under head a (absent when a and b have one size and different roots). */
  readonly entryA?: ProvenHash;
  /** A different entry at the same sequence under head b. */
  readonly entryB?: ProvenHash;
}

/** What a fork proof is built from on either side: a ChainLog, or a RemoteChainView's proofs. */
export interface ForkWitness {
  treeHead(): SignedTreeHead | undefined;
  hashAt(sequence: number): MaybePromise<Uint8Array | undefined>;
  inclusionProof(sequence: number, size: number): Uint8Array[];
}

/** The proof for two views found Forked at `forkPoint`, or undefined when one side holds no signed head covering it. */
export async function buildForkProof(
  author: Uint8Array,
  local: ForkWitness,
  remote: ForkWitness | RemoteChainView,
  forkPoint: number,
): Promise<ForkProof | undefined> {
  const a = local.treeHead();
  const hashA = await local.hashAt(forkPoint);
  if (!a || !hashA || a.size <= forkPoint) return undefined;
  const entryA = { sequence: forkPoint, hash: hashA, path: local.inclusionProof(forkPoint, a.size) };
  let b: SignedTreeHead | undefined;
  let entryB: ProvenHash | undefined;
  if (remote instanceof RemoteChainView) {
    await remote.hashAt(forkPoint);
    const p = remote.provenAt(forkPoint);
    b = p?.head;
    entryB = p?.proof;
  } else {
    b = remote.treeHead();
    const hashB = await remote.hashAt(forkPoint);
    if (b && hashB && b.size > forkPoint)
      entryB = { sequence: forkPoint, hash: hashB, path: remote.inclusionProof(forkPoint, b.size) };
  }
  if (!b || !entryB || equalBytes(entryA.hash, entryB.hash)) return undefined;
  return { chainId: a.chainId, author, a, b, entryA, entryB };
}

/** The proof of two heads of one size with different roots, or undefined when they agree. */
export function forkProofFromHeads(
  author: Uint8Array,
  a: SignedTreeHead,
  b: SignedTreeHead,
): ForkProof | undefined {
  if (a.chainId !== b.chainId || a.size !== b.size || equalBytes(a.root, b.root)) return undefined;
  return { chainId: a.chainId, author, a, b };
}

/** Whether a fork proof holds: both heads signed by `author`, and inconsistent. Never throws. */
export async function verifyForkProof(proof: ForkProof, verifier: SignatureVerifier): Promise<boolean> {
  const { a, b, entryA, entryB, author } = proof;
  if (a.chainId !== proof.chainId || b.chainId !== proof.chainId) return false;
  const [okA, okB] = await Promise.all([
    verifyTreeHead(verifier, author, a),
    verifyTreeHead(verifier, author, b),
  ]);
  if (!okA || !okB) return false;
  if (!entryA || !entryB) return a.size === b.size && !equalBytes(a.root, b.root);
  return (
    entryA.sequence === entryB.sequence &&
    !equalBytes(entryA.hash, entryB.hash) &&
    verifyInclusion(entryA.hash, entryA.sequence, a.size, entryA.path as Uint8Array[], a.root) &&
    verifyInclusion(entryB.hash, entryB.sequence, b.size, entryB.path as Uint8Array[], b.root)
  );
}
