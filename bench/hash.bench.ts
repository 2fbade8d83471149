/**
 * SHA-256 per input length: @noble/hashes (pure JavaScript) against node:crypto's one-shot
 * `hash()` and `createHash()`, lib/util/sha256-js.ts (JavaScript: the small inputs, and all where no native hash), and
 * what lib/util/sha256.ts picks here. The lengths are the
 * ones weftmesh hashes: 33 and 65 bytes (RFC 6962 leaf and interior nodes), ~330 bytes (a
 * chain entry of 256 B), 16 KiB (hypercore's block size), and the block-boundary cases.
 */
import { sha256 as noble } from '@noble/hashes/sha2.js';
import { type NativeCrypto, sha256, sha256Backend } from '../lib/util/sha256.ts';
import { jsSha256, SMALL_SHA256_MAX_BYTES } from '../lib/util/sha256-js.ts';
import { fmt, rate, table } from './harness.ts';

const LENGTHS = [0, 33, 55, 64, 65, 119, 128, 330, 1024, 4096, 16 * 1024, 64 * 1024];

export async function hashBench(): Promise<void> {
  const native = (
    globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
  ).process?.getBuiltinModule?.('node:crypto') as NativeCrypto | undefined;
  const rows: Array<Array<string | number>> = [];
  for (const len of LENGTHS) {
    const data = new Uint8Array(len).map((_, i) => i * 31);
    const fns: Array<(() => unknown) | undefined> = [
      () => noble(data),
      native?.hash && (() => native.hash!('sha256', data, 'buffer')),
      native?.createHash && (() => native.createHash!('sha256').update(data).digest()),
      () => jsSha256(data),
      () => sha256(data),
    ];
    // Rounds of 100 ms taken in turn, the best of 5 kept for each: other work on the machine
    // then slows every contender alike instead of whichever ran while it did.
    const best = fns.map(() => 0);
    for (let round = 0; round < 5; round++)
      for (const [i, f] of fns.entries()) {
        if (!f) continue;
        const r = await rate(
          '',
          () => {
            for (let k = 0; k < 20; k++) f();
          },
          { minMs: 100, batch: 20 },
        );
        best[i] = Math.max(best[i]!, r.opsPerSec);
      }
    const [n, h, c, small, w] = best as [number, number, number, number, number];
    const mb = (r: number) => (len > 0 ? ` (${fmt((r * len) / 1e6)} MB/s)` : '');
    rows.push([
      fmt(len),
      `${fmt(n)}${mb(n)}`,
      h ? `${fmt(h)}${mb(h)}` : '-',
      c ? `${fmt(c)}${mb(c)}` : '-',
      small ? `${fmt(small)}${mb(small)}` : '-',
      `${fmt(w)}${mb(w)}`,
      fmt(w / n, 2),
    ]);
  }
  table(
    `SHA-256 hashes/s by input length (lib/util/sha256.ts: sha256-js.ts up to ${SMALL_SHA256_MAX_BYTES} bytes, then ${sha256Backend})`,
    [
      'bytes',
      'noble',
      'node:crypto hash()',
      'node:crypto createHash()',
      'sha256-js.ts',
      'weftmesh sha256',
      '× noble',
    ],
    rows,
  );
}
