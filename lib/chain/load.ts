/**
 * Where a ChainLog starts: the copy of its chain a storage holds, checked before it is used —
 * the entries (sequence, links, hashes) and the stored head (its root over those entries, and
 * the author's signature). A storage failure is `storage-failed`; a copy that does not hold is
 * `gap` / `tampered` / `bad-signature`.
 */
import { type LogTree, leafHash } from '../merkle/log-tree.ts';
import { equalBytes } from '../util/bytes.ts';
import { type ChainEntry, GENESIS_PREV } from './entry.ts';
import { ChainError } from './errors.ts';
import type { ChainStorage } from './storage.ts';
import type { SignedTreeHead } from './tree-head.ts';
import { checkEntries, type HeadVerifier } from './verify.ts';

export interface LoadedChain {
  readonly entries: readonly ChainEntry[];
  /** The stored head, when it covers no more than the stored entries. */
  readonly head: SignedTreeHead | undefined;
  /** The stored head even when it covers more (entries lost): an author signs later than its time. */
  readonly storedHead: SignedTreeHead | undefined;
}

/** The storage's copy of `chainId`, its entry hashes appended to `tree`; undefined when it holds none. */
export async function loadChain(
  storage: ChainStorage,
  chainId: string,
  idBytes: Uint8Array,
  heads: HeadVerifier,
  tree: LogTree,
): Promise<LoadedChain | undefined> {
  let stored: Awaited<ReturnType<ChainStorage['load']>>;
  try {
    stored = await storage.load(chainId);
  } catch (e) {
    throw new ChainError('storage-failed', `chain storage: ${(e as Error).message}`, { cause: e });
  }
  if (!stored || (stored.entries.length === 0 && !stored.head)) return undefined;
  checkEntries(idBytes, 0, GENESIS_PREV, stored.entries);
  for (const e of stored.entries) tree.appendHash(leafHash(e.hash));
  const head = stored.head;
  if (!head || head.size > stored.entries.length)
    return { entries: stored.entries, head: undefined, storedHead: head };
  if (head.size > 0 && !equalBytes(tree.root(head.size), head.root))
    throw new ChainError('tampered', 'the stored tree head does not match the stored entries');
  await heads.check(head);
  return { entries: stored.entries, head, storedHead: head };
}
