/**
 * Chains over real WebRTC on loopback (issue 15): two MeshNodes (@roamhq/wrtc data channels,
 * a real signaling server) with the chains() service, each in its own process, as between two
 * machines: a child (bench/chain-webrtc-host.ts) hosts a chain, this process follows it
 * (256-byte entries, and 16 KiB ones: hypercore's block size). Figures: pull throughput
 * (entries/s and payload MB/s, from the first entry pulled to the last), catch-up time from
 * follow() (the head reaching the follower by gossip included), the follower's peak heap
 * growth, and the CPU each side used during the pull (% of one core: which side bounds it);
 * with plain requests (one answer each: one in flight, the window, the pace raised past the
 * default per-origin message quota) and streamed ones (the default: 16 answers a request). For scale, plain request/answer between the same two
 * processes (what messaging carries over that link with no chain work) and a plain data
 * channel streaming one way (bench/chain-webrtc-link.ts: the link itself, no weftmesh code).
 */
import { NodeState } from '../lib/membership/node-state.ts';
import type { ChainsOptions } from '../lib/node/chain-service.ts';
import { chains } from '../lib/node/chain-service.ts';
import { messaging } from '../lib/node/mod.ts';
import { fromHex } from '../lib/util/bytes.ts';
import { startSignalingServer } from '../signaling/node.ts';
import { type RtcNode, rtcNode } from '../test/support/webrtc-node.ts';
import type { HostCmd } from './chain-webrtc-host.ts';
import { rawAnswer } from './chain-webrtc-link.ts';
import { BenchChild, type Ev } from './child-process.ts';
import { fmt, table } from './harness.ts';

const CHILD = new URL('./chain-webrtc-host.ts', import.meta.url).pathname;
/** Payload sizes: 256 B (the issue's), 16 KiB (hypercore's block size, for its ~53 MB/s). */
export const SMALL = 256;
export const BLOCK = 16 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Run {
  label: string;
  entries: number;
  /** Bytes per entry payload. */
  payload: number;
  chains: ChainsOptions;
  /** messaging().perOriginRate of both nodes (undefined: the default 200/s). */
  perOriginRate?: number;
}

/** The streamed pulls with the defaults (16 answers a request, 4 requests in flight): this bench's and chain-browser's. */
export const STREAMED_RUNS: Run[] = [
  {
    label: 'streamed (defaults: 16 answers a request, 4 in flight)',
    entries: 20_000,
    payload: SMALL,
    chains: {},
  },
  { label: 'streamed, defaults', entries: 100_000, payload: SMALL, chains: {} },
  { label: '16 KiB entries, streamed, defaults', entries: 8_000, payload: BLOCK, chains: {} },
];

/** The child process that serves: commands out, events back. */
class Host extends BenchChild {
  constructor() {
    super(CHILD, 'host');
  }

  /** Sends `cmd` and waits (≤ 10 min: building a 100,000-entry chain) for the event named `ev`. */
  request(cmd: HostCmd, ev: string): Promise<Ev> {
    return this.ask(cmd, ev, 600_000);
  }

  /** CPU time the child used so far, in ms. */
  async cpuMs(): Promise<number> {
    const u = (await this.request({ cmd: 'cpu' }, 'cpu')).usage as NodeJS.CpuUsage;
    return (u.user + u.system) / 1000;
  }
}

async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const start = performance.now();
  while (!ok()) {
    if (performance.now() - start > ms) throw new Error(`timed out: ${what}`);
    await sleep(2);
  }
}

