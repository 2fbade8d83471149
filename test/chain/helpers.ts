// Shared by the chain tests: a stepping clock, authors, chains of n entries, and a link
// between two logs that carries requests and answers as bytes (the codec is always on).

import { ChainLog, type ChainLogOptions } from '../../lib/chain/chain-log.ts';
import {
  decodeSyncRequest,
  decodeSyncResponse,
  encodeSyncRequest,
  encodeSyncResponse,
} from '../../lib/chain/codec.ts';
import type { ChainError } from '../../lib/chain/errors.ts';
import { type ForkProof, forkProofFromHeads } from '../../lib/chain/fork.ts';
import type { ChainSyncRequest, ChainSyncResponse } from '../../lib/chain/sync.ts';
import { signTreeHead } from '../../lib/chain/tree-head.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import type { Clock } from '../../lib/time/types.ts';

/** Wall time that advances 1 ms per reading, from a fixed origin: runs are reproducible. */
export function steppingClock(start = 1_700_000_000_000): Clock {
  let t = start;
  return { now: () => t - start, wallNow: () => t++ };
}

export function author(seed = 1): NodeIdentity {
  return NodeIdentity.fromSecretKey(new Uint8Array(32).fill(seed));
}

export const base: ChainLogOptions = { verifier: strictVerifier };

export async function authorChain(
  n: number,
  opts: ChainLogOptions & { seed?: number; name?: string } = {},
): Promise<ChainLog> {
  const log = await ChainLog.open({
    ...base,
    clock: steppingClock(),
    ...opts,
    identity: author(opts.seed ?? 1),
    name: opts.name ?? 'feed',
    create: true,
  });
  for (let i = 0; i < n; i += 100)
    await log.appendBatch(Array.from({ length: Math.min(100, n - i) }, (_, j) => ({ n: i + j })));
  return log;
}

export function replicaOf(log: ChainLog, opts: ChainLogOptions = {}): Promise<ChainLog> {
  return ChainLog.replica({ ...base, ...opts, chainId: log.chainId, author: log.author });
}

export interface Wire {
  ask(req: ChainSyncRequest): Promise<ChainSyncResponse>;
  requests: ChainSyncRequest[];
  bytes: number;
}

/** `responder` answers over bytes; `alter` may change an answer in flight; `dropAfter` rejects from that request on. */
export function wire(
  responder: ChainLog,
  opts: { alter?: (res: ChainSyncResponse, i: number) => ChainSyncResponse; dropAfter?: number } = {},
): Wire {
  const w: Wire = {
    requests: [],
    bytes: 0,
    async ask(req) {
      const i = w.requests.length;
      if (opts.dropAfter !== undefined && i >= opts.dropAfter) throw new Error('link dropped');
      const reqBytes = encodeSyncRequest(req);
      const decoded = decodeSyncRequest(reqBytes);
      w.requests.push(decoded);
      let res = decodeSyncResponse(encodeSyncResponse(responder.serveSync(decoded)));
      if (opts.alter) res = opts.alter(res, i);
      const resBytes = encodeSyncResponse(res);
      w.bytes += reqBytes.length + resBytes.length;
      return decodeSyncResponse(resBytes);
    },
  };
  return w;
}

/** A valid proof that `signer` signed two inconsistent heads of size 1 for `chainId` (roots filled with `fill`, `fill` + 1). */
export function inconsistentHeads(signer: NodeIdentity, chainId: string, fill = 1): ForkProof {
  const head = (f: number) =>
    signTreeHead(signer, { chainId, size: 1, root: new Uint8Array(32).fill(f), wall: 1, counter: 0 });
  return forkProofFromHeads(signer.publicKey, head(fill), head(fill + 1))!;
}

/** The ChainError `p` rejects with (throws if it fulfils). */
export async function rejection(p: Promise<unknown>): Promise<ChainError> {
  try {
    await p;
  } catch (e) {
    return e as ChainError;
  }
  throw new Error('expected a rejection');
}
