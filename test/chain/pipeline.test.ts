// Pipelined pulls: several sync requests in flight, each for the range after the previous
// one's expected end; answers applied in request order and verified as any answer. Hostile
// responders (answers out of range, lies about hasMore, more entries than asked, stale heads,
// answers arriving out of order) neither corrupt the replica nor keep the pull going.
import { describe, expect, it } from 'vitest';
import type { ChainLog } from '../../lib/chain/chain-log.ts';
import { ChainError } from '../../lib/chain/errors.ts';
import { pullChain } from '../../lib/chain/pull.ts';
import type { ChainSyncRequest, ChainSyncResponse } from '../../lib/chain/sync.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { ConfigError } from '../../lib/membership/config.ts';
import { chains } from '../../lib/node/chain-service.ts';
import { authorChain, rejection, replicaOf, wire } from './helpers.ts';

interface Async {
  ask(req: ChainSyncRequest): Promise<ChainSyncResponse>;
  requests: ChainSyncRequest[];
  /** The most requests that were in flight at once. */
  peak: number;
}

/** `wire` with answers that take 0–4 ms (out of order), optionally altered per request. */
function asyncWire(
  responder: ChainLog,
  alter?: (res: ChainSyncResponse, req: ChainSyncRequest, i: number) => ChainSyncResponse,
): Async {
  const w = wire(responder);
  let inFlight = 0;
  let sent = 0;
  const a: Async = {
    requests: w.requests,
    peak: 0,
    async ask(req) {
      const i = sent++;
      inFlight++;
      a.peak = Math.max(a.peak, inFlight);
      try {
        await new Promise((r) => setTimeout(r, (i * 7) % 5));
        const res = await w.ask(req);
        return alter ? alter(res, req, i) : res;
      } finally {
        inFlight--;
      }
    },
  };
  return a;
}

const pull = (log: ChainLog, ask: Async['ask'], window = 4, maxRoundTrips?: number) =>
  pullChain(log, ask, { verifier: strictVerifier, window, ...(maxRoundTrips ? { maxRoundTrips } : {}) });

async function sameAs(follower: ChainLog, log: ChainLog): Promise<void> {
  expect(follower.length).toBe(log.length);
  expect(follower.head()).toEqual(log.head());
  expect(follower.treeHead()).toEqual(log.treeHead());
  expect(await follower.verifyIntegrity()).toBe(true);
}