/** This process's node, linked to the host's (a fresh pair per run). */
async function pairUp(
  url: string,
  host: Host,
  cluster: string,
  run: Pick<Run, 'chains' | 'perOriginRate'>,
): Promise<{ me: RtcNode; other: string }> {
  const { nodeId } = await host.request(
    {
      cmd: 'node',
      signal: url,
      cluster,
      chains: { pullIntervalMs: 100, ...run.chains },
      perOriginRate: run.perOriginRate,
    },
    'ready',
  );
  const other = nodeId as string;
  const me = await rtcNode(url, cluster, {
    chains: chains({ pullIntervalMs: 100, ...run.chains }),
    ...(run.perOriginRate ? { messaging: messaging({ perOriginRate: run.perOriginRate }) } : {}),
  });
  await until(
    () => me.node.member(other)?.state === NodeState.Active && me.node.links().includes(other),
    30_000,
    'a link',
  );
  return { me, other };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function pullOver(url: string, host: Host, run: Run, i: number) {
  const { me } = await pairUp(url, host, `chain-${i}`, run);
  try {
    const { chainId, author } = await host.request(
      { cmd: 'host', entries: run.entries, payload: run.payload },
      'hosted',
    );
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let peakHeap = heapBefore;
    const started = performance.now();
    const follower = await me.node.chains.follow(chainId as string, fromHex(author as string));
    let firstAt = 0;
    let cpuAtFirst = { me: 0, host: 0 };
    const errors: string[] = [];
    me.node.chains.on('sync-error', (e) => errors.push(String(e.error)));
    const pulls: number[] = [];
    me.node.chains.on('synced', (e) => pulls.push(e.appended));
    await until(
      () => {
        if (firstAt === 0 && follower.length > 0) firstAt = performance.now();
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        return firstAt > 0;
      },
      300_000,
      `${run.label}: nothing pulled (${errors.join('; ')})`,
    );
    cpuAtFirst = { me: cpuMs(), host: await host.cpuMs() };
    await until(
      () => {
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        return follower.length >= run.entries;
      },
      300_000,
      `${run.label}: ${follower.length} of ${run.entries} pulled (${errors.join('; ')})`,
    );
    const done = performance.now();
    const wall = done - firstAt;
    const cpu = { me: cpuMs() - cpuAtFirst.me, host: (await host.cpuMs()) - cpuAtFirst.host };
    const rate = (run.entries * 1000) / wall;
    return [
      run.label,
      fmt(run.entries),
      fmt(rate),
      fmt((rate * run.payload) / 1e6, 1),
      fmt(done - started),
      fmt((peakHeap - heapBefore) / 1e6, 1),
      `${fmt((100 * cpu.me) / wall)} / ${fmt((100 * cpu.host) / wall)}`,
      pulls.length,
      errors.length
        ? `${errors.length}: ${[...new Set(errors)].join('; ')} (links lost: ${me.downs.join(', ') || 'none'})`
        : 0,
    ];
  } finally {
    me.close();
    await sleep(200);
  }
}

export async function chainWebRtcBench(): Promise<void> {
  const server = await startSignalingServer({ port: 0 });
  const host = new Host();
  const plain = { pullParts: 1 };
  const wide = { chains: { ...plain, pullRate: 2_000, pullWindow: 64 }, perOriginRate: 4_000 };
  const runs: Run[] = [
    {
      label: 'plain requests, one in flight',
      entries: 20_000,
      payload: SMALL,
      chains: { ...plain, pullWindow: 1 },
    },
    { label: 'plain requests, 64 in flight', entries: 20_000, payload: SMALL, chains: plain },
    {
      label: 'plain requests, 64 in flight, default pace (150 requests/s after a burst of 600)',
      entries: 100_000,
      payload: SMALL,
      chains: plain,
    },
    {
      label: 'plain, window 64, pace 2,000/s (perOriginRate 4,000)',
      entries: 100_000,
      payload: SMALL,
      ...wide,
    },
    { label: '16 KiB entries, plain, window 64, pace 2,000/s', entries: 4_000, payload: BLOCK, ...wide },
    ...STREAMED_RUNS,
    {
      label: '16 KiB entries, streamed, 8 requests in flight (pullWindow 128)',
      entries: 8_000,
      payload: BLOCK,
      chains: { pullWindow: 128 },
    },
  ];
  try {
    const rows: Array<Array<string | number>> = [];
    // CHAIN_WEBRTC_RUNS=5,7: only those runs (by index), without the tables for scale.
    const only = process.env.CHAIN_WEBRTC_RUNS?.split(',').map(Number);
    for (const [i, run] of runs.entries())
      if (!only || only.includes(i)) rows.push(await pullOver(server.url, host, run, i));
    table(
      'Chain pull between two MeshNodes over real WebRTC on loopback, one process each (answers ≤ 40 KiB, verification on)',
      [
        'run',
        'entries',
        'entries/s',
        'payload MB/s',
        'catch-up from follow() (ms)',
        'peak heap growth (MB)',
        'CPU % follower / host',
        'pulls',
        'pull errors',
      ],
      rows,
    );
    if (only) return;
    const ceiling = await messagingCeiling(server.url, host);
    const link = await rawCeiling(host);
    table(
      'For scale: MeshNode request/answer alone between the same two processes over WebRTC (no chain work)',
      ['answers', 'answers/s', 'MB/s', 'CPU % requester / answerer'],
      ceiling,
    );
    table(
      'The raw link: one plain @roamhq/wrtc data channel between the same two processes, the host streaming (no weftmesh code)',
      ['message size', 'messages', 'messages/s', 'MB/s', 'CPU % receiver / sender'],
      link,
    );
  } finally {
    host.kill();
    await server.close();
  }
}

/**
 * Messages of the entry sizes, of a full sync answer, of the largest stream chunk and of the
 * largest message the peer's SDP allows, streamed one way over a plain data channel.
 */
async function rawCeiling(host: Host): Promise<Array<Array<string | number>>> {
  const { sdp } = await host.request({ cmd: 'raw-offer' }, 'raw-offer');
  const rx = await rawAnswer(sdp as string, async (answer) => {
    await host.request({ cmd: 'raw-answer', sdp: answer }, 'raw-open');
  });
  try {
    const rows: Array<Array<string | number>> = [];
    // 64 KiB: the largest stream chunk PeerChannel sends; 256 KiB: what both stacks here accept.
    for (const [size, count] of [
      [SMALL, 100_000],
      [BLOCK, 4_000],
      [40 * 1024, 2_000],
      [64 * 1024, 1_500],
      [256 * 1024, 400],
    ] as const) {
      const cpu0 = { me: cpuMs(), host: await host.cpuMs() };
      const started = performance.now();
      const got = rx.receive(count);
      await host.request({ cmd: 'raw-send', size, count }, 'raw-sent');
      const { ms, bytes } = await got;
      const span = performance.now() - started;
      const cpu = { me: cpuMs() - cpu0.me, host: (await host.cpuMs()) - cpu0.host };
      rows.push([
        fmt(size),
        fmt(count),
        fmt((count * 1000) / ms),
        fmt(bytes / 1e3 / ms, 1),
        `${fmt((100 * cpu.me) / span)} / ${fmt((100 * cpu.host) / span)}`,
      ]);
    }
    return rows;
  } finally {
    rx.close();
    await host.request({ cmd: 'raw-close' }, 'raw-closed');
  }
}

/**
 * Requests of 100 bytes answered with `size` bytes, 16 in flight, and the same answers
 * streamed (16 parts a request, 4 requests in flight): what messaging itself carries.
 */
async function messagingCeiling(url: string, host: Host): Promise<Array<Array<string | number>>> {
  const { me, other } = await pairUp(url, host, 'ceiling', { chains: {}, perOriginRate: 100_000 });
  try {
    const rows: Array<Array<string | number>> = [];
    const measure = async (label: string, size: number, n: number, run: () => Promise<void>) => {
      const cpu0 = { me: cpuMs(), host: await host.cpuMs() };
      const started = performance.now();
      await run();
      const ms = performance.now() - started;
      const cpu = { me: cpuMs() - cpu0.me, host: (await host.cpuMs()) - cpu0.host };
      rows.push([
        label,
        fmt((n * 1000) / ms),
        fmt((n * size) / 1e3 / ms, 1),
        `${fmt((100 * cpu.me) / ms)} / ${fmt((100 * cpu.host) / ms)}`,
      ]);
    };
    /** `lanes` loops, each asking until `n` answers were asked for in all (`per` a request). */
    const lanes = (lanes: number, n: number, per: number, ask: () => Promise<void>) => async () => {
      let asked = 0;
      await Promise.all(
        Array.from({ length: lanes }, async () => {
          while (asked < n) {
            asked += per;
            await ask();
          }
        }),
      );
    };
    for (const size of [1024, 40 * 1024]) {
      await host.request({ cmd: 'respond', size }, 'responding');
      const n = size > 4096 ? 2_000 : 5_000;
      await measure(
        `${fmt(size)}, plain, 16 in flight`,
        size,
        n,
        lanes(16, n, 1, async () => {
          await me.node.request(other, `ceiling-${size}`, new Uint8Array(100));
        }),
      );
      await measure(
        `${fmt(size)}, streamed, 4 × 16 parts`,
        size,
        n,
        lanes(4, n, 16, async () => {
          for await (const _ of me.node.requestStream(other, `stream-${size}`, new Uint8Array(100))) {
            // each part read as it comes
          }
        }),
      );
    }
    return rows;
  } finally {
    me.close();
    await sleep(200);
  }
}
