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
 * is refused (`gap`), and at most `window` answers (× `parts`, streamed) wait in memory. How
 * far to pull comes from the signed heads, never from an answer's `hasMore`.
 *
 * Streamed (`parts` > 1, `ask` returning an async iterable): each range request asks for
 * `parts` answers' worth of entries, and the responder sends them as consecutive answers, each
 * checked as above: one request per `parts` answers, which is what bounds a pull over a link
 * whose sends are costly or a peer whose request quota is the limit.
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
  /** Sync requests in flight at once (1: one request per round trip). Default 4. */
  readonly window?: number;
  /**
   * Answers each range request may bring, when `ask` answers in parts (an async iterable):
   * such a request asks for this many answers' worth of entries. Default 1.
   */
  readonly parts?: number;
  /**
   * Asked before each request: once it returns true the pull sends nothing more, applies the
   * answers already asked for, and returns `stopped` (pulling again resumes after them).
   */
  readonly stop?: () => boolean;
}

/** One answer read: a part, the error that ended its request, or (res undefined) the end of a streamed answer. */
type Settled = { ok: true; res: ChainSyncResponse | undefined } | { ok: false; error: unknown };

/**
 * Asks one request: answered once (a promise), or in parts (an async iterable of answers, each
 * for the entries after the one before, at most `parts` of them: MeshNode.requestStream).
 */
export type ChainAsk = (
  request: ChainSyncRequest,
  parts: number,
) => Promise<ChainSyncResponse> | AsyncIterable<ChainSyncResponse>;

/** One request sent: where its next answer's entries start, how many it may still bring, its answers to come. */
interface Slot {
  start: number;
  max: number;
  /** Answers it may still bring. */
  answers: number;
  next(): Promise<Settled>;
  /** Stops reading its answers (a stream is told, so the rest is not kept for nobody). */
  close(): void;
  /** An answer read that waits for a gap before it to be filled. */
  held?: Settled;
}

const END: Settled = { ok: true, res: undefined };

const streamed = (
  answer: Promise<ChainSyncResponse> | AsyncIterable<ChainSyncResponse>,
): answer is AsyncIterable<ChainSyncResponse> =>
  typeof (answer as AsyncIterable<ChainSyncResponse>)[Symbol.asyncIterator] === 'function';

/** The answers to one request, read in order; an answer once is an answer of one part. */
function answersOf(
  answer: Promise<ChainSyncResponse> | AsyncIterable<ChainSyncResponse>,
): Pick<Slot, 'next' | 'close'> {
  const failed = (error: unknown): Settled => ({ ok: false, error });
  if (streamed(answer)) {
    const it = answer[Symbol.asyncIterator]();
    return {
      next: () => it.next().then((r): Settled => (r.done ? END : { ok: true, res: r.value }), failed),
      close: () => void Promise.resolve(it.return?.()).catch(() => {}),
    };
  }
  // Settled at once, so that an answer never read (the pull ended first) is no unhandled rejection.
  const once = Promise.resolve(answer as Promise<ChainSyncResponse>).then(
    (res): Settled => ({ ok: true, res }),
    failed,
  );
  let read = false;
  return {
    next: () => {
      if (read) return Promise.resolve(END);
      read = true;
      return once;
    },
    close: () => {},
  };
}

