// Streamed pulls (pullChain with `parts`, serveParts): each range request is answered in
// several consecutive answers, each verified as any answer. Hostile streams (a part out of
// place, more entries than asked, a stream that ends short or fails midway) neither corrupt
// the replica nor keep the pull going; an honest one needs a fraction of the requests.
import { describe, expect, it } from 'vitest';
import type { ChainLog } from '../../lib/chain/chain-log.ts';
import { pullChain } from '../../lib/chain/pull.ts';
import { type ChainSyncRequest, type ChainSyncResponse, serveParts } from '../../lib/chain/sync.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { authorChain, rejection, replicaOf } from './helpers.ts';

interface Streams {
  ask(req: ChainSyncRequest, parts: number): AsyncIterable<ChainSyncResponse>;
  requests: ChainSyncRequest[];
  /** Parts sent, over all requests. */
  parts: number;
  /** Per request: whether its stream was read to its end, or closed by the reader. */
  ends: Array<'read' | 'closed' | undefined>;
}

/**
 * A responder that answers each request in up to `parts` answers (serveParts), each after a
 * short delay; `alter` may change (or drop: undefined) part `k` of request `i`, and `fail`
 * throws in place of a part.
 */
function streams(
  responder: ChainLog,
  opts: {
    alter?: (res: ChainSyncResponse, i: number, k: number) => ChainSyncResponse | undefined;
    fail?: (i: number, k: number) => boolean;
  } = {},
): Streams {
  const s: Streams = {
    requests: [],
    parts: 0,
    ends: [],
    ask(req, parts) {
      const i = s.requests.length;
      s.requests.push(req);
      s.ends.push(undefined);
      const answers = [...serveParts((r) => responder.serveSync(r), req, parts)];
      const gen = (async function* () {
        for (const [k, res] of answers.entries()) {
          await new Promise((r) => setTimeout(r, (i + k) % 3));
          if (opts.fail?.(i, k)) throw new Error('link dropped');
          const part = opts.alter ? opts.alter(res, i, k) : res;
          if (!part) continue;
          s.parts++;
          yield part;
        }
        s.ends[i] ??= 'read';
      })();
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => gen.next(),
          return: () => {
            s.ends[i] ??= 'closed';
            return gen.return(undefined);
          },
        }),
      };
    },
  };
  return s;
}

const pull = (log: ChainLog, s: Streams, parts: number, window = 2) =>
  pullChain(log, (req, n) => s.ask(req, n), { verifier: strictVerifier, window, parts });

describe('streamed chain pulls', () => {
  it('each range request brings `parts` answers: the same entries for a tenth of the requests', async () => {
    const log = await authorChain(4000, { serve: { maxEntries: 50 } });
    const plain = await replicaOf(log);
    const one = streams(log);
    await pull(plain, one, 1, 8);
    const follower = await replicaOf(log);
    const s = streams(log);
    const r = await pull(follower, s, 10);
    expect(follower.length).toBe(4000);
    expect(follower.head()).toEqual(log.head());
    expect(await follower.verifyIntegrity()).toBe(true);
    expect(r.appended).toBe(4000);
    expect(one.requests.length).toBe(80);
    // The first request (the follower's head, checked) asks for the log's default; then 500 a request.
    expect(r.roundTrips).toBeLessThanOrEqual(10);
    expect(
      s.requests.slice(1).every((q) => q.maxEntries === 500 || q.afterSequence + q.maxEntries === 3999),
    ).toBe(true);
    expect(s.parts).toBe(80);
  });

  it('a part out of place is refused (gap): what came before stays, nothing after it is appended', async () => {
    const log = await authorChain(1000, { serve: { maxEntries: 50 } });
    const follower = await replicaOf(log);
    // Request 1's third part skips 50 entries: it answers as if the second had been longer.
    const s = streams(log, {
      alter: (res, i, k) => (i === 1 && k === 1 ? undefined : res),
    });
    const e = await rejection(pull(follower, s, 4));
    expect(e.code).toBe('gap');
    expect(follower.length).toBe(200 + 50); // request 0 (4 parts of 50), request 1's first part
    expect(await follower.verifyIntegrity()).toBe(true);
  });

  it('a part with more entries than the request has left: tampered, none of them appended', async () => {
    const log = await authorChain(1000, { serve: { maxEntries: 50 } });
    const follower = await replicaOf(log);
    const extra = log.entriesAfter(-1, 1000);
    // Request 1's last part carries 10 entries past the 200 the request asked for.
    const s = streams(log, {
      alter: (res, i, k) =>
        i === 1 && k === 3
          ? { ...res, entries: extra.slice(res.entries[0]!.sequence, res.entries[0]!.sequence + 60) }
          : res,
    });
    const e = await rejection(pull(follower, s, 4));
    expect(e.code).toBe('tampered');
    expect(follower.length).toBe(200 + 150);
  });

  it('a stream that ends short: the rest is fetched before the requests after it are applied', async () => {
    const log = await authorChain(2000, { serve: { maxEntries: 50 } });
    const follower = await replicaOf(log);
    // Every odd request stops after its first part.
    const s = streams(log, { alter: (res, i, k) => (i % 2 === 1 && k > 0 ? undefined : res) });
    const r = await pull(follower, s, 4);
    expect(follower.length).toBe(2000);
    expect(await follower.verifyIntegrity()).toBe(true);
    expect(r.appended).toBe(2000);
  });

  it('a pull that fails closes every stream it has not read to its end (their parts are not kept for nobody)', async () => {
    const log = await authorChain(2000, { serve: { maxEntries: 50 } });
    const follower = await replicaOf(log);
    const s = streams(log, { alter: (res, i, k) => (i === 1 && k === 1 ? undefined : res) });
    expect((await rejection(pull(follower, s, 4, 4))).code).toBe('gap');
    expect(s.requests.length).toBeGreaterThan(2);
    expect(s.ends.filter((e) => e === undefined)).toEqual([]);
    expect(s.ends.filter((e) => e === 'closed').length).toBeGreaterThan(0);
  });

  it('a stream that fails midway fails the pull after the parts before it; a later pull resumes there', async () => {
    const log = await authorChain(1000, { serve: { maxEntries: 50 } });
    const follower = await replicaOf(log);
    const failing = streams(log, { fail: (i, k) => i === 2 && k === 2 });
    await expect(pull(follower, failing, 4)).rejects.toThrow('link dropped');
    expect(follower.length).toBe(200 + 200 + 100);
    const s = streams(log);
    const r = await pull(follower, s, 4);
    expect(r.appended).toBe(500);
    expect(follower.length).toBe(1000);
    expect(s.requests[0]!.afterSequence).toBe(499);
  });

  it('serveParts stops at the request’s count, the head, or a mismatch; a probe is answered once', async () => {
    const log = await authorChain(300, { serve: { maxEntries: 50 } });
    const serve = (r: ChainSyncRequest) => log.serveSync(r);
    const count = (req: Partial<ChainSyncRequest>, parts: number) =>
      [
        ...serveParts(
          serve,
          { chainId: log.chainId, afterSequence: -1, afterHash: null, maxEntries: 1000, ...req },
          parts,
        ),
      ].map((res) => res.entries.length);
    expect(count({ maxEntries: 120 }, 16)).toEqual([50, 50, 20]);
    expect(count({ afterSequence: 199 }, 16)).toEqual([50, 50]);
    expect(count({}, 3)).toEqual([50, 50, 50]);
    expect(count({ afterSequence: 10, afterHash: new Uint8Array(32) }, 16)).toEqual([0]); // mismatch
    expect(count({ probe: 5 }, 16)).toEqual([50]);
  });
});
