/**
 * The Merkle summary used for anti-entropy of replicated state: a fixed-fanout (16) tree
 * over key-hash prefixes, 4 levels deep (65,536 buckets). Unlike an RFC 6962 log tree,
 * where one insert shifts every later leaf, an entry here always lands in the same bucket
 * (the first 16 bits of its key hash), so two replicas that differ in d keys differ in at
 * most d root-to-leaf paths, and comparing them costs O(d · log n).
 *
 * Bucket hash: SHA-256 over its entries' (key hash ‖ version digest), sorted by key hash.
 * Interior hash: SHA-256 over the 16 child hashes. An empty subtree hashes to 32 zero
 * bytes, so the tree is stored sparsely. Hashes are recomputed lazily, along dirty paths only.
 */
import { bytesKey, compareBytes, concatBytes, equalBytes } from '../util/bytes.ts';
import { sha256 } from '../util/sha256.ts';

export const FANOUT = 16;
export const DEPTH = 4;
export const BUCKETS = FANOUT ** DEPTH;
export const EMPTY = new Uint8Array(32);

/** The bucket a 32-byte key hash falls into. */
export function bucketOf(keyHash: Uint8Array): number {
  return (keyHash[0]! << 8) | keyHash[1]!;
}

export class PrefixTree {
  /** bucket → bytesKey(key hash) → {key hash, digest} */
  readonly #buckets = new Map<number, Map<string, { id: Uint8Array; digest: Uint8Array }>>();
  /** level → index → hash (non-empty nodes only) */
  readonly #levels: Array<Map<number, Uint8Array>> = Array.from({ length: DEPTH + 1 }, () => new Map());
  /** level → index → entries under that node (non-empty nodes only) */
  readonly #counts: Array<Map<number, number>> = Array.from({ length: DEPTH + 1 }, () => new Map());
  readonly #dirty = new Set<number>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Sets the version digest of the entry with this key hash. */
  set(id: Uint8Array, digest: Uint8Array): void {
    const b = bucketOf(id);
    let bucket = this.#buckets.get(b);
    if (!bucket) {
      bucket = new Map();
      this.#buckets.set(b, bucket);
    }
    const k = bytesKey(id);
    if (!bucket.has(k)) this.#size++;
    bucket.set(k, { id, digest });
    this.#dirty.add(b);
  }

  delete(id: Uint8Array): void {
    const b = bucketOf(id);
    const bucket = this.#buckets.get(b);
    if (bucket?.delete(bytesKey(id))) {
      this.#size--;
      if (bucket.size === 0) this.#buckets.delete(b);
      this.#dirty.add(b);
    }
  }

  root(): Uint8Array {
    return this.node(0, 0);
  }

  /** Hash of the node at `level` (0 = root, DEPTH = buckets), index in [0, 16^level). */
  node(level: number, index: number): Uint8Array {
    this.#rehash();
    return this.#levels[level]?.get(index) ?? EMPTY;
  }

  /** How many entries lie under the node at `level`, `index`. */
  count(level: number, index: number): number {
    this.#rehash();
    return this.#counts[level]?.get(index) ?? 0;
  }

  /** The buckets under the node at `level`, `index`. */
  static bucketRange(level: number, index: number): [number, number] {
    const span = FANOUT ** (DEPTH - level);
    return [index * span, (index + 1) * span];
  }

  /** The 16 child hashes of an interior node. */
  children(level: number, index: number): Uint8Array[] {
    this.#rehash();
    const next = this.#levels[level + 1]!;
    return Array.from({ length: FANOUT }, (_, c) => next.get(index * FANOUT + c) ?? EMPTY);
  }

  /** Key hashes stored in a bucket. */
  bucketIds(bucket: number): Uint8Array[] {
    return [...(this.#buckets.get(bucket)?.values() ?? [])].map((e) => e.id);
  }

  #rehash(): void {
    if (this.#dirty.size === 0) return;
    let dirty = new Set(this.#dirty);
    this.#dirty.clear();
    for (const b of dirty) this.#store(DEPTH, b, this.#bucketHash(b), this.#buckets.get(b)?.size ?? 0);
    for (let level = DEPTH - 1; level >= 0; level--) {
      const parents = new Set<number>();
      for (const i of dirty) parents.add(Math.floor(i / FANOUT));
      for (const p of parents) {
        const kids = this.#levels[level + 1]!;
        const kidCounts = this.#counts[level + 1]!;
        let count = 0;
        const parts: Uint8Array[] = [];
        for (let c = 0; c < FANOUT; c++) {
          parts.push(kids.get(p * FANOUT + c) ?? EMPTY);
          count += kidCounts.get(p * FANOUT + c) ?? 0;
        }
        this.#store(level, p, count > 0 ? sha256(concatBytes(...parts)) : undefined, count);
      }
      dirty = parents;
    }
  }

  #store(level: number, index: number, hash: Uint8Array | undefined, count: number): void {
    if (hash) {
      this.#levels[level]!.set(index, hash);
      this.#counts[level]!.set(index, count);
    } else {
      this.#levels[level]!.delete(index);
      this.#counts[level]!.delete(index);
    }
  }

  #bucketHash(b: number): Uint8Array | undefined {
    const bucket = this.#buckets.get(b);
    if (!bucket || bucket.size === 0) return undefined;
    const entries = [...bucket.values()].sort((x, y) => compareBytes(x.id, y.id));
    return sha256(concatBytes(...entries.flatMap((e) => [e.id, e.digest])));
  }
}

/** What comparing two summaries of the same tree node calls for. */
export type SyncAction =
  | { kind: 'in-sync' }
  /** The node is a bucket: exchange its entries. */
  | { kind: 'exchange-bucket' }
  /** Descend into these children (indices 0..15). */
  | { kind: 'descend'; children: number[] };

export interface NodeSummary {
  /** 0 = root … DEPTH = bucket. */
  level: number;
  hash: Uint8Array;
  /** Child hashes (interior nodes). */
  children?: Uint8Array[];
}

/**
 * Compares a local and a remote summary of the same node: equal hashes are in sync; a
 * differing bucket must be exchanged; a differing interior node is descended into, only
 * where child hashes differ (all children when the remote did not send them).
 */
export function compareTreeRoots(local: NodeSummary, remote: NodeSummary): SyncAction {
  if (equalBytes(local.hash, remote.hash)) return { kind: 'in-sync' };
  if (local.level >= DEPTH) return { kind: 'exchange-bucket' };
  const mine = local.children;
  const theirs = remote.children;
  if (!mine || !theirs) return { kind: 'descend', children: Array.from({ length: FANOUT }, (_, c) => c) };
  const children: number[] = [];
  for (let c = 0; c < FANOUT; c++) if (!equalBytes(mine[c] ?? EMPTY, theirs[c] ?? EMPTY)) children.push(c);
  return { kind: 'descend', children };
}
