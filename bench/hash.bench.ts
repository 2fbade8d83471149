/**
 * SHA-256 per input length: @noble/hashes (pure JavaScript) against node:crypto's one-shot
 * `hash()` and `createHash()`, and what lib/util/sha256.ts picked here. The lengths are the
 * ones weftmesh hashes: 33 and 65 bytes (RFC 6962 leaf and interior nodes), ~330 bytes (a
 * chain entry of 256 B), 16 KiB (hypercore's block size), and the block-boundary cases.
 */
import { sha256 as noble } from '@noble/hashes/sha2.js';
import { type NativeCrypto, sha256, sha256Backend } from '../lib/util/sha256.ts';
import { fmt, rate, table } from './harness.ts';

const LENGTHS = [0, 33, 55, 64, 65, 128, 330, 1024, 4096, 16 * 1024, 64 * 1024];

export async function hashBench(): Promise<void> {
  const native = (
    globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
  ).process?.getBuiltinModule?.('node:crypto') as NativeCrypto | undefined;
  const rows: Array<Array<string | number>> = [];
  for (const len of LENGTHS) {
    const data = new Uint8Array(len).map((_, i) => i * 31);
    const minMs = 300;
    const perSec = async (fn: () => unknown) => (await rate('', fn, { minMs, batch: 20 })).opsPerSec;
    const twenty = (f: () => unknown) => () => {
      for (let i = 0; i < 20; i++) f();
    };
    const n = await perSec(twenty(() => noble(data)));
    const h = native?.hash ? await perSec(twenty(() => native.hash!('sha256', data, 'buffer'))) : 0;
    const c = native?.createHash
      ? await perSec(twenty(() => native.createHash!('sha256').update(data).digest()))
      : 0;
    const w = await perSec(twenty(() => sha256(data)));
    const mb = (r: number) => (len > 0 ? ` (${fmt((r * len) / 1e6)} MB/s)` : '');
    rows.push([
      fmt(len),
      `${fmt(n)}${mb(n)}`,
      h ? `${fmt(h)}${mb(h)}` : '-',
      c ? `${fmt(c)}${mb(c)}` : '-',
      `${fmt(w)}${mb(w)}`,
      fmt(w / n, 2),
    ]);
  }
  table(
    `SHA-256 hashes/s by input length (lib/util/sha256.ts uses: ${sha256Backend})`,
    ['bytes', 'noble', 'node:crypto hash()', 'node:crypto createHash()', 'weftmesh sha256', '× noble'],
    rows,
  );
}
