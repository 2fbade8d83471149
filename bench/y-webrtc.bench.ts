/**
 * weftmesh beside y-webrtc 10.3 (issues 13 and 14), in one run on this machine:
 *  - tabs: 8 tabs of one Chromium profile and one origin, no signaling server. weftmesh over
 *    BroadcastChannel (broadcast-channel.bench.ts's form(): all see all Active) and y-webrtc over
 *    its BroadcastChannel sync (every tab has the Y.Doc entries and awareness states of all 8),
 *    both in ms from the last tab's start, measured in the pages.
 *  - node: 8 Node processes over WebRTC (@roamhq/wrtc) on loopback, started at once: weftmesh's
 *    CLI (`weftmesh node --json`, everyone sees everyone Active) and a y-webrtc peer each
 *    (bench/y-webrtc-peer.mjs, full mesh of connected peers; and every peer has all 8 Y.Doc
 *    entries and awareness states), in ms from the last process being up. bench/rtc-phases.mjs,
 *    preloaded into both, timestamps each peer connection (made, remote description, ICE
 *    connected, DTLS connected, data channel open): where the time goes.
 *  - idle: tabs of different origins (one static server per tab, so no shared BroadcastChannel)
 *    over WebRTC: formation of 8, then clusters of 4, 8 and 16 idle for 30 s after forming (the two
 *    libraries in two browsers side by side): CPU of all browser processes, JS heap per page (after
 *    a GC), main-thread task time, timer callbacks and data-channel sends per tab, data channels
 *    per peer connection.
 *
 * Settings (env): Y_PARTS (tabs,node,idle), Y_TAB_RUNS (20), Y_NODE_RUNS (10), Y_RTC_RUNS (5),
 * Y_IDLE_TABS (4,8,16), Y_IDLE_S (30), Y_HEAP_SNAPSHOT (a path prefix: heap snapshots of each
 * idle cluster's first tab).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { bundleBrowser } from '../scripts/browser-bundle.ts';
import { buildBcPages, staticServer } from '../test/support/bc-pages.ts';
import { launchChromium } from '../test/support/chromium.ts';
import { CLI } from '../test/support/processes.ts';
import { form, summary } from './broadcast-channel.bench.ts';
import { fmt, table } from './harness.ts';

const PARTS = (process.env.Y_PARTS ?? 'tabs,node,idle').split(',');
const TAB_RUNS = Number(process.env.Y_TAB_RUNS ?? 20);
const NODE_RUNS = Number(process.env.Y_NODE_RUNS ?? 10);
const RTC_RUNS = Number(process.env.Y_RTC_RUNS ?? 5);
const IDLE_TABS = (process.env.Y_IDLE_TABS ?? '4,8,16').split(',').map(Number);
const IDLE_S = Number(process.env.Y_IDLE_S ?? 30);
const DIR = new URL('../artifacts/bench-y', import.meta.url).pathname;
/** Y_HEAP_SNAPSHOT=prefix: a heap snapshot of each idle cluster's first tab (prefix-LIB-N.heapsnapshot). */
const HEAP_SNAPSHOT = process.env.Y_HEAP_SNAPSHOT;
const PEER = new URL('./y-webrtc-peer.mjs', import.meta.url).pathname;
const PHASES = new URL('./rtc-phases.mjs', import.meta.url).pathname;
const Y_SERVER = new URL('../node_modules/y-webrtc/bin/server.js', import.meta.url).pathname;
/** y-webrtc's server listens on every interface at PORT: make it 127.0.0.1 and report the port. */
const LOCAL_LISTEN =
  "data:text/javascript,import net from 'node:net';const l=net.Server.prototype.listen;" +
  "net.Server.prototype.listen=function(p){return l.call(this,Number(p),'127.0.0.1'," +
  '()=>console.log("ws://127.0.0.1:"+this.address().port))}';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const p50 = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
const ms = (x: number) => (Number.isFinite(x) ? fmt(x) : '—');

type Lib = 'weftmesh' | 'y-webrtc';

/** Starts a long-running server process; resolves with it and the ws:// URL it prints. */
async function server(args: string[], env: Record<string, string> = {}): Promise<[ChildProcess, string]> {
  const proc = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ws:\/\/127\.0\.0\.1:\d+/.exec(out);
      if (m) ok(m[0]);
    });
    proc.once('exit', () => fail(new Error(`server ${args.join(' ')} exited: ${out}`)));
  });
  return [proc, url];
}

