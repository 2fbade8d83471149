/**
 * Chains over real WebRTC on loopback (issue 15): two MeshNodes (@roamhq/wrtc data channels,
 * a real signaling server) with the chains() service; one hosts a chain,
 * the other follows it (256-byte entries, and 16 KiB ones: hypercore's block size). Figures: pull throughput (entries/s and payload MB/s, from the first
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

/** Payload sizes: 256 B (the issue's), 16 KiB (hypercore's block size, for its ~53 MB/s). */
const SMALL = 256;
const BLOCK = 16 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  label: string;
  entries: number;
  /** Bytes per entry payload. */
  payload: number;
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
      fmt((rate * run.payload) / 1e6, 1),
      fmt(done - started),
      fmt((peakHeap - heapBefore) / 1e6, 1),
      errors.length
        ? `${errors.length}: ${[...new Set(errors)].join('; ')} (links lost: ${pair[1]!.downs.join(', ') || 'none'})`
        : 0,
    ];
  } finally {
    for (const n of pair) n.close();
    await sleep(200);
  }
}

const keyOf = (r: Pick<Run, 'entries' | 'payload'>) => `${r.entries}x${r.payload}`;

async function chainOf(author: NodeIdentity, entries: number, payload: number): Promise<ChainLog> {
  const log = await ChainLog.open({ identity: author, name: `rtc-${entries}x${payload}`, create: true });
  const batch = Math.min(1_000, entries);
  for (let i = 0; i < entries; i += batch)
    await log.appendBatch(
      Array.from({ length: batch }, (_, j) => new Uint8Array(payload).fill((i + j) & 0xff)),
    );
  return log;
}

export async function chainWebRtcBench(): Promise<void> {
  const server = await startSignalingServer({ port: 0 });
  const author = NodeIdentity.generate();
  const raised = { chains: { pullRate: 2_000 }, perOriginRate: 4_000 };
  const runs: Run[] = [
    { label: 'one request in flight', entries: 20_000, payload: SMALL, chains: { pullWindow: 1 } },
    { label: 'window 16 (default)', entries: 20_000, payload: SMALL, chains: {} },
    {
      label: 'window 16, default pace (150 requests/s after a burst of 600)',
      entries: 100_000,
      payload: SMALL,
      chains: {},
    },
    { label: 'window 16, pace 2,000/s (perOriginRate 4,000)', entries: 100_000, payload: SMALL, ...raised },
    { label: '16 KiB entries, window 16, pace 2,000/s', entries: 4_000, payload: BLOCK, ...raised },
  ];
  const logs = new Map<string, ChainLog>();
  for (const r of runs)
    if (!logs.has(keyOf(r))) logs.set(keyOf(r), await chainOf(author, r.entries, r.payload));
  const rows: Array<Array<string | number>> = [];
  for (const [i, run] of runs.entries())
    rows.push(await pullOver(server.url, logs.get(keyOf(run))!, author, run, i));
  const ceiling = await messagingCeiling(server.url);
  await server.close();
  table(
    'Chain pull between two MeshNodes over real WebRTC on loopback (answers ≤ 40 KiB, verification on)',
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
  table(
    'For scale: MeshNode request/answer alone over the same WebRTC link (no chain work; 16 in flight)',
    ['answer size', 'answers/s', 'MB/s'],
    ceiling,
  );
}

/** Requests of 100 bytes answered with `size` bytes, 16 in flight: what messaging itself carries. */
async function messagingCeiling(url: string): Promise<Array<Array<string | number>>> {
  const extra = { messaging: messaging({ perOriginRate: 100_000 }) };
  const pair = [await rtcNode(url, 'ceiling', extra), await rtcNode(url, 'ceiling', extra)];
  try {
    await until(() => fullyConverged(pair) && pair[0]!.node.links().length === 1, 30_000, 'a link');
    const [a, b] = [pair[0]!.node, pair[1]!.node];
    const rows: Array<Array<string | number>> = [];
    for (const size of [1024, 40 * 1024]) {
      const answer = new Uint8Array(size);
      const off = b.respond('ceiling', () => answer);
      const n = 1_000;
      let sent = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (sent < n) {
            sent++;
            await a.request(b.nodeId, 'ceiling', new Uint8Array(100));
          }
        }),
      );
      const s = (performance.now() - started) / 1000;
      off();
      rows.push([fmt(size), fmt(n / s), fmt((n * size) / 1e6 / s, 1)]);
    }
    return rows;
  } finally {
    for (const n of pair) n.close();
    await sleep(200);
  }
}
