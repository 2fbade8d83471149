/**
 * Checks a ChainLog makes of what it did not write itself: entries (sequence, link, hash, in
 * order), signed tree heads (the author's signature, for this chain), and a whole copy
 * (every entry and the head's root, for verifyIntegrity).
 */
import type { SignatureVerifier } from '../identity/verifier.ts';
import { LogTree, leafHash } from '../merkle/log-tree.ts';
import { equalBytes } from '../util/bytes.ts';
import { OFFLOAD_MIN_BYTES, sha256Offload } from '../util/sha256.ts';
import { type ChainEntry, entryHash, GENESIS_PREV, withEntryBytes } from './entry.ts';
import { ChainError } from './errors.ts';
import { type SignedTreeHead, verifyTreeHead } from './tree-head.ts';

/**
 * Sequence, link and hash of each entry, in order, the first at `start` linking to `prev`;
 * throws at the first bad one (`gap`, `tampered`).
 */
export function checkEntries(
  idBytes: Uint8Array,
  start: number,
  prev: Uint8Array,
  entries: readonly ChainEntry[],
  hashes?: ReadonlyArray<Uint8Array | undefined>,
): void {
  let last = prev;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.sequence !== start + i)
      throw new ChainError('gap', `expected sequence ${start + i}, got ${e.sequence}`);
    if (!equalBytes(e.prev, last))
      throw new ChainError('tampered', `entry ${e.sequence} does not link to entry ${e.sequence - 1}`);
    if (!equalBytes(hashes?.[i] ?? entryHash(idBytes, e), e.hash))
      throw new ChainError('tampered', `entry ${e.sequence}: hash does not match its content`);
    last = e.hash;
  }
}

/**
 * The hashes of the entries with long payloads, taken ahead by an asynchronous native
 * SHA-256 (`digest`; by default WebCrypto where the runtime has no synchronous native one:
 * browsers), all at once, for checkEntries; undefined where there is none, or no long payload.
 * In a Chromium page SHA-256 in JavaScript took 30 % of the busy time of a follower pulling 16 KiB
 * entries, at 70 µs an entry against 11.5 µs through WebCrypto.
 */
export async function hashesAhead(
  idBytes: Uint8Array,
  entries: readonly ChainEntry[],
  digest = sha256Offload(),
): Promise<Array<Uint8Array | undefined> | undefined> {
  if (!digest || !entries.some((e) => e.payload.length >= OFFLOAD_MIN_BYTES)) return undefined;
  return Promise.all(
    entries.map((e) =>
      e.payload.length >= OFFLOAD_MIN_BYTES ? withEntryBytes(idBytes, e, digest) : undefined,
    ),
  );
}

/** Whether two heads are the same signed bytes and signature: equal in every field (the chain id is checked before). */
function sameHead(a: SignedTreeHead, b: SignedTreeHead): boolean {
  return (
    a.size === b.size &&
    a.wall === b.wall &&
    a.counter === b.counter &&
    equalBytes(a.root, b.root) &&
    equalBytes(a.signature, b.signature)
  );
}

/** Checks tree heads against the author's key, remembering the last one verified (a catch-up proves many chunks against one head). */
export class HeadVerifier {
  readonly #chainId: string;
  readonly #author: Uint8Array;
  readonly #verifier: SignatureVerifier;
  /** The last head verified (a head with the same fields is the same signed bytes). */
  #verified: SignedTreeHead | undefined;

  constructor(chainId: string, author: Uint8Array, verifier: SignatureVerifier) {
    this.#chainId = chainId;
    this.#author = author;
    this.#verifier = verifier;
  }

  /** Throws `unknown-chain` (another chain's head) or `bad-signature`. */
  async check(h: SignedTreeHead): Promise<void> {
    if (h.chainId !== this.#chainId) throw new ChainError('unknown-chain', 'a tree head of another chain');
    if (this.#verified && sameHead(this.#verified, h)) return;
    if (!(await verifyTreeHead(this.#verifier, this.#author, h)))
      throw new ChainError('bad-signature', `tree head of size ${h.size} not signed by the chain's author`);
    this.#verified = h;
  }

  /**
   * Whether a whole copy holds: every entry hash and link from the genesis entry, and `head`
   * (if any) the author's, for this chain, with the root of the first `head.size` entries.
   */
  async verifyCopy(
    idBytes: Uint8Array,
    entries: readonly ChainEntry[],
    head: SignedTreeHead | undefined,
  ): Promise<boolean> {
    const tree = new LogTree();
    let prev = GENESIS_PREV;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.sequence !== i || !equalBytes(e.prev, prev) || !equalBytes(entryHash(idBytes, e), e.hash))
        return false;
      tree.appendHash(leafHash(e.hash));
      prev = e.hash;
    }
    if (!head) return true;
    if (
      head.chainId !== this.#chainId ||
      head.size > tree.size ||
      !equalBytes(tree.root(head.size), head.root)
    )
      return false;
    return verifyTreeHead(this.#verifier, this.#author, head);
  }
}