// ---------------------------------------------------------------------------- browser pages

interface TabView {
  startedAt: number;
  allAt: number;
  meshAt: number;
  webrtcPeers: number;
  peerConnections: number;
  dataChannels: number;
  channelSends: number;
  timerCalls: number;
}

interface Cluster {
  /** ms from the last tab's start until every tab had everyone (undefined: not within the limit). */
  ms: number | undefined;
  /** y-webrtc: ms until every tab had WebRTC connections to all others. */
  meshMs: number | undefined;
  pages: Page[];
  context: BrowserContext;
}

const tabView = (p: Page): Promise<TabView> =>
  p.evaluate(() => (window as unknown as { ybench: { view(): TabView } }).ybench.view());

async function buildPages(): Promise<void> {
  for (const name of ['y-webrtc', 'y-weftmesh']) {
    await bundleBrowser(
      new URL(`../test/browser/${name}-page.ts`, import.meta.url).pathname,
      `${DIR}/${name}.js`,
    );
    await writeFile(
      `${DIR}/${name}.html`,
      `<!doctype html>\n<meta charset="utf-8">\n<title>${name}</title>\n<script type="module" src="./${name}.js"></script>\n`,
    );
  }
}

/**
 * Opens `n` tabs of `page` in a fresh profile at once, tab i on origins[i % origins.length], and
 * waits (≤ limitMs) until every tab had all `n` (allAt), as form() does for weftmesh's bc pages.
 */
async function formTabs(
  browser: Browser,
  origins: string[],
  page: 'y-webrtc' | 'y-weftmesh',
  query: string,
  n: number,
  limitMs = 30_000,
): Promise<Cluster> {
  const context = await browser.newContext();
  for (const origin of origins) await context.grantPermissions(['microphone', 'camera'], { origin });
  const pages = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const p = await context.newPage();
      await p.goto(`${origins[i % origins.length]}/${page}.html?${query}&expect=${n}`);
      await p.waitForFunction(() => 'ybench' in window);
      return p;
    }),
  );
  const end = Date.now() + limitMs;
  let views: TabView[] = [];
  while (Date.now() < end) {
    views = await Promise.all(pages.map(tabView));
    if (views.every((v) => v.allAt > 0 && (page === 'y-weftmesh' || v.meshAt > 0))) break;
    await sleep(50);
  }
  const lastStart = Math.max(...views.map((v) => v.startedAt));
  const after = (at: (v: TabView) => number) =>
    views.every((v) => at(v) > 0) ? Math.max(...views.map(at)) - lastStart : undefined;
  return {
    ms: after((v) => v.allAt),
    meshMs: page === 'y-webrtc' ? after((v) => v.meshAt) : undefined,
    pages,
    context,
  };
}

async function sameOriginTabs(): Promise<void> {
  await buildBcPages(`${DIR}/bc`);
  const bcFiles = await staticServer(`${DIR}/bc`);
  const yFiles = await staticServer(DIR);
  const browser = await launchChromium();
  try {
    const weft: Array<number | undefined> = [];
    const y: Array<number | undefined> = [];
    const yPeers: number[] = [];
    for (let r = 0; r < TAB_RUNS; r++) {
      const f = await form(browser, bcFiles.origin, `mode=zero&cluster=yb${r}`, 8);
      weft.push(f.ms);
      await f.context.close();
      const g = await formTabs(browser, [yFiles.origin], 'y-webrtc', `room=yb${r}`, 8);
      y.push(g.ms);
      yPeers.push(...(await Promise.all(g.pages.map(tabView))).map((v) => v.peerConnections));
      await g.context.close();
    }
    table(
      `8 tabs of one Chromium profile, one origin, no signaling server, started at once: ms from the last tab's start until every tab has all 8 (${TAB_RUNS} runs, alternating)`,
      ['library (what "has all 8" means)', 'formed', 'p50', 'p99', 'max'],
      [
        summary('weftmesh, BroadcastChannel (all Active)', weft),
        summary('y-webrtc 10.3, BroadcastChannel (Y.Doc entries + awareness)', y),
      ],
    );
    console.log(`y-webrtc peer connections per tab in these runs: max ${Math.max(...yPeers)}`);
  } finally {
    await browser.close();
    await bcFiles.close();
    await yFiles.close();
  }
}