describe('pipelined chain pulls', () => {
  it('keeps the window of range requests in flight, answers arriving out of order, and catches up exactly', async () => {
    const log = await authorChain(2000, { serve: { maxEntries: 50 } });
    const follower = await replicaOf(log);
    const w = asyncWire(log);
    const r = await pull(follower, w.ask, 6);
    await sameAs(follower, log);
    expect(r.appended).toBe(2000);
    expect(r.roundTrips).toBe(40);
    expect(w.peak).toBe(6);
    // The first request names the follower's head (checked); the rest are ranges, each after the last.
    expect(w.requests[0]!.afterSequence).toBe(-1);
    const ranges = w.requests.slice(1);
    expect(ranges.every((q) => q.afterHash === null && q.maxEntries === 50)).toBe(true);
    expect(ranges.map((q) => q.afterSequence).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 39 }, (_, i) => 49 + 50 * i),
    );
  });

  it('answers cut short by bytes leave gaps that are fetched before the answers after them are applied', async () => {
    const log = await authorChain(0, { serve: { maxBytes: 4_000 } });
    // Payloads of varying size: answers hold 2 to 9 entries.
    await log.appendBatch(Array.from({ length: 300 }, (_, i) => new Uint8Array(((i * 37) % 7) * 250)));
    const follower = await replicaOf(log);
    await pull(follower, asyncWire(log).ask, 8);
    await sameAs(follower, log);
  });

  it('a range answered out of place is refused (gap); what came before stays, an honest peer finishes', async () => {
    const log = await authorChain(600, { serve: { maxEntries: 50 } });
    const follower = await replicaOf(log);
    // Request 3 is answered with the entries of another range.
    const w = asyncWire(log, (res, req, i) =>
      i === 3 ? log.serveSync({ ...req, afterSequence: req.afterSequence + 100, afterHash: null }) : res,
    );
    const e = await rejection(pull(follower, w.ask));
    expect(e).toBeInstanceOf(ChainError);
    expect(e.code).toBe('gap');
    expect(follower.length).toBe(150);
    expect(await follower.verifyIntegrity()).toBe(true);
    await pull(follower, asyncWire(log).ask);
    await sameAs(follower, log);
  });

  it('more entries than a range asked for: tampered, none of them appended', async () => {
    const log = await authorChain(300, { serve: { maxEntries: 50 } });
    const follower = await replicaOf(log);
    const w = asyncWire(log, (res, req, i) =>
      i === 2 ? log.serveSync({ ...req, maxEntries: req.maxEntries + 10 }, { maxEntries: 60 }) : res,
    );
    const e = await rejection(pull(follower, w.ask));
    expect(e.code).toBe('tampered');
    expect(follower.length).toBe(100);
    expect(await follower.verifyIntegrity()).toBe(true);
  });

  it('lies about hasMore change nothing: the signed head says how far to pull', async () => {
    const log = await authorChain(500, { serve: { maxEntries: 40 } });
    const saysNoMore = await replicaOf(log);
    await pull(saysNoMore, asyncWire(log, (res) => ({ ...res, hasMore: false })).ask);
    await sameAs(saysNoMore, log);
    const saysMore = await replicaOf(log);
    const w = asyncWire(log, (res) => ({ ...res, hasMore: true }));
    const r = await pull(saysMore, w.ask);
    await sameAs(saysMore, log);
    expect(r.roundTrips).toBe(Math.ceil(500 / 40));
  });

  it('a responder answering ranges with an older signed head (and no entries) ends the pull, bounded', async () => {
    const log = await authorChain(100, { serve: { maxEntries: 20 } });
    const follower = await replicaOf(log);
    await pull(follower, asyncWire(log).ask);
    const old = log.serveSync(follower.syncRequest());
    await log.appendBatch(Array.from({ length: 400 }, (_, i) => i));
    const w = asyncWire(log, (res, _req, i) => (i >= 1 ? old : res));
    const r = await pull(follower, w.ask, 4, 1_000);
    expect(follower.length).toBe(120);
    expect(r.roundTrips).toBe(1 + 4);
    expect(await follower.verifyIntegrity()).toBe(true);
    await pull(follower, asyncWire(log).ask);
    await sameAs(follower, log);
  });

  it('an answer that never comes fails the pull with its error; a later pull resumes after what was applied', async () => {
    const log = await authorChain(400, { serve: { maxEntries: 25 } });
    const follower = await replicaOf(log);
    const w = asyncWire(log, (res, _req, i) => {
      if (i === 4) throw new Error('request timed out');
      return res;
    });
    const e = await rejection(pull(follower, w.ask));
    expect((e as Error).message).toBe('request timed out');
    expect(follower.length).toBe(100);
    const again = asyncWire(log);
    await pull(follower, again.ask);
    expect(again.requests[0]!.afterSequence).toBe(99);
    expect(again.requests.length).toBe(12);
    await sameAs(follower, log);
  });

  it('a range request is served without checking the hash; a checked one still reports a mismatch', async () => {
    const log = await authorChain(30);
    const range = log.serveSync({ chainId: log.chainId, afterSequence: 9, afterHash: null, maxEntries: 5 });
    expect(range.mismatch).toBe(false);
    expect(range.entries.map((e) => e.sequence)).toEqual([10, 11, 12, 13, 14]);
    const wrong = log.serveSync({
      chainId: log.chainId,
      afterSequence: 9,
      afterHash: log.get(8)!.hash,
      maxEntries: 5,
    });
    expect(wrong.mismatch).toBe(true);
    expect(wrong.entries).toEqual([]);
  });

  it('the chains() service checks its window and pace: ConfigError naming the setting', () => {
    for (const [bad, field] of [
      [{ pullWindow: 0 }, 'chains.pullWindow'],
      [{ pullWindow: 2.5 }, 'chains.pullWindow'],
      [{ pullRate: 0 }, 'chains.pullRate'],
    ] as const) {
      expect(() => chains(bad)).toThrow(ConfigError);
      expect(() => chains(bad)).toThrow(field);
    }
    expect(chains({ pullWindow: 16, pullRate: 500 }).options.pullWindow).toBe(16);
  });

  it('pullChain refuses a window that is not an integer ≥ 1 (invalid-argument), asking nothing', async () => {
    const log = await authorChain(5);
    const follower = await replicaOf(log);
    for (const window of [0, 1.5, -1]) {
      const w = asyncWire(log);
      const e = await rejection(pullChain(follower, w.ask, { verifier: strictVerifier, window }));
      expect(e.code).toBe('invalid-argument');
      expect(w.peak).toBe(0);
    }
  });
  it('stop: once it says so nothing more is asked, what was asked is applied, and pulling again resumes after it', async () => {
    const log = await authorChain(2000, { serve: { maxEntries: 50 } });
    const follower = await replicaOf(log);
    const w = asyncWire(log);
    let asked = 0;
    const first = await pullChain(
      follower,
      (req) => {
        asked++;
        return w.ask(req);
      },
      {
        verifier: strictVerifier,
        window: 4,
        stop: () => asked >= 10,
      },
    );
    expect(first.stopped).toBe(true);
    expect(first.roundTrips).toBe(10);
    // Every answer asked for was applied: 10 requests of 50 entries.
    expect(follower.length).toBe(500);
    expect(first.appended).toBe(500);
    const rest = await pull(follower, w.ask, 4);
    expect(rest.stopped).toBeUndefined();
    expect(rest.appended).toBe(1500);
    await sameAs(follower, log);
    // Nothing fetched twice: after the first 10, each request starts where the last ended.
    const starts = w.requests.slice(10).map((r) => r.afterSequence);
    expect(starts[0]).toBe(499);
    expect(new Set(starts).size).toBe(starts.length);
  });
});
