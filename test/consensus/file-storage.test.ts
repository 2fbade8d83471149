/**
 * FileConsensusStorage: what a flush made durable survives a reopen (term, vote, log,
 * snapshot), a torn or damaged tail is cut at open, and simulated MeshNodes whose Raft lives
 * in files keep Raft's guarantees across crashes and restarts from those files.
 */
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLinearizable, type HistoryOp } from '../../lib/consensus/check/linearizability.ts';
import { FileConsensusStorage } from '../../lib/consensus/file-storage.ts';
import type { Entry } from '../../lib/consensus/messages.ts';
import { consensus } from '../../lib/consensus/service.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { SimCluster } from '../../lib/sim/mod.ts';
import { converged, runUntil } from '../sim/helpers.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'weftmesh-raft-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const cmd = (index: number, term: number, text = `c${index}`): Entry => ({
  index,
  term,
  kind: 'command',
  data: new TextEncoder().encode(text),
});

function image(s: FileConsensusStorage) {
  const first = s.firstIndex();
  const last = s.lastIndex();
  return {
    hard: s.hardState(),
    snapshot: s.snapshot(),
    entries: last >= first ? s.entries(first, last + 1) : [],
  };
}

describe('FileConsensusStorage', () => {
  it('a reopened store holds the term, vote, log and snapshot of its last flush; a compaction rewrites the file', async () => {
    const dir = await tempDir();
    const s = await FileConsensusStorage.open(dir, ['a', 'b', 'c']);
    s.append([cmd(1, 1), cmd(2, 1), { index: 3, term: 2, kind: 'config', voters: ['a', 'b'] }]);
    s.setHardState({ term: 2, vote: 'b', commit: 2 });
    await s.flush();
    s.append([cmd(3, 3, 'overwrites'), cmd(4, 3)]);
    s.setHardState({ term: 3, vote: '', commit: 3 });
    await s.flush();
    const before = image(s);
    await s.close();

    const again = await FileConsensusStorage.open(dir, ['ignored']);
    expect(again.recovery.truncatedBytes).toBe(0);
    expect(image(again)).toEqual(before);
    expect(again.snapshot().voters).toEqual(['a', 'b', 'c']);

    // Compact: the next flush replaces the file with one image of the state.
    const grown = (await stat(join(dir, 'raft.log'))).size;
    again.compact(3, ['a', 'b', 'c'], new TextEncoder().encode('state at 3'));
    again.append([cmd(5, 3)]);
    await again.flush();
    const compacted = image(again);
    expect(compacted.snapshot).toMatchObject({ index: 3, term: 3 });
    await again.close();
    const third = await FileConsensusStorage.open(dir);
    expect(image(third)).toEqual(compacted);
    expect((await stat(join(dir, 'raft.log'))).size).toBeLessThan(grown + 100);
    await third.close();
  });

  it('a torn last write, or garbage after the last record, is cut at open: the state of the last whole flush remains', async () => {
    const dir = await tempDir();
    const s = await FileConsensusStorage.open(dir, ['a', 'b', 'c']);
    s.append([cmd(1, 1), cmd(2, 1)]);
    s.setHardState({ term: 1, vote: 'a', commit: 1 });
    await s.flush();
    const durable = image(s);
    const size = (await stat(join(dir, 'raft.log'))).size;
    s.append([cmd(3, 1), cmd(4, 1)]);
    await s.flush();
    await s.close();

    // The last flush was torn: only part of its record reached the disk.
    await truncate(join(dir, 'raft.log'), size + 7);
    const torn = await FileConsensusStorage.open(dir);
    expect(torn.recovery.truncatedBytes).toBe(7);
    expect(image(torn)).toEqual(durable);
    torn.append([cmd(3, 2, 'after the crash')]);
    await torn.flush();
    const continued = image(torn);
    await torn.close();

    // Damage: bytes flipped in the last record, then garbage after it.
    const raw = new Uint8Array(await readFile(join(dir, 'raft.log')));
    raw[raw.length - 3] = raw[raw.length - 3]! ^ 0xff;
    await writeFile(join(dir, 'raft.log'), new Uint8Array([...raw, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const damaged = await FileConsensusStorage.open(dir);
    expect(image(damaged)).toEqual(durable);
    expect(damaged.lastIndex()).toBe(2);
    await damaged.close();
    expect(continued.entries).toHaveLength(3);
  });

  it('a crash while the first record was written leaves a new store: the voters given at the next open are its first configuration', async () => {
    const dir = await tempDir();
    const s = await FileConsensusStorage.open(dir, ['a', 'b', 'c']);
    await s.close();
    const size = (await stat(join(dir, 'raft.log'))).size;
    await truncate(join(dir, 'raft.log'), size - 3); // the founding record, torn
    const again = await FileConsensusStorage.open(dir, ['a', 'b', 'c']);
    expect(again.recovery.truncatedBytes).toBe(size - 3);
    expect(again.snapshot().voters).toEqual(['a', 'b', 'c']);
    await again.close();
    // And it is on disk: a later open without voters finds them.
    const later = await FileConsensusStorage.open(dir);
    expect(later.snapshot().voters).toEqual(['a', 'b', 'c']);
    await later.close();
  });

  it('simulated MeshNodes on file storages keep acknowledged writes and a linearizable history across crashes and restarts', async () => {
    const identities = [1, 2, 3].map((i) => NodeIdentity.fromSecretKey(new Uint8Array(32).fill(40 + i)));
    const voters = identities.map((x) => x.nodeId);
    const paths = await Promise.all(identities.map(() => tempDir()));
    const stores = await Promise.all(paths.map((p) => FileConsensusStorage.open(p, voters)));
    const c = await SimCluster.create({
      nodes: 3,
      seed: 21,
      identities,
      network: { linkAuth: 'trusted' },
      nodeOptions: (i) => ({
        consensus: consensus({ voters, storage: stores[i]!, tickMs: 50, compactEvery: 20 }),
      }),
    });
    const settle = async (ms: number) => {
      for (let t = 0; t < ms; t += 25) {
        c.runFor(25);
        // File writes finish on the real event loop: let them.
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    runUntil(c, () => converged(c), 30_000);
    await settle(3_000);

    const down = new Set<number>();
    const history: HistoryOp[] = [];
    let value = 0;
    let stop = false;
    // A crashed host's timers vanish with it: an operation waiting there ends as unknown.
    const bounded = <T>(p: Promise<T>) =>
      Promise.race([
        p,
        new Promise<never>((_, reject) =>
          c.net.scheduler.setTimer(3_000, () =>
            reject(Object.assign(new Error('lost'), { code: 'timeout' })),
          ),
        ),
      ]);
    const client = async (k: number) => {
      while (!stop) {
        const up = c.nodes.filter((_, i) => !down.has(i));
        const node = up[value % up.length]!.node;
        const key = `k${k}`;
        const call = c.now;
        const isRead = value % 4 === 3;
        const v = `v${value++}`;
        try {
          if (isRead) {
            const result = await bounded(node.consensus.read(key));
            history.push({ client: k, f: 'read', key, call, return: c.now, result });
          } else {
            await bounded(node.consensus.propose({ op: 'put', key, value: v }));
            history.push({ client: k, f: 'write', key, value: v, call, return: c.now });
          }
        } catch (e) {
          // Refused before taking effect: left out; anything else may have taken effect.
          const code = (e as { code?: string }).code;
          if (code !== 'not-leader' && code !== 'superseded' && !isRead)
            history.push({ client: k, f: 'write', key, value: v, call, return: null });
          await new Promise<void>((r) => c.net.scheduler.setTimer(100, r));
        }
      }
    };
    const clients = [0, 1].map(client);
    await settle(2_000);
    for (const victim of [0, 1, 2]) {
      const leaderFirst = c.nodes.findIndex((x) => x.node.consensus.status().role === 'Leader');
      const i = victim === 0 && leaderFirst >= 0 ? leaderFirst : victim;
      if (down.has(i)) continue;
      const term = c.nodes[i]!.node.consensus.status().term;
      // Crash-like stop: the host and its Raft stop at once; a flush under way may finish
      // on disk, but nothing it would have sent leaves.
      c.crash(i);
      c.nodes[i]!.node.consensus.close();
      down.add(i);
      await settle(1_500);
      await stores[i]!.close();
      stores[i] = await FileConsensusStorage.open(paths[i]!);
      expect(stores[i]!.hardState().term).toBeGreaterThanOrEqual(term);
      await c.restart(i);
      down.delete(i);
      await settle(2_000);
    }
    stop = true;
    await settle(3_500);
    await Promise.all(clients);

    const nodes = c.nodes.map((x) => x.node);
    expect(nodes.filter((n) => n.consensus.status().role === 'Leader')).toHaveLength(1);
    const acknowledged = history.filter((h) => h.f === 'write' && h.return !== null);
    expect(acknowledged.length).toBeGreaterThan(8);
    expect(checkLinearizable(history).verdict).toBe('ok');
    // Every replica converges (file writes finish on the real event loop: wait, bounded).
    const same = () =>
      ['k0', 'k1'].every((key) => new Set(nodes.map((n) => n.consensus.kv.get(key))).size === 1);
    for (let i = 0; i < 40 && !same(); i++) await settle(250);
    for (const key of ['k0', 'k1']) {
      const values = nodes.map((n) => n.consensus.kv.get(key));
      expect(new Set(values).size).toBe(1);
      expect(values[0]).not.toBeNull();
    }
    for (const s of stores) await s.close();
  }, 60_000);
});