// ---------------------------------------------------------------------------- Node processes

interface Line {
  at: number;
  json: Record<string, unknown>;
}

interface Proc {
  proc: ChildProcess;
  spawnedAt: number;
  upAt: number;
  lines: Line[];
  closed: Promise<void>;
}

function startProc(args: string[], onLine: () => void): Proc {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const p: Proc = {
    proc,
    spawnedAt: Date.now(),
    upAt: 0,
    lines: [],
    closed: new Promise((ok) => proc.once('close', () => ok())),
  };
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const json = JSON.parse(line) as Record<string, unknown>;
        const at = Date.now();
        if (json.event === 'self' || json.event === 'up') p.upAt = at;
        p.lines.push({ at, json });
        onLine();
      } catch {
        // not a JSON line
      }
    }
  });
  return p;
}

/** Everyone sees everyone: weftmesh, every process has the 7 others Active; y-webrtc, 7 connected peers. */
function meshed(lib: Lib, procs: Proc[]): boolean {
  if (lib === 'y-webrtc') {
    return procs.every((p) => {
      const last = p.lines.filter((l) => l.json.event === 'conns').at(-1);
      return last?.json.connected === procs.length - 1;
    });
  }
  const ids = procs.map(
    (p) => p.lines.find((l) => l.json.event === 'self')?.json.nodeId as string | undefined,
  );
  if (ids.some((id) => id === undefined)) return false;
  return procs.every((p, i) => {
    const state = new Map<string, unknown>();
    for (const l of p.lines) if (l.json.event === 'state') state.set(l.json.nodeId as string, l.json.state);
    return ids.every((id, j) => i === j || state.get(id!) === 'Active');
  });
}

interface NodeRun {
  /** ms from the last process up until everyone sees everyone (undefined: not within 10 s). */
  ms: number | undefined;
  /** y-webrtc: ms until every process had every Y.Doc entry and awareness state. */
  syncMs: number | undefined;
  startMs: number[];
  procs: Proc[];
  lastUp: number;
}

async function nodeRun(lib: Lib, signal: string, room: string): Promise<NodeRun> {
  let done = 0;
  const procs: Proc[] = [];
  const onLine = () => {
    if (done === 0 && procs.length === 8 && meshed(lib, procs)) done = Date.now();
  };
  const args =
    lib === 'weftmesh'
      ? ['--import', PHASES, CLI, 'node', '--cluster', room, '--signal', signal, '--json']
      : ['--import', PHASES, PEER, signal, room, '8'];
  for (let i = 0; i < 8; i++) procs.push(startProc(args, onLine));
  const end = Date.now() + 20_000;
  while (Date.now() < end && procs.some((p) => p.upAt === 0)) await sleep(10);
  const lastUp = Math.max(...procs.map((p) => p.upAt));
  const limit = lastUp + 10_000;
  const synced = () => lib === 'weftmesh' || procs.every((p) => p.lines.some((l) => l.json.event === 'all'));
  while (Date.now() < limit && (done === 0 || !synced())) await sleep(10);
  const syncAt =
    lib === 'y-webrtc' && synced()
      ? Math.max(...procs.map((p) => p.lines.find((l) => l.json.event === 'all')!.at))
      : 0;
  for (const p of procs) p.proc.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.closed));
  return {
    ms: done && procs.every((p) => p.upAt > 0) ? done - lastUp : undefined,
    syncMs: syncAt ? syncAt - lastUp : undefined,
    startMs: procs.map((p) => (p.upAt ? p.upAt - p.spawnedAt : NaN)),
    procs,
    lastUp,
  };
}

/** Per peer connection: phase name → time (the child's clock, ms). */
function peerConnections(run: NodeRun): Array<Map<string, number>> {
  const out: Array<Map<string, number>> = [];
  for (const p of run.procs) {
    const pcs = new Map<number, Map<string, number>>();
    for (const l of p.lines) {
      if (l.json.event !== 'rtc') continue;
      const id = l.json.pc as number;
      if (!pcs.has(id)) pcs.set(id, new Map());
      pcs.get(id)!.set(l.json.phase as string, l.json.at as number);
    }
    out.push(...pcs.values());
  }
  return out;
}

