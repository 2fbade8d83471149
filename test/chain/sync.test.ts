// Pulling a chain: catch-up (a little behind: one request; far behind: bounded chunks against
// the signed head), resuming after a dropped link, any replica serving, and answers that were
// tampered with: each refused with its code, and none of a bad answer's entries appended.
import { describe, expect, it } from 'vitest';
import type { ChainLog } from '../../lib/chain/chain-log.ts';
import { decodeSyncRequest, decodeSyncResponse, encodeSyncResponse } from '../../lib/chain/codec.ts';
import type { ChainEntry } from '../../lib/chain/entry.ts';
import { ChainError } from '../../lib/chain/errors.ts';
import { pullChain } from '../../lib/chain/pull.ts';
import type { ChainSyncResponse } from '../../lib/chain/sync.ts';
import { strictVerifier } from '../../lib/identity/verifier.ts';
import { SERVED_PAYLOAD_BYTES } from '../../lib/node/chain-service.ts';
import { MAX_APP_BYTES } from '../../lib/wire/messages.ts';
import { authorChain, rejection, replicaOf, wire } from './helpers.ts';

const pull = (log: ChainLog, ask: (r: never) => Promise<ChainSyncResponse>) =>
  pullChain(log, ask as never, { verifier: strictVerifier });

function sameChain(a: ChainLog, b: ChainLog): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(a.get(i)).toEqual(b.get(i));
  expect(a.treeHead()).toEqual(b.treeHead());
}