/** Pulls `log` up to the responder's head through `ask`. */
export async function pullChain(log: ChainLog, ask: ChainAsk, opts: PullOptions = {}): Promise<PullResult> {
  const maxTrips = opts.maxRoundTrips ?? 100_000;
  const window = opts.window ?? 4;
  const parts = opts.parts ?? 1;
  if (!Number.isInteger(window) || window < 1)
    throw new ChainError('invalid-argument', 'window must be an integer ≥ 1');
  if (!Number.isInteger(parts) || parts < 1)
    throw new ChainError('invalid-argument', 'parts must be an integer ≥ 1');
  let appended = 0;
  let roundTrips = 0;
  /** Requests in flight, in the order their answers are applied. */
  const queue: Slot[] = [];
  /** The size of the largest signed head an applied answer carried: how far to pull. */
  let target = 0;
  /** Entries per answer: what a byte-cut answer held (the responder's answer size). */
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
    const answer = ask(req, parts);
    const answers = streamed(answer) ? parts : 1;
    return { start: req.afterSequence + 1, max: req.maxEntries, answers, ...answersOf(answer) };
  };
  /** Where a request's entries will end, as far as known (its answers left, of `chunk` entries each). */
  const end = (slot: Slot): number => slot.start + Math.min(slot.max, slot.answers * chunk);
  /** A request at this log's head, its hash checked by the responder. */
  const checked = (maxEntries?: number): Slot => send(log.syncRequest(maxEntries));
  const fill = () => {
    next = Math.max(next, log.length, ...queue.map(end));
    while (queue.length < window && chunk > 0 && next < target && roundTrips < maxTrips && !stopping()) {
      const max = Math.min(chunk * parts, target - next);
      queue.push(send({ chainId: log.chainId, afterSequence: next - 1, afterHash: null, maxEntries: max }));
      next += max;
    }
  };

  // Every way out closes the requests still in flight: a stream not read to its end would
  // otherwise keep taking parts (each resetting its timeout) for nobody.
  try {
    for (;;) {
      if (queue.length === 0) {
        if (roundTrips >= maxTrips) return { appended, roundTrips };
        if (stopping()) return { appended, roundTrips, stopped: true };
        queue.push(checked());
      }
      const slot = queue[0]!;
      const settled = slot.held ?? (await slot.next());
      slot.held = undefined;
      if (!settled.ok) throw settled.error; // the answers still in flight settle unread
      const res = settled.res;
      if (!res) {
        queue.shift()!.close(); // a streamed answer ended (short: the next request's start shows the gap)
        fill();
        continue;
      }
      if (res.entries.length > slot.max)
        throw new ChainError(
          'tampered',
          `${res.entries.length} entries answered where ${slot.max} were asked`,
        );
      if (slot.start < log.length) {
        // Overtaken (the log grew meanwhile): nothing in it is new.
        slot.start += res.entries.length;
        slot.max -= res.entries.length;
        slot.answers--;
        if (slot.max === 0 || slot.answers === 0) queue.shift()!.close();
        continue;
      }
      if (slot.start > log.length) {
        // An earlier answer came short: fetch the gap first; this answer waits its turn.
        if (roundTrips >= maxTrips) return { appended, roundTrips };
        if (stopping()) return { appended, roundTrips, stopped: true };
        slot.held = settled;
        queue.unshift(checked(slot.start - log.length));
        continue;
      }
      const r = await log.applySync(res);
      appended += r.appended;
      if (r.diverged && res.treeHead)
        return { appended, ...(await proveFork(log, res, ask, opts, roundTrips)) };
      // Nothing new at its turn: caught up, or a responder that stalls (the next pull tries again).
      if (r.appended === 0) return { appended, roundTrips };
      if (res.treeHead!.size > target) target = res.treeHead!.size;
      if (r.hasMore && r.appended < slot.max) chunk = r.appended;
      else if (chunk === 0) chunk = slot.max;
      slot.start += r.appended;
      slot.max -= r.appended;
      slot.answers--;
      if (!r.hasMore && log.length >= target) return { appended, roundTrips };
      // All it asked for came (a stream's end is not waited for).
      if (slot.max === 0 || slot.answers === 0) queue.shift()!.close();
      fill();
    }
  } finally {
    for (const slot of queue.splice(0)) slot.close();
  }
}

/** The answer's signed head does not extend `log`: locate the divergence with proven probes and prove it. */
async function proveFork(
  log: ChainLog,
  res: ChainSyncResponse,
  ask: ChainAsk,
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
      const answer = await firstAnswer(ask({ ...log.syncRequest(0), probe }, 1));
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

/** The one answer to a probe (asked for one part). */
async function firstAnswer(
  answer: Promise<ChainSyncResponse> | AsyncIterable<ChainSyncResponse>,
): Promise<ChainSyncResponse> {
  const answers = answersOf(answer);
  const settled = await answers.next();
  answers.close();
  if (!settled.ok) throw settled.error;
  if (!settled.res) throw new ChainError('tampered', 'a probe was answered with nothing');
  return settled.res;
}