/** Where the time goes, over all runs of one library: per-link phases and each run's critical path. */
function phaseRows(runs: NodeRun[]): Array<[string, string]> {
  const span = (pcs: Array<Map<string, number>>, a: string, b: string) =>
    pcs.filter((pc) => pc.has(a) && pc.has(b)).map((pc) => pc.get(b)! - pc.get(a)!);
  const all = runs.flatMap(peerConnections);
  const ok = runs.filter((r) => r.ms !== undefined);
  const lastOf = (r: NodeRun, phase: string) =>
    Math.max(...peerConnections(r).map((pc) => pc.get(phase) ?? -Infinity)) - r.lastUp;
  const opened = all.filter((pc) => pc.has('channel-open')).length;
  return [
    [
      'process start: spawn → up (p50 / max over processes)',
      `${ms(p50(runs.flatMap((r) => r.startMs)))} / ${ms(Math.max(...runs.flatMap((r) => r.startMs)))}`,
    ],
    ['peer connections made per run, both ends (a full mesh of 8 is 56)', fmt(all.length / runs.length, 1)],
    ['… of which opened a data channel', fmt(opened / runs.length, 1)],
    ['per link: made → remote description set (signaling relay)', ms(p50(span(all, 'created', 'remote')))],
    ['per link: made → ICE connected', ms(p50(span(all, 'created', 'ice-connected')))],
    [
      'per link: ICE connected → DTLS connected (connectionState)',
      ms(p50(span(all, 'ice-connected', 'conn-connected'))),
    ],
    [
      'per link: DTLS connected → data channel open (SCTP)',
      ms(p50(span(all, 'conn-connected', 'channel-open'))),
    ],
    [
      'run: last process up → first peer connection made',
      ms(p50(ok.map((r) => Math.min(...peerConnections(r).map((pc) => pc.get('created')!)) - r.lastUp))),
    ],
    ['run: last process up → last peer connection made', ms(p50(ok.map((r) => lastOf(r, 'created'))))],
    ['run: last process up → last data channel open', ms(p50(ok.map((r) => lastOf(r, 'channel-open'))))],
    [
      'run: last data channel open → everyone sees everyone',
      ms(p50(ok.map((r) => r.ms! - lastOf(r, 'channel-open')))),
    ],
  ];
}

async function nodeProcesses(weftSignal: string, ySignal: string): Promise<void> {
  const runs: Record<Lib, NodeRun[]> = { weftmesh: [], 'y-webrtc': [] };
  for (let r = 0; r < NODE_RUNS; r++) {
    runs.weftmesh.push(await nodeRun('weftmesh', weftSignal, `yn-${r}`));
    runs['y-webrtc'].push(await nodeRun('y-webrtc', ySignal, `yn-${r}`));
  }
  const row = (label: string, xs: Array<number | undefined>) => summary(label, xs);
  table(
    `8 Node processes over WebRTC (@roamhq/wrtc) on loopback, started at once: ms from the last process up (${NODE_RUNS} runs, alternating)`,
    ['library: everyone sees everyone', 'formed', 'p50', 'p99', 'max'],
    [
      row(
        'weftmesh `weftmesh node`: all Active',
        runs.weftmesh.map((r) => r.ms),
      ),
      row(
        'y-webrtc 10.3: full mesh of connected peers',
        runs['y-webrtc'].map((r) => r.ms),
      ),
      row(
        'y-webrtc 10.3: every Y.Doc entry + awareness state',
        runs['y-webrtc'].map((r) => r.syncMs),
      ),
    ],
  );
  const w = phaseRows(runs.weftmesh);
  const y = phaseRows(runs['y-webrtc']);
  table(
    'Where the time goes (p50 ms; per-link phases from every peer connection, run phases over formed runs)',
    ['phase', 'weftmesh', 'y-webrtc'],
    w.map(([label, value], i) => [label, value, y[i]![1]]),
  );
}

// ---------------------------------------------------------------------------- idle tab clusters

/** utime + stime (s) of `root` and every process below it. */
function treeCpu(root: number): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(f[1]));
      ticks.set(Number(name), Number(f[11]) + Number(f[12]));
    } catch {
      // exited meanwhile
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p))
      if (p === root) return true;
    return false;
  };
  let sum = 0;
  for (const [pid, t] of ticks) if (inTree(pid)) sum += t;
  return sum / 100; // USER_HZ
}

