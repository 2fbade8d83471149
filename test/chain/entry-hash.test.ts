// Entry hashes put together without encoding the payload twice, and sync answers read as views
// into one copy: the same hashes and entries as the plain definitions, whatever the wire form.
import { sha256 as noble } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { decodeSyncResponse, encodeSyncResponse } from '../../lib/chain/codec.ts';
import { type ChainEntry, chainIdBytes, entryHash } from '../../lib/chain/entry.ts';
import { ChainError } from '../../lib/chain/errors.ts';
import { checkEntries, hashesAhead } from '../../lib/chain/verify.ts';
import { concatBytes, utf8 } from '../../lib/util/bytes.ts';
import { OFFLOAD_MIN_BYTES, selectSha256Offload } from '../../lib/util/sha256.ts';
import { decodeCbor, encodeCbor } from '../../lib/wire/cbor.ts';
import { MAX_APP_BYTES } from '../../lib/wire/messages.ts';
import { authorChain, replicaOf } from './helpers.ts';

/** The definition: SHA-256 of the tag and the CBOR of all seven fields (noble, one encoding). */
function definedHash(chainId: Uint8Array, e: Omit<ChainEntry, 'hash'>): Uint8Array {
  const body = encodeCbor([chainId, e.sequence, e.prev, e.wall, e.counter, e.kind, e.payload]);
  return noble(concatBytes(utf8('weftmesh/chain-entry/v1\0'), body));
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('entry hashes', () => {
  it('equal the definition for every CBOR head width of sequence, wall, counter, kind and payload', () => {
    const id = new Uint8Array(32).map((_, i) => i * 7);
    const prev = new Uint8Array(32).fill(9);
    let checked = 0;
    for (const payloadLength of [0, 1, 23, 24, 255, 256, 300, 16_384, 65_535, 65_536])
      for (const [sequence, wall, counter, kind] of [
        [0, 0, 0, 'data'],
        [23, 23, 23, 'a'],
        [24, 24, 24, 'k.'.repeat(16)],
        [255, 2 ** 32 - 1, 255, 'x-y_z'],
        [65_536, 2 ** 32, 65_535, 'order'],
        [2 ** 32 - 1, 1_700_000_000_123, 256, 'data'],
      ] as const) {
        const payload = new Uint8Array(payloadLength).map((_, i) => i + sequence);
        const e = { sequence, prev, wall, counter, kind, payload };
        expect(hex(entryHash(id, e)), `payload ${payloadLength}, sequence ${sequence}`).toBe(
          hex(definedHash(id, e)),
        );
        checked++;
      }
    expect(checked).toBe(60);
  });

  it('leave the payload and the other fields untouched', () => {
    const payload = new Uint8Array(100).fill(5);
    const prev = new Uint8Array(32).fill(1);
    entryHash(new Uint8Array(32), { sequence: 3, prev, wall: 10, counter: 0, kind: 'data', payload });
    expect(payload.every((b) => b === 5) && prev.every((b) => b === 1)).toBe(true);
  });
});

describe('entry hashes taken ahead (browsers: WebCrypto for long payloads)', () => {
  const digest = selectSha256Offload(undefined, crypto.subtle)!;
  const entries = async () => {
    const log = await authorChain(0);
    for (const size of [10, OFFLOAD_MIN_BYTES, 100, 16_384])
      await log.append(new Uint8Array(size).fill(size & 0xff));
    return { id: chainIdBytes(log.chainId), entries: log.entriesAfter(-1) };
  };

  it('hashes the entries with long payloads, as entryHash does, and leaves the short ones to checkEntries', async () => {
    const { id, entries: es } = await entries();
    const ahead = (await hashesAhead(id, es, digest))!;
    expect(ahead.map((h) => h !== undefined)).toEqual([false, true, false, true]);
    expect(ahead.map((h) => h && hex(h))).toEqual(
      es.map((e, i) => (ahead[i] ? hex(entryHash(id, e)) : undefined)),
    );
    expect(() => checkEntries(id, 0, es[0]!.prev, es, ahead)).not.toThrow();
    expect(await hashesAhead(id, es.slice(0, 1), digest)).toBeUndefined();
    expect(await hashesAhead(id, es, undefined)).toBeUndefined();
  });

  it('a hostile answer as large as a message allows costs one digest per long entry, and is refused at its first bad one', async () => {
    // 23 entries of 2 KiB fill a 48 KiB answer (MAX_APP_BYTES): the most one answer can ask of
    // WebCrypto. The first entry's payload is forged.
    const log = await authorChain(0);
    for (let i = 0; i < 23; i++) await log.append(new Uint8Array(OFFLOAD_MIN_BYTES).fill(i));
    const id = chainIdBytes(log.chainId);
    const forged = log
      .entriesAfter(-1)
      .map((e, i) => (i === 0 ? { ...e, payload: new Uint8Array(OFFLOAD_MIN_BYTES) } : e));
    expect(forged.reduce((n, e) => n + e.payload.length, 0)).toBeLessThanOrEqual(MAX_APP_BYTES);
    let digests = 0;
    const counted = (data: Uint8Array) => {
      digests++;
      return digest(data);
    };
    const ahead = await hashesAhead(id, forged, counted);
    expect(digests).toBe(23);
    expect(() => checkEntries(id, 0, forged[0]!.prev, forged, ahead)).toThrow(/entry 0: hash does not match/);
  });

  it('a long payload changed after it was hashed, or its hash changed, is refused as tampered', async () => {
    const { id, entries: es } = await entries();
    const changed = es.map((e, i) => (i === 3 ? { ...e, payload: new Uint8Array(16_384).fill(7) } : e));
    const refused = (hashes: Array<Uint8Array | undefined> | undefined) => {
      try {
        checkEntries(id, 0, es[0]!.prev, changed, hashes);
        return undefined;
      } catch (e) {
        return e instanceof ChainError ? e.code : e;
      }
    };
    expect(refused(await hashesAhead(id, changed, digest))).toBe('tampered');
    // The hashes given are the ones compared: the right hash of the wrong bytes passes nothing.
    const swapped = (await hashesAhead(id, es, digest))!.map((h, i) => (i === 1 ? entryHash(id, es[3]!) : h));
    try {
      checkEntries(id, 0, es[0]!.prev, es, swapped);
      expect.unreachable();
    } catch (e) {
      expect((e as ChainError).code).toBe('tampered');
      expect((e as ChainError).message).toContain('entry 1');
    }
  });
});

describe('sync answers', () => {
  it('entries are views into one private copy of the answer: later writes to the received bytes change nothing', async () => {
    const log = await authorChain(300);
    const res = log.serveSync({ chainId: log.chainId, afterSequence: -1, afterHash: null, maxEntries: 300 });
    const bytes = encodeSyncResponse(res);
    const read = decodeSyncResponse(bytes);
    bytes.fill(0);
    expect(read.entries.length).toBe(300);
    const buffers = new Set(read.entries.flatMap((e) => [e.payload.buffer, e.prev.buffer, e.hash.buffer]));
    expect(buffers.size).toBe(1);
    expect(buffers.has(bytes.buffer)).toBe(false);
    for (const [i, e] of read.entries.entries()) {
      expect(hex(e.hash)).toBe(hex(res.entries[i]!.hash));
      expect(hex(e.payload)).toBe(hex(res.entries[i]!.payload));
    }
    const replica = await replicaOf(log);
    expect((await replica.applySync(read)).appended).toBe(300);
    expect(await replica.verifyIntegrity()).toBe(true);
  });

  it('an entry beside a long proof is copied out: it does not pin the rest of the answer', async () => {
    const log = await authorChain(40);
    const res = log.serveSync({ chainId: log.chainId, afterSequence: -1, afterHash: null, maxEntries: 1 });
    const padded = encodeSyncResponse({
      ...res,
      consistency: Array.from({ length: 60 }, () => new Uint8Array(32)),
    });
    const [e] = decodeSyncResponse(padded).entries;
    expect(e!.payload.buffer.byteLength).toBe(e!.payload.length);
    expect(e!.hash.buffer.byteLength).toBe(32);
  });

  it('the hash covers the entry, not its wire form: a longer encoding of the same values gives the same entry, a changed value is refused', async () => {
    const log = await authorChain(3);
    const res = log.serveSync({ chainId: log.chainId, afterSequence: -1, afterHash: null, maxEntries: 3 });
    const bytes = encodeSyncResponse(res);
    // Re-encode entry 1's sequence (1: one byte, 0x01) with a 4-byte head (0x1a 00 00 00 01),
    // which the decoder accepts: the values are the same, so the entry and its hash are.
    const seq1 = [0x87, 0x01, 0x58, 0x20];
    const at = bytes.findIndex((_, i) => seq1.every((b, j) => bytes[i + j] === b));
    expect(at).toBeGreaterThan(0);
    const longer = concatBytes(
      bytes.subarray(0, at + 1),
      Uint8Array.of(0x1a, 0, 0, 0, 1),
      bytes.subarray(at + 2),
    );
    expect(decodeCbor(longer, { maxDepth: 5, maxItems: 4096 })).toBeTruthy();
    const read = decodeSyncResponse(longer);
    const id = chainIdBytes(log.chainId);
    expect(hex(entryHash(id, read.entries[1]!))).toBe(hex(res.entries[1]!.hash));
    const replica = await replicaOf(log);
    expect((await replica.applySync(read)).appended).toBe(3);
    // The same long head carrying sequence 2 instead: a gap, nothing appended.
    const moved = longer.slice();
    moved[at + 5] = 2;
    const other = await replicaOf(log);
    await expect(other.applySync(decodeSyncResponse(moved))).rejects.toMatchObject({ code: 'gap' });
    expect(other.length).toBe(0);
  });
});
