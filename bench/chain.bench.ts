/**
 * Chains (issue 15): append, pull throughput with verification on (256-byte payloads, every
 * request and answer through the wire codec), catching up the last 10 entries of a
 * 100,000-entry chain, a 100,000-entry catch-up from a checkpoint, and proof sizes.
 * In one process: the figures are the protocol's cost (encode, decode, hash, verify), not a
 * network's.
 */
import { ChainLog } from '../lib/chain/chain-log.ts';
import {
  decodeSyncRequest,
  decodeSyncResponse,
  encodeSyncRequest,
  encodeSyncResponse,
} from '../lib/chain/codec.ts';
import { pullChain } from '../lib/chain/pull.ts';
import type { ChainSyncRequest, ChainSyncResponse } from '../lib/chain/sync.ts';
import { NodeIdentity } from '../lib/identity/node-identity.ts';
import { strictVerifier } from '../lib/identity/verifier.ts';
import { chains } from '../lib/node/chain-service.ts';
import { SimCluster } from '../lib/sim/mod.ts';
import { fmt, table } from './harness.ts';

const N = 100_000;
const PAYLOAD = 256;

interface Link {
  ask(req: ChainSyncRequest): Promise<ChainSyncResponse>;
  bytes: number;
  roundTrips: number;
  peakHeap: number;
}

function link(responder: ChainLog): Link {
  const l: Link = {
    bytes: 0,
    roundTrips: 0,
    peakHeap: 0,
    async ask(req) {
      const reqBytes = encodeSyncRequest(req);
      const resBytes = encodeSyncResponse(responder.serveSync(decodeSyncRequest(reqBytes)));
      l.bytes += reqBytes.length + resBytes.length;
      l.roundTrips++;
      l.peakHeap = Math.max(l.peakHeap, process.memoryUsage().heapUsed);
      return decodeSyncResponse(resBytes);
    },
  };
  return l;
}

export async function chainBench(): Promise<void> {
  const identity = NodeIdentity.generate();
  const author = await ChainLog.open({ identity, name: 'bench', create: true });
  const payload = (i: number) => new Uint8Array(PAYLOAD).fill(i & 0xff);
  let t = performance.now();
  for (let i = 0; i < N; i += 1_000)
    await author.appendBatch(Array.from({ length: 1_000 }, (_, j) => payload(i + j)));
  const appendMs = performance.now() - t;

  // A 100,000-entry catch-up from the signed head (checkpoint), in bounded chunks.
  const heapBefore = process.memoryUsage().heapUsed;
  const replica = await ChainLog.replica({ chainId: author.chainId, author: identity.publicKey });
  replica.noteRemoteSize(N);
  const full = link(author);
  t = performance.now();
  await pullChain(replica, full.ask);
  const pullMs = performance.now() - t;
  if (replica.length !== N) throw new Error(`pulled ${replica.length} of ${N}`);

  // The last 10 entries of 100,000.
  const behind = await ChainLog.replica({ chainId: author.chainId, author: identity.publicKey });
  await pullChain(behind, link(author).ask);
  await author.appendBatch(Array.from({ length: 10 }, (_, i) => payload(i)));
  behind.noteRemoteSize(author.length);
  const tail = link(author);
  t = performance.now();
  await pullChain(behind, tail.ask);
  const tailMs = performance.now() - t;

  table(
    'Chains (100,000 entries of 256 B; requests and answers through the codec, verification on)',
    ['measure', 'value'],
    [
      ['author append, batches of 1,000 (entries/s)', fmt((N * 1000) / appendMs)],
      ['pull throughput, checkpoint catch-up (entries/s)', fmt((N * 1000) / pullMs)],
      ['pull throughput (MB/s on the wire)', fmt(full.bytes / 1e6 / (pullMs / 1000), 1)],
      ['100,000-entry catch-up: time (ms)', fmt(pullMs)],
      ['100,000-entry catch-up: bytes', fmt(full.bytes)],
      ['100,000-entry catch-up: round trips', fmt(full.roundTrips)],
      ['100,000-entry catch-up: peak heap growth (MB)', fmt((full.peakHeap - heapBefore) / 1e6, 1)],
      ['last 10 of 100,000: bytes', fmt(tail.bytes)],
      ['last 10 of 100,000: round trips', fmt(tail.roundTrips)],
      ['last 10 of 100,000: time (ms)', fmt(tailMs, 1)],
    ],
  );

  const rows: Array<Array<string | number>> = [];
  for (const n of [10, 1_000, 100_000]) {
    const bound = (Math.ceil(Math.log2(n)) + 1) * 32;
    let inclusion = 0;
    for (const i of [0, n >> 1, n - 1])
      inclusion = Math.max(inclusion, author.inclusionProof(i, n).length * 32);
    let consistency = 0;
    for (const m of [1, n >> 1, n - 1])
      consistency = Math.max(consistency, author.consistencyProof(m, n).length * 32);
    rows.push([fmt(n), inclusion, consistency, bound]);
  }
  table(
    'Chain proof sizes (bytes, largest of three)',
    ['tree size', 'inclusion', 'consistency', '(⌈log₂ n⌉+1)×32'],
    rows,
  );
}

