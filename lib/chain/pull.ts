/**
 * The requester's loop: pull up to the responder's signed head, and when that head does not
 * extend the local chain, locate the fork through proven probes and prove it. A link that
 * drops mid-pull rejects `ask`; pulling again later starts after what was appended (nothing
 * is fetched twice).
 *
 * Pipelined: the first request names this log's head (the responder checks it, so a
 * divergence shows at once); once its answer's signed head says how far the responder goes,
 * up to `window` range requests are in flight at once, each for the entries after the
 * previous one's expected end. Answers are applied in request order, each verified as any
 * answer (links, hashes, consistency with the signed head), so a range answered out of place
 * is refused (`gap`), and at most `window` answers wait in memory. How far to pull comes
 * from the signed heads, never from an answer's `hasMore`.
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
  /** Set when `stop` ended the pull before it reached the responder's head. */
  readonly stopped?: true;
}

export interface PullOptions {
  /** Checks the signed heads of probes. Default: WebCrypto where present, else pure JavaScript. */
  readonly verifier?: SignatureVerifier;
  /** Stop after this many requests (a responder that always has more cannot hold the loop). Default 100,000. */
  readonly maxRoundTrips?: number;
  /** Sync requests in flight at once (1: one answer per round trip). Default 4. */
  readonly window?: number;
  /**
   * Asked before each request: once it returns true the pull sends nothing more, applies the
   * answers already asked for, and returns `stopped` (pulling again resumes after them).
   */
  readonly stop?: () => boolean;
}

type Settled = { ok: true; res: ChainSyncResponse } | { ok: false; error: unknown };

/** One request sent: where its entries start, how many it asked for, its answer to come. */
interface Slot {
  readonly start: number;
  readonly max: number;
  readonly answer: Promise<Settled>;
}

/** Pulls `log` up to the responder's head through `ask` (one request, one answer each). */
export async function pullChain(
  log: ChainLog,
  ask: (request: ChainSyncRequest) => Promise<ChainSyncResponse>,
  opts: PullOptions = {},
): Promise<PullResult> {
  const maxTrips = opts.maxRoundTrips ?? 100_000;
  const window = opts.window ?? 4;
  if (!Number.isInteger(window) || window < 1)
    throw new ChainError('invalid-argument', 'window must be an integer ≥ 1');
  let appended = 0;
  let roundTrips = 0;
  /** Requests in flight, in the order their answers are applied. */
  const queue: Slot[] = [];
  /** The size of the largest signed head an applied answer carried: how far to pull. */
  let target = 0;
  /** Entries per range request: what a byte-cut answer held (the responder's answer size). */
  let chunk = 0;
  /** Where the next range request starts. */
  let next = 0;

  let stopped = false;
  const stopping = (): boolean => {
    stopped ||= opts.stop?.() ?? false;
    return stopped;
  };
  const send = (req: ChainSyncRequest): Slot => {
    roundTrips++;
    const answer = ask(req).then(
      (res): Settled => ({ ok: true, res }),
      (error: unknown): Settled => ({ ok: false, error }),
    );
    return { start: req.afterSequence + 1, max: req.maxEntries, answer };
  };
  /** A request at this log's head, its hash checked by the responder. */
  const checked = (maxEntries?: number): Slot => send(log.syncRequest(maxEntries));
  const fill = () => {
    next = Math.max(next, log.length);
    while (queue.length < window && chunk > 0 && next < target && roundTrips < maxTrips && !stopping()) {
      const max = Math.min(chunk, target - next);
      queue.push(send({ chainId: log.chainId, afterSequence: next - 1, afterHash: null, maxEntries: max }));
      next += max;
    }
  };

  for (;;) {
    if (queue.length === 0) {
      if (roundTrips >= maxTrips) return { appended, roundTrips };
      if (stopping()) return { appended, roundTrips, stopped: true };
      queue.push(checked());
    }
    const slot = queue[0]!;
    const settled = await slot.answer;
    if (!settled.ok) throw settled.error; // the answers still in flight settle unread
    if (slot.start < log.length) {
      queue.shift(); // overtaken (the log grew meanwhile): nothing in it is new
      continue;
    }
    if (slot.start > log.length) {
      // An earlier answer came short: fetch the gap first; this answer waits its turn.
      if (roundTrips >= maxTrips) return { appended, roundTrips };
      if (stopping()) return { appended, roundTrips, stopped: true };
      queue.unshift(checked(slot.start - log.length));
      continue;
    }
    queue.shift();
    const res = settled.res;
    if (res.entries.length > slot.max)
      throw new ChainError('tampered', `${res.entries.length} entries answered where ${slot.max} were asked`);
    const r = await log.applySync(res);
    appended += r.appended;
    if (r.diverged && res.treeHead)
      return { appended, ...(await proveFork(log, res, ask, opts, roundTrips)) };
    // Nothing new at its turn: caught up, or a responder that stalls (the next pull tries again).
    if (r.appended === 0) return { appended, roundTrips };
    if (res.treeHead!.size > target) target = res.treeHead!.size;
    if (r.hasMore && r.appended < slot.max) chunk = r.appended;
    else if (chunk === 0) chunk = slot.max;
    if (!r.hasMore && queue.length === 0 && log.length >= target) return { appended, roundTrips };
    fill();
  }
}

/** The answer's signed head does not extend `log`: locate the divergence with proven probes and prove it. */
async function proveFork(
  log: ChainLog,
  res: ChainSyncResponse,
  ask: (request: ChainSyncRequest) => Promise<ChainSyncResponse>,
  opts: PullOptions,
  tripsSoFar: number,
): Promise<{ roundTrips: number; forked: ForkProof }> {
  let roundTrips = tripsSoFar;
  const remote = new RemoteChainView(
    res.treeHead!,
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
    found.status === 'Forked' ? await buildForkProof(log.author, log, remote, found.forkPoint!) : undefined;
  if (!proof) throw new ChainError('tampered', 'the responder claimed a divergence it could not prove');
  log.markForked(proof);
  return { roundTrips, forked: proof };
}
