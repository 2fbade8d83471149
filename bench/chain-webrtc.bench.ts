/**
 * Chains over real WebRTC on loopback (issue 15): two MeshNodes (@roamhq/wrtc data channels,
 * a real signaling server) with the chains() service; one hosts a chain of 256-byte entries,
 * the other follows it. Figures: pull throughput (entries/s and payload MB/s, from the first
 * entry pulled to the last), catch-up time from follow() (the head reaching the follower by
 * gossip included), peak heap growth; with one request in flight, with the default window,
 * and with the pace raised past the default per-origin message quota.
 */
import { ChainLog } from '../lib/chain/chain-log.ts';
import { NodeIdentity } from '../lib/identity/node-identity.ts';
import { type ChainsOptions, chains } from '../lib/node/chain-service.ts';
import { messaging } from '../lib/node/mod.ts';
import { startSignalingServer } from '../signaling/node.ts';
import { fullyConverged, type RtcNode, rtcNode } from '../test/support/webrtc-node.ts';
import { fmt, table } from './harness.ts';

const PAYLOAD = 256;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  label: string;
  entries: number;
  chains: ChainsOptions;
  /** messaging().perOriginRate of both nodes (undefined: the default 200/s). */
  perOriginRate?: number;
}

async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const start = performance.now();
  while (!ok()) {
    if (performance.now() - start > ms) throw new Error(`timed out: ${what}`);
    await sleep(2);
  }
}

async function pullOver(url: string, log: ChainLog, author: NodeIdentity, run: Run, i: number) {
  const extra = {
    chains: chains({ pullIntervalMs: 100, ...run.chains }),
    ...(run.perOriginRate ? { messaging: messaging({ perOriginRate: run.perOriginRate }) } : {}),
  };
  const pair: RtcNode[] = [await rtcNode(url, `chain-${i}`, extra), await rtcNode(url, `chain-${i}`, extra)];
  try {
    await until(
      () => fullyConverged(pair) && pair.every((n) => n.node.links().length === 1),
      30_000,
      'a link',
    );
    pair[0]!.node.chains.host(log);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let peakHeap = heapBefore;
    const started = performance.now();
    const follower = await pair[1]!.node.chains.follow(log.chainId, author.publicKey);
    let firstAt = 0;
    const errors: string[] = [];
    pair[1]!.node.chains.on('sync-error', (e) => errors.push(String(e.error)));
    await until(
      () => {
        if (firstAt === 0 && follower.length > 0) firstAt = performance.now();
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        return follower.length >= run.entries;
      },
      300_000,
      `${run.label}: ${follower.length} of ${run.entries} pulled (${errors.join('; ')})`,
    );
    const done = performance.now();
    const rate = (run.entries * 1000) / (done - firstAt);
    return [
      run.label,
      fmt(run.entries),
      fmt(rate),
      fmt((rate * PAYLOAD) / 1e6, 1),
      fmt(done - started),
      fmt((peakHeap - heapBefore) / 1e6, 1),
      errors.length,
    ];
  } finally {
    for (const n of pair) n.close();
    await sleep(200);
  }
}

async function chainOf(author: NodeIdentity, entries: number): Promise<ChainLog> {
  const log = await ChainLog.open({ identity: author, name: `rtc-${entries}`, create: true });
  for (let i = 0; i < entries; i += 1_000)
    await log.appendBatch(
      Array.from({ length: 1_000 }, (_, j) => new Uint8Array(PAYLOAD).fill((i + j) & 0xff)),
    );
  return log;
}

export async function chainWebRtcBench(): Promise<void> {
  const server = await startSignalingServer({ port: 0 });
  const author = NodeIdentity.generate();
  const logs = new Map<number, ChainLog>();
  for (const n of [20_000, 100_000]) logs.set(n, await chainOf(author, n));
  const runs: Run[] = [
    { label: 'one request in flight', entries: 20_000, chains: { pullWindow: 1 } },
    { label: 'window 16 (default)', entries: 20_000, chains: {} },
    { label: 'window 16, default pace (150 requests/s after a burst of 600)', entries: 100_000, chains: {} },
    {
      label: 'window 16, pace 2,000/s (perOriginRate 4,000)',
      entries: 100_000,
      chains: { pullRate: 2_000 },
      perOriginRate: 4_000,
    },
  ];
  const rows: Array<Array<string | number>> = [];
  for (const [i, run] of runs.entries())
    rows.push(await pullOver(server.url, logs.get(run.entries)!, author, run, i));
  await server.close();
  table(
    'Chain pull between two MeshNodes over real WebRTC on loopback (256-byte entries, answers ≤ 40 KiB, verification on)',
    [
      'run',
      'entries',
      'entries/s',
      'payload MB/s',
      'catch-up from follow() (ms)',
      'peak heap growth (MB)',
      'pull errors',
    ],
    rows,
  );
}