/** Chromium processes started by this process (the browsers' roots). */
function browserRoots(): Set<number> {
  const roots = new Set<number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('chromium'))
        roots.add(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return roots;
}

async function launchTracked(): Promise<[Browser, number]> {
  const before = browserRoots();
  const browser = await launchChromium();
  const root = [...browserRoots()].find((p) => !before.has(p));
  if (root === undefined) throw new Error('cannot find the Chromium process just launched');
  return [browser, root];
}

async function metricsOf(sessions: CDPSession[]): Promise<Array<Record<string, number>>> {
  return Promise.all(
    sessions.map(async (s) => {
      const { metrics } = (await s.send('Performance.getMetrics')) as {
        metrics: Array<{ name: string; value: number }>;
      };
      return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
    }),
  );
}

interface Idle {
  formedMs: number | undefined;
  cpuPct: number;
  heapMiB: number[];
  taskPct: number[];
  timersPerS: number[];
  sendsPerS: number[];
  peerConnections: number[];
  channelsPerPc: number;
}

/** Writes a heap snapshot of the session's page to `path`. */
async function snapshot(s: CDPSession, path: string): Promise<void> {
  const chunks: string[] = [];
  const onChunk = (e: { chunk: string }) => chunks.push(e.chunk);
  s.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
  await s.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  s.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
  await writeFile(path, chunks.join(''));
}

/** Forms `c` (already formed), then watches it idle for IDLE_S seconds. */
async function idleOf(c: Cluster, lib: Lib, root: number, started: Promise<void>): Promise<Idle> {
  const sessions = await Promise.all(c.pages.map((p) => c.context.newCDPSession(p)));
  for (const s of sessions) await s.send('Performance.enable');
  await started;
  const cpu0 = treeCpu(root);
  const m0 = await metricsOf(sessions);
  const v0 = await Promise.all(c.pages.map(tabView));
  await sleep(IDLE_S * 1000);
  const cpu1 = treeCpu(root);
  const m1 = await metricsOf(sessions);
  const v1 = await Promise.all(c.pages.map(tabView));
  const heap: number[] = [];
  for (const s of sessions) {
    await s.send('HeapProfiler.collectGarbage');
    const { usedSize } = (await s.send('Runtime.getHeapUsage')) as { usedSize: number };
    heap.push(usedSize / 2 ** 20);
  }
  if (HEAP_SNAPSHOT) await snapshot(sessions[0]!, `${HEAP_SNAPSHOT}-${lib}-${c.pages.length}.heapsnapshot`);
  const per = (f: (i: number) => number) => c.pages.map((_, i) => f(i));
  const pcs = v1.reduce((a, v) => a + v.peerConnections, 0);
  return {
    formedMs: c.ms,
    cpuPct: ((cpu1 - cpu0) / IDLE_S) * 100,
    heapMiB: heap,
    taskPct: per((i) => ((m1[i]!.TaskDuration! - m0[i]!.TaskDuration!) / IDLE_S) * 100),
    timersPerS: per((i) => (v1[i]!.timerCalls - v0[i]!.timerCalls) / IDLE_S),
    sendsPerS: per((i) => (v1[i]!.channelSends - v0[i]!.channelSends) / IDLE_S),
    peerConnections: v1.map((v) => v.peerConnections),
    channelsPerPc: pcs ? v1.reduce((a, v) => a + v.dataChannels, 0) / pcs : NaN,
  };
}

