// The file-backed chain store: many chains in one file and one descriptor, appends
// acknowledged after fdatasync, and crash safety — a child killed while appending, the file
// cut at random points, its last record corrupted: at most unacknowledged entries are lost,
// and what opens is always a valid chain that its author continues without forking.
import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChainLog } from '../../lib/chain/chain-log.ts';
import { FileChainStorage } from '../../lib/chain/file-storage.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { startChild } from '../support/processes.ts';
import { author, base, steppingClock } from './helpers.ts';

const root = await mkdtemp(join(tmpdir(), 'weftmesh-chain-'));
afterAll(() => rm(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${dirs++}`);

async function authorOn(storage: FileChainStorage, name = 'feed', create = true): Promise<ChainLog> {
  return ChainLog.open({ ...base, clock: steppingClock(), identity: author(), name, storage, create });
}

describe('FileChainStorage', () => {
  it('keeps many chains in one file, and reopens each where it was', async () => {
    const dir = freshDir();
    const store = await FileChainStorage.open(dir);
    const logs = await Promise.all(Array.from({ length: 20 }, (_, i) => authorOn(store, `c${i}`)));
    await Promise.all(logs.map((log, i) => log.appendBatch(Array.from({ length: i + 1 }, (_, j) => j))));
    await Promise.all(logs.map((log) => log.append('last')));
    await store.close();
    const again = await FileChainStorage.open(dir);
    expect(again.recovery.truncatedBytes).toBe(0);
    expect(again.chains().length).toBe(20);
    for (let i = 0; i < 20; i++) {
      const log = await authorOn(again, `c${i}`, false);
      expect(log.length).toBe(i + 2);
      expect(log.head()).toEqual(logs[i]!.head());
      expect(log.treeHead()).toEqual(logs[i]!.treeHead());
      expect(await log.verifyIntegrity()).toBe(true);
    }
    await again.close();
  });

  it('open reads the file a window at a time: records across window ends, and larger than a window, are all found', async () => {
    const dir = freshDir();
    const store = await FileChainStorage.open(dir);
    const logs = await Promise.all(Array.from({ length: 5 }, (_, i) => authorOn(store, `w${i}`)));
    for (let round = 0; round < 4; round++)
      await Promise.all(
        logs.map((log, i) =>
          log.appendBatch(Array.from({ length: i + round + 1 }, (_, j) => `${j}`.repeat(40))),
        ),
      );
    await store.close();
    for (const scanWindowBytes of [64, 1_000, 16 << 20]) {
      const again = await FileChainStorage.open(dir, { scanWindowBytes });
      expect(again.recovery.truncatedBytes).toBe(0);
      expect(again.chains().sort()).toEqual(logs.map((l) => l.chainId).sort());
      for (let i = 0; i < 5; i++) {
        const log = await authorOn(again, `w${i}`, false);
        expect(log.head()).toEqual(logs[i]!.head());
      }
      await again.close();
    }
  });

  it('a file over 2 GiB opens (it was read whole, which Node refuses past 2 GiB): a sparse tail of zeros is cut', async () => {
    const dir = freshDir();
    const store = await FileChainStorage.open(dir);
    const log = await authorOn(store);
    await log.appendBatch([1, 2, 3]);
    await store.close();
    const path = join(dir, 'chains.log');
    const end = (await stat(path)).size;
    await truncate(path, 2 ** 31 + 4096);
    const again = await FileChainStorage.open(dir);
    expect(again.recovery.truncatedBytes).toBe(2 ** 31 + 4096 - end);
    expect((await stat(path)).size).toBe(end);
    const reopened = await authorOn(again, 'feed', false);
    expect(reopened.length).toBe(3);
    await again.close();
  });

  it('a record of a head alone (re-signed after a crash, or a replica’s newer head) is kept on reopen', async () => {
    const dir = freshDir();
    const store = await FileChainStorage.open(dir);
    const log = await authorOn(store);
    await log.appendBatch([1, 2, 3]);
    const loaded = (await store.load(log.chainId))!;
    await store.append(log.chainId, [], loaded.head);
    await log.append(4);
    await store.close();
    const again = await FileChainStorage.open(dir);
    expect(again.recovery.truncatedBytes).toBe(0);
    const reopened = await authorOn(again, 'feed', false);
    expect(reopened.length).toBe(4);
    expect(await reopened.verifyIntegrity()).toBe(true);
    await again.close();
  });

  it('refuses a sequence gap and calls after close', async () => {
    const store = await FileChainStorage.open(freshDir());
    const log = await authorOn(store);
    await log.append(1);
    await expect(store.append(log.chainId, [{ ...log.get(0)!, sequence: 5 }])).rejects.toMatchObject({
      code: 'gap',
    });
    await store.close();
    await expect(log.append(2)).rejects.toMatchObject({ code: 'closed' });
  });

  it('a file cut at random points opens as the chain of the records before the cut (at most the torn append lost)', async () => {
    const dir = freshDir();
    const store = await FileChainStorage.open(dir);
    const log = await authorOn(store);
    const file = join(dir, 'chains.log');
    const acked: Array<{ bytes: number; length: number }> = [{ bytes: 0, length: 0 }];
    const random = new SeededRandom(15);
    for (let i = 0; i < 40; i++) {
      await log.appendBatch(Array.from({ length: 1 + random.int(8) }, () => random.bytes(random.int(400))));
      acked.push({ bytes: (await stat(file)).size, length: log.length });
    }
    await store.close();
    const full = await readFile(file);
    for (let trial = 0; trial < 30; trial++) {
      const cut = random.int(full.length + 1);
      const d = freshDir();
      await mkdir(d);
      await writeFile(join(d, 'chains.log'), full.subarray(0, cut));
      const kept = acked.filter((a) => a.bytes <= cut).at(-1)!;
      const s = await FileChainStorage.open(d);
      expect(s.recovery.truncatedBytes).toBe(cut - kept.bytes);
      expect((await stat(join(d, 'chains.log'))).size).toBe(kept.bytes);
      const reopened = await authorOn(s, 'feed', kept.length === 0);
      expect(reopened.length).toBe(kept.length);
      expect(await reopened.verifyIntegrity()).toBe(true);
      if (kept.length > 0)
        expect(reopened.head()).toEqual({ sequence: kept.length - 1, hash: log.get(kept.length - 1)!.hash });
      // The author continues from there: the next entry links to the kept head.
      const next = await reopened.append('after the crash');
      expect(next.sequence).toBe(kept.length);
      await s.close();
    }
  });

  it('a corrupted last record is dropped and truncated on open; appends continue after the one before', async () => {
    const dir = freshDir();
    const store = await FileChainStorage.open(dir);
    const log = await authorOn(store);
    for (let i = 0; i < 5; i++) await log.appendBatch([i, i + 1]);
    await store.close();
    const file = join(dir, 'chains.log');
    const bytes = await readFile(file);
    bytes[bytes.length - 3]! ^= 0x40;
    await writeFile(file, bytes);
    const again = await FileChainStorage.open(dir);
    expect(again.recovery.truncatedBytes).toBeGreaterThan(0);
    const reopened = await authorOn(again, 'feed', false);
    expect(reopened.length).toBe(8);
    expect(reopened.head().hash).toEqual(log.get(7)!.hash);
    expect(await reopened.verifyIntegrity()).toBe(true);
    await reopened.append('next');
    await again.close();
    const third = await FileChainStorage.open(dir);
    expect(third.recovery.truncatedBytes).toBe(0);
    expect((await authorOn(third, 'feed', false)).length).toBe(9);
    await third.close();
  });

  it('a child killed (SIGKILL) while appending loses no acknowledged entry, three times over, and never forks its chain', async () => {
    const dir = freshDir();
    const child = new URL('./crash-child.ts', import.meta.url).pathname;
    let acked = 0;
    const heads: Uint8Array[] = [];
    for (let round = 0; round < 3; round++) {
      const c = startChild(process.execPath, ['--import', 'tsx', child, dir]);
      const target = acked + 150;
      const deadline = Date.now() + 60_000;
      while (!c.lines.some((l) => l.startsWith('ack ') && Number(l.slice(4)) >= target)) {
        if (Date.now() > deadline || c.proc.exitCode !== null) throw new Error(`child: ${c.stderr.join('')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      c.proc.kill('SIGKILL');
      await c.closed;
      expect(c.lines[0]).toBe(`open ${acked}`); // it reopened where the last run's acknowledged entries ended, or later
      const acks = c.lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
      acked = acks.at(-1)!;
      const store = await FileChainStorage.open(dir);
      const log = await ChainLog.open({ ...base, identity: author(3), name: 'crash', storage: store });
      expect(log.length).toBeGreaterThanOrEqual(acked);
      expect(await log.verifyIntegrity()).toBe(true);
      for (const [i, h] of heads.entries()) expect(log.get(i)!.hash).toEqual(h);
      for (let i = heads.length; i < log.length; i++) heads.push(log.get(i)!.hash);
      acked = log.length;
      await store.close();
    }
    expect(acked).toBeGreaterThanOrEqual(450);
  });
});