describe('chain sync', () => {
  it('an offline follower catches up exactly, in one request when a little behind', async () => {
    const log = await authorChain(40);
    const follower = await replicaOf(log);
    await pull(follower, wire(log).ask);
    sameChain(follower, log);
    await log.appendBatch(Array.from({ length: 25 }, (_, i) => i));
    follower.noteRemoteSize(log.length);
    const w = wire(log);
    const r = await pull(follower, w.ask);
    expect(r).toEqual({ appended: 25, roundTrips: 1 });
    expect(w.requests[0]!.maxEntries).toBe(25);
    sameChain(follower, log);
    expect(await follower.verifyIntegrity()).toBe(true);
  });

  it('far behind (> checkpointThreshold), catches up in bounded chunks proven against the signed head', async () => {
    const log = await authorChain(3000, { serve: { maxEntries: 512 } });
    const follower = await replicaOf(log, { checkpointThreshold: 1000, serve: { maxEntries: 512 } });
    follower.noteRemoteSize(3000);
    const w = wire(log);
    const r = await pull(follower, w.ask);
    expect(r.appended).toBe(3000);
    expect(r.roundTrips).toBe(Math.ceil(3000 / 512));
    expect(w.requests[0]!.maxEntries).toBe(512);
    expect(w.requests.every((q) => q.maxEntries <= 1000)).toBe(true);
    sameChain(follower, log);
  });

  it('answers stay under the byte bound: big payloads come a few per answer', async () => {
    const log = await authorChain(0, { serve: { maxBytes: 64 * 1024 } });
    await log.appendBatch(Array.from({ length: 20 }, () => new Uint8Array(20_000)));
    const follower = await replicaOf(log);
    const w = wire(log);
    await pull(follower, w.ask);
    expect(follower.length).toBe(20);
    expect(w.requests.length).toBe(7); // 3 payloads of 20 kB per 64 KiB answer
  });

  it('a dropped link mid-pull resumes from what arrived, without fetching it again', async () => {
    const log = await authorChain(2000, { serve: { maxEntries: 256 } });
    const follower = await replicaOf(log);
    const first = wire(log, { dropAfter: 3 });
    const e = await rejection(pull(follower, first.ask) as Promise<unknown>).catch((x) => x as Error);
    expect((e as Error).message).toBe('link dropped');
    expect(follower.length).toBe(3 * 256);
    const second = wire(log);
    await pull(follower, second.ask);
    expect(second.requests[0]!.afterSequence).toBe(3 * 256 - 1);
    expect(second.requests.length).toBe(Math.ceil((2000 - 768) / 256));
    sameChain(follower, log);
  });

  it('any replica serves: a second follower pulls from the first, and the author’s later entries through it', async () => {
    const log = await authorChain(100);
    const a = await replicaOf(log);
    const b = await replicaOf(log);
    await pull(a, wire(log).ask);
    await pull(b, wire(a).ask);
    sameChain(b, log);
    await log.append('more');
    await pull(a, wire(log).ask);
    await pull(b, wire(a).ask);
    sameChain(b, log);
  });

  it('an author’s appends during a catch-up are picked up (the head moves between answers)', async () => {
    const log = await authorChain(1000, { serve: { maxEntries: 300 } });
    const follower = await replicaOf(log);
    let n = 0;
    const w = wire(log);
    await pull(follower, async (req) => {
      if (n++ === 1) await log.appendBatch(['x', 'y']);
      return w.ask(req);
    });
    sameChain(follower, log);
    expect(follower.length).toBe(1002);
  });

  describe('tampered answers are refused, with none of their entries appended', () => {
    type Case = [name: string, code: string, alter: (res: ChainSyncResponse) => ChainSyncResponse];
    const entry = (res: ChainSyncResponse, i: number, change: Partial<ChainEntry>): ChainSyncResponse => ({
      ...res,
      entries: res.entries.map((e, j) => (j === i ? { ...e, ...change } : e)),
    });
    const cases: Case[] = [
      ['a payload changed', 'tampered', (r) => entry(r, 5, { payload: Uint8Array.of(1) })],
      ['a link changed', 'tampered', (r) => entry(r, 5, { prev: r.entries[3]!.hash })],
      ['a hash changed', 'tampered', (r) => entry(r, 5, { hash: r.entries[4]!.hash })],
      [
        'a sequence gap (an entry left out)',
        'gap',
        (r) => ({ ...r, entries: r.entries.filter((_, j) => j !== 5) }),
      ],
      ['a kind changed', 'tampered', (r) => entry(r, 5, { kind: 'other' })],
      [
        'a forged signature',
        'bad-signature',
        (r) => {
          const sig = r.treeHead!.signature.slice();
          sig[10]! ^= 1;
          return { ...r, treeHead: { ...r.treeHead!, signature: sig } };
        },
      ],
      [
        'a head of another size with the same signature',
        'bad-signature',
        (r) => ({ ...r, treeHead: { ...r.treeHead!, size: r.treeHead!.size - 1 } }),
      ],
      [
        'a consistency proof changed',
        'tampered',
        (r) => ({ ...r, consistency: r.consistency.map((h, j) => (j === 0 ? h.map((b) => b ^ 1) : h)) }),
      ],
      [
        'an entry added by the relay',
        'tampered',
        (r) => {
          const last = r.entries.at(-1)!;
          return { ...r, entries: [...r.entries, { ...last, sequence: last.sequence + 1, prev: last.hash }] };
        },
      ],
    ];
    for (const [name, code, alter] of cases)
      it(`${name}: ${code}`, async () => {
        const log = await authorChain(60, { serve: { maxEntries: 20 } });
        const follower = await replicaOf(log);
        const w = wire(log, { alter: (res, i) => (i === 1 ? alter(res) : res) });
        const e = await rejection(pull(follower, w.ask));
        expect(e).toBeInstanceOf(ChainError);
        expect(e.code).toBe(code);
        expect(follower.length).toBe(20); // the first answer, not one entry of the bad one
        expect(await follower.verifyIntegrity()).toBe(true);
        await pull(follower, wire(log).ask); // an honest peer still serves it
        sameChain(follower, log);
      });

    it('a tree head (and entries) from another author: bad-signature', async () => {
      const log = await authorChain(30);
      const impostor = await authorChain(30, { seed: 9 });
      const follower = await replicaOf(log);
      const res = impostor.serveSync({ ...follower.syncRequest(), chainId: impostor.chainId });
      const forged = { ...res, chainId: log.chainId, treeHead: { ...res.treeHead!, chainId: log.chainId } };
      const e = await rejection(follower.applySync(forged));
      expect(e.code).toBe('bad-signature');
      expect(follower.length).toBe(0);
      const e2 = await rejection(follower.applySync(res));
      expect(e2.code).toBe('unknown-chain');
    });

    it('a responder that claims a divergence it cannot prove: tampered, and the chain is not marked forked', async () => {
      const log = await authorChain(30);
      const follower = await replicaOf(log);
      await pull(follower, wire(log).ask);
      await log.append('next');
      const e = await rejection(
        pull(
          follower,
          wire(log, { alter: (r, i) => (i === 0 ? { ...r, entries: [], mismatch: true } : r) }).ask,
        ),
      );
      expect(e.code).toBe('tampered');
      expect(follower.forkProof).toBeUndefined();
    });
  });

  it('serveSync of another chain throws unknown-chain', async () => {
    const log = await authorChain(1);
    const other = await authorChain(1, { name: 'other' });
    expect(() => log.serveSync(other.syncRequest())).toThrow(
      expect.objectContaining({ code: 'unknown-chain' }),
    );
  });

  it('hostile bytes decode to ChainError malformed, never another error', async () => {
    const log = await authorChain(5);
    const good = encodeSyncResponse(log.serveSync((await replicaOf(log)).syncRequest()));
    let refused = 0;
    for (let i = 0; i < good.length; i++)
      for (const v of [0x00, 0xff, good[i]! ^ 0x20]) {
        const bad = good.slice();
        bad[i] = v;
        try {
          decodeSyncResponse(bad);
        } catch (e) {
          expect(e).toBeInstanceOf(ChainError);
          expect((e as ChainError).code).toBe('malformed');
          refused++;
        }
      }
    expect(refused).toBeGreaterThan(good.length / 2);
    for (const junk of [new Uint8Array(0), Uint8Array.of(0x80), Uint8Array.of(0x84, 0, 0, 0, 0)])
      expect(() => decodeSyncRequest(junk)).toThrow(ChainError);
    expect(() => decodeSyncResponse(good.subarray(0, good.length - 1))).toThrow(ChainError);
  });
});

describe('the largest answer the chains service sends', () => {
  it('one entry of SERVED_PAYLOAD_BYTES, the longest kind, a chain near 2³² entries: within one message', () => {
    const hash = () => new Uint8Array(32).fill(0xee);
    const last = 0xffffffff - 1;
    const entry: ChainEntry = {
      sequence: last - 1,
      prev: hash(),
      wall: Number.MAX_SAFE_INTEGER,
      counter: 0xffffffff,
      kind: 'k'.repeat(32),
      payload: new Uint8Array(SERVED_PAYLOAD_BYTES - 3), // 3 bytes of CBOR head: SERVED_PAYLOAD_BYTES in all
      hash: hash(),
    };
    const answer: ChainSyncResponse = {
      chainId: 'c'.repeat(64),
      entries: [entry],
      hasMore: true,
      head: { sequence: last, hash: hash() },
      treeHead: {
        chainId: 'c'.repeat(64),
        size: last + 1,
        root: hash(),
        wall: Number.MAX_SAFE_INTEGER,
        counter: 0xffffffff,
        signature: new Uint8Array(64).fill(0xee),
      },
      consistency: Array.from({ length: 33 }, hash), // ⌈log₂ n⌉ + 1 for n < 2³²
      mismatch: false,
    };
    expect(encodeSyncResponse(answer).length).toBeLessThanOrEqual(MAX_APP_BYTES);
  });
});