async function tabClusters(weftSignal: string, ySignal: string): Promise<void> {
  const files = await Promise.all(Array.from({ length: Math.max(8, ...IDLE_TABS) }, () => staticServer(DIR)));
  const origins = files.map((f) => f.origin);
  const [wBrowser, wRoot] = await launchTracked();
  const [yBrowser, yRoot] = await launchTracked();
  try {
    const weftQuery = (c: string) => `cluster=${c}&signal=${encodeURIComponent(weftSignal)}`;
    const yQuery = (c: string) => `room=${c}&signal=${encodeURIComponent(ySignal)}`;
    const wForm: Array<number | undefined> = [];
    const yForm: Array<number | undefined> = [];
    const yMesh: Array<number | undefined> = [];
    for (let r = 0; r < RTC_RUNS; r++) {
      const w = await formTabs(wBrowser, origins, 'y-weftmesh', weftQuery(`yr${r}`), 8);
      wForm.push(w.ms);
      await w.context.close();
      const y = await formTabs(yBrowser, origins, 'y-webrtc', yQuery(`yr${r}`), 8);
      yForm.push(y.ms);
      yMesh.push(y.meshMs);
      await y.context.close();
    }
    table(
      `8 tabs of different origins (one browser) over WebRTC, started at once: ms from the last tab's start (${RTC_RUNS} runs, alternating)`,
      ['library: every tab has all 8', 'formed', 'p50', 'p99', 'max'],
      [
        summary('weftmesh: all Active', wForm),
        summary('y-webrtc 10.3: WebRTC connections to all 7 others', yMesh),
        summary('y-webrtc 10.3: Y.Doc entries + awareness of all 8', yForm),
      ],
    );

    const rows: Array<Array<string | number>> = [];
    for (const n of IDLE_TABS) {
      const w = await formTabs(wBrowser, origins, 'y-weftmesh', weftQuery(`yi${n}`), n, 60_000);
      const y = await formTabs(yBrowser, origins, 'y-webrtc', yQuery(`yi${n}`), n, 60_000);
      // Both idle at once (one start), each measured on its own browser's processes.
      const go = sleep(5_000); // settle: first gossip rounds, y-webrtc's sync answers
      const [wi, yi] = await Promise.all([
        idleOf(w, 'weftmesh', wRoot, go),
        idleOf(y, 'y-webrtc', yRoot, go),
      ]);
      await w.context.close();
      await y.context.close();
      const med = (xs: number[], d = 1) => fmt(p50(xs), d);
      for (const [lib, x] of [
        ['weftmesh', wi],
        ['y-webrtc', yi],
      ] as const) {
        rows.push([
          `${n} tabs, ${lib}`,
          x.formedMs === undefined ? 'not formed' : fmt(x.formedMs),
          fmt(x.cpuPct, 1),
          fmt(x.cpuPct / n, 2),
          med(x.heapMiB, 2),
          med(x.taskPct, 2),
          med(x.timersPerS),
          med(x.sendsPerS),
          `${Math.min(...x.peerConnections)}–${Math.max(...x.peerConnections)}`,
          fmt(x.channelsPerPc, 2),
        ]);
      }
    }
    table(
      `Idle tab clusters, different origins over WebRTC, ${IDLE_S} s after forming (+5 s settle); both libraries side by side, each in its own browser (per-tab figures: p50 over tabs)`,
      [
        'cluster',
        'formed ms',
        'CPU % of a core (all browser processes)',
        'per tab',
        'JS heap MiB/tab (after GC)',
        'main-thread %/tab',
        'timer callbacks/s/tab',
        'data-channel sends/s/tab',
        'peer connections made/tab',
        'data channels per peer connection',
      ],
      rows,
    );
  } finally {
    await wBrowser.close();
    await yBrowser.close();
    await Promise.all(files.map((f) => f.close()));
  }
}

export async function yWebrtcBench(): Promise<void> {
  // The machine is shared: its load says how far these figures are from an idle machine's.
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
  console.log(`\ny-webrtc comparison (y-webrtc 10.3.0, yjs 13.6): load average ${load()} at the start`);
  await buildPages();
  const timed = async (part: string, run: () => Promise<void>) => {
    if (!PARTS.includes(part)) return;
    const t0 = Date.now();
    await run();
    console.log(`(${part}: ${fmt((Date.now() - t0) / 1000)} s)`);
  };
  await timed('tabs', sameOriginTabs);
  if (PARTS.includes('node') || PARTS.includes('idle')) {
    const [weftServer, weftSignal] = await server([CLI, 'signal', '--port', '0', '--max-per-ip', '1000']);
    const [yServer, ySignal] = await server(['--import', LOCAL_LISTEN, Y_SERVER], { PORT: '0' });
    try {
      await timed('node', () => nodeProcesses(weftSignal, ySignal));
      await timed('idle', () => tabClusters(weftSignal, ySignal));
    } finally {
      weftServer.kill('SIGKILL');
      yServer.kill('SIGKILL');
    }
  }
  console.log(`load average ${load()} at the end of the y-webrtc comparison`);
}
