/**
 * The requester's loop: pull while the responder has more, and when its signed head does
 * not extend the local chain, locate the fork through proven probes and prove it. A link
 * that drops mid-pull rejects `ask`; pulling again later starts after what was appended
 * (nothing is fetched twice).
 */
import { fastVerifier, type SignatureVerifier } from '../identity/verifier.ts';
import type { ChainLog } from './chain-log.ts';
import { ChainError } from './errors.ts';
import { buildForkProof, detectChainFork, type ForkProof, RemoteChainView } from './fork.ts';
import type { ChainSyncRequest, ChainSyncResponse } from './sync.ts';

export interface PullResult {
  /** Entries appended by this pull. */
  readonly appended: number;
  /** Requests sent (sync and probe). */
  readonly roundTrips: number;
  /** Set when the pull proved the chain forked (the log is then marked forked). */
  readonly forked?: ForkProof;
}

export interface PullOptions {
  /** Checks the signed heads of probes. Default: WebCrypto where present, else pure JavaScript. */
  readonly verifier?: SignatureVerifier;
  /** Stop after this many requests (a responder that always has more cannot hold the loop). Default 100,000. */
  readonly maxRoundTrips?: number;
}

/** Pulls `log` up to the responder's head through `ask` (one request, one answer). */
export async function pullChain(
  log: ChainLog,
  ask: (request: ChainSyncRequest) => Promise<ChainSyncResponse>,
  opts: PullOptions = {},
): Promise<PullResult> {
  const max = opts.maxRoundTrips ?? 100_000;
  let appended = 0;
  let roundTrips = 0;
  for (;;) {
    if (roundTrips >= max) return { appended, roundTrips };
    roundTrips++;
    const res = await ask(log.syncRequest());
    const r = await log.applySync(res);
    appended += r.appended;
    if (r.diverged && res.treeHead) {
      const remote = new RemoteChainView(
        res.treeHead,
        log.author,
        opts.verifier ?? fastVerifier,
        async (probe) => {
          roundTrips++;
          const answer = await ask({ ...log.syncRequest(0), probe });
          if (answer.chainId !== log.chainId)
            throw new ChainError('unknown-chain', 'a probe answered about another chain');
          return answer;
        },
      );
      const found = await detectChainFork(log, remote);
      const proof =
        found.status === 'Forked'
          ? await buildForkProof(log.author, log, remote, found.forkPoint!)
          : undefined;
      if (!proof) throw new ChainError('tampered', 'the responder claimed a divergence it could not prove');
      log.markForked(proof);
      return { appended, roundTrips, forked: proof };
    }
    if (!r.hasMore) return { appended, roundTrips };
  }
}