/** One pull between two MeshNodes over the simulated network (10 ms latency): node 1 follows node 0's chain. */
async function simPull(entries: number, window: number, parts: number): Promise<Array<string | number>> {
  const c = await SimCluster.create({
    nodes: 2,
    seed: 15,
    network: { linkAuth: 'trusted' },
    nodeOptions: () => ({
      chains: chains({ verifier: strictVerifier, pullIntervalMs: 100, pullWindow: window, pullParts: parts }),
    }),
  });
  while (c.nodes.some((n) => n.node.links().length === 0)) c.runFor(100);
  c.runFor(2_000);
  const identity = NodeIdentity.generate();
  const log = await ChainLog.open({ identity, name: 'sim', create: true, verifier: strictVerifier });
  for (let i = 0; i < entries; i += 1_000)
    await log.appendBatch(
      Array.from({ length: 1_000 }, (_, j) => new Uint8Array(PAYLOAD).fill((i + j) & 0xff)),
    );
  c.nodes[0]!.node.chains.host(log);
  const follower = await c.nodes[1]!.node.chains.follow(log.chainId, identity.publicKey);
  const simStart = c.now;
  const wallStart = performance.now();
  let firstAt = -1;
  let bytesFirst = 0;
  // Small steps, each letting the pull's promises run: the simulated clock waits for the CPU.
  while (follower.length < entries && c.now - simStart < 600_000) {
    c.runFor(1);
    await new Promise((r) => setImmediate(r));
    if (firstAt < 0 && follower.length > 0) {
      firstAt = c.now;
      bytesFirst = c.net.totalTraffic().bytesOut;
    }
  }
  const pullMs = c.now - firstAt;
  const wallMs = performance.now() - wallStart;
  const bytes = c.net.totalTraffic().bytesOut - bytesFirst;
  return [
    `${window} / ${parts}${parts === 1 ? ' (plain)' : ''}`,
    fmt((entries * 1000) / pullMs),
    fmt(bytes / 1e6 / (pullMs / 1000), 2),
    fmt(c.now - simStart),
    fmt((entries * 1000) / wallMs),
  ];
}

/** Pull throughput between two MeshNodes over the simulated network: plain requests (one answer each) against streamed ones. */
export async function chainSimBench(entries = 20_000): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const [window, parts] of [
    [1, 1],
    [4, 1],
    [16, 1],
    [64, 1],
    [16, 16],
    [64, 16],
  ] as const)
    rows.push(await simPull(entries, window, parts));
  table(
    `Chain pull between two MeshNodes over the simulated network (${fmt(entries)} × 256 B, 10 ms latency, answers ≤ 40 KiB; rates from the first entry pulled)`,
    [
      'answers in flight / per request',
      'entries/s (simulated)',
      'MB/s (simulated)',
      'until synced, from follow() (ms)',
      'entries per wall-clock s',
    ],
    rows,
  );
}
