/**
 * Signaling instances sharing rooms through Redis (issue 17), on loopback with Debian's
 * redis-server (`npm run bench redis-relay redis-capacity redis-restart`):
 * - redis-relay: signal relay latency within one instance vs across two (p50 / p99);
 * - redis-capacity: idle clients one instance holds (memory per connection) and joins per
 *   second, 10,000 clients, without and with Redis (needs ~10,100 open files in this process
 *   and in the instance: `ulimit -n` ≥ 20,000 here);
 * - redis-restart: Redis killed and restarted under a stream of cross-instance signals: time
 *   until instances are back, until signals and joins cross again, signals lost; two WebRTC
 *   nodes started during the outage still link.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Domain, NodeIdentity, signingInput } from '../lib/identity/mod.ts';
import { summarize } from '../lib/sim/stats-summary.ts';
import type { NodeSignalingOptions } from '../signaling/node.ts';
import { fromBase64Url, joinTranscript, toBase64Url } from '../signaling/protocol.ts';
import { startRedis, stopAllRedis, type TestRedis } from '../test/support/redis-server.ts';
import { rtcNode } from '../test/support/webrtc-node.ts';
import { fmt, table } from './harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENTRY = new URL('./signaling-instance.ts', import.meta.url).pathname;
const CLIENTS = 10_000;

interface Instance {
  proc: ChildProcess;
  url: string;
  port: number;
  log: string[];
}

async function instance(options: Omit<NodeSignalingOptions, 'log'>): Promise<Instance> {
  const proc = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', ENTRY, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  proc.stderr!.on('data', (d: Buffer) => log.push(...d.toString().trim().split('\n')));
  const url = await new Promise<string>((ok, fail) => {
    proc.once('exit', (code) => fail(new Error(`instance exited (${code}): ${log.join(' ')}`)));
    proc.stdout!.on('data', (d: Buffer) => {
      const m = /listening (ws:\/\/\S+)/.exec(d.toString());
      if (m) ok(m[1]!);
    });
  });
  return { proc, url, port: Number(new URL(url).port), log };
}

/** The instance's memory after a garbage collection. */
async function memoryOf(i: Instance): Promise<{ rss: number; heapUsed: number }> {
  return new Promise((ok) => {
    const onData = (d: Buffer) => {
      const m = /memory (\{.*\})/.exec(d.toString());
      if (!m) return;
      i.proc.stdout!.off('data', onData);
      ok(JSON.parse(m[1]!));
    };
    i.proc.stdout!.on('data', onData);
    i.proc.kill('SIGUSR2');
  });
}

async function health(i: Instance): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${i.port}/health`, { signal: AbortSignal.timeout(10_000) });
  return res.json() as Promise<Record<string, unknown>>;
}

async function until(pred: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await pred()) return true;
    await sleep(10);
  }
  return false;
}

/** CPU time a process used so far, ms (utime + stime). */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

interface Client {
  id: string;
  ws: WebSocket;
  peers: Set<string>;
  errors: string[];
}

/** A raw client that joins `room`; `onSignal` sees each signal's data. */
async function client(
  url: string,
  room: string,
  onSignal: (data: unknown) => void = () => {},
): Promise<Client> {
  const identity = NodeIdentity.generate();
  const ws = new WebSocket(url);
  const c: Client = { id: identity.nodeId, ws, peers: new Set(), errors: [] };
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => {
      ws.terminate();
      fail(new Error('no answer to the join within 60 s'));
    }, 60_000);
    ws.once('error', fail);
    ws.once('close', (code) => fail(new Error(`closed (${code}) before joining`)));
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString());
      if (msg.t === 'challenge') {
        const sig = identity.sign(
          signingInput(Domain.SignalJoin, joinTranscript(room, fromBase64Url(msg.nonce, 32)!)),
        );
        ws.send(
          JSON.stringify({ t: 'join', room, key: toBase64Url(identity.publicKey), sig: toBase64Url(sig) }),
        );
      } else if (msg.t === 'joined') {
        for (const p of msg.peers) c.peers.add(p);
        clearTimeout(timer);
        ok();
      } else if (msg.t === 'peer-joined') c.peers.add(msg.id);
      else if (msg.t === 'peer-left') c.peers.delete(msg.id);
      else if (msg.t === 'signal') onSignal(msg.data);
      else if (msg.t === 'error') {
        c.errors.push(msg.code);
        if (msg.code !== 'peer-unreachable') fail(new Error(msg.code));
      }
    });
  });
  ws.on('error', () => {});
  return c;
}

function redisOptions(redis: TestRedis, prefix: string) {
  return { url: redis.url, prefix, heartbeatMs: 500, instanceTtlMs: 1_500 };
}

/** p50 / p99 relay latency, same instance vs across two. */
export async function redisRelayBench(): Promise<void> {
  const redis = await startRedis();
  const limits = { maxConnectionsPerSource: 1_000, joinsPerSecondPerSource: 10_000 };
  const [a, b] = await Promise.all(
    [0, 1].map(() => instance({ limits, redis: redisOptions(redis, 'relay') })),
  );
  const latency = { same: [] as number[], across: [] as number[] };
  const record = (data: unknown) => {
    const d = data as { at: number; kind: 'same' | 'across' };
    latency[d.kind].push(performance.now() - d.at);
  };
  const onA: Client[] = [];
  const onB: Client[] = [];
  for (let i = 0; i < 100; i++) {
    onA.push(await client(a!.url, 'relay', record));
    onB.push(await client(b!.url, 'relay', record));
  }
  await until(() => onA.every((c) => c.peers.size === 199), 10_000);
  const pick = (list: Client[]) => list[Math.floor(Math.random() * list.length)]!;
  let sent = 0;
  for (let burst = 0; burst < 50; burst++) {
    for (let k = 0; k < 40; k++) {
      const from = pick(onA);
      const same = k % 2 === 0;
      let to = pick(same ? onA : onB);
      if (to === from) to = onA[(onA.indexOf(from) + 1) % onA.length]!;
      from.ws.send(
        JSON.stringify({
          t: 'signal',
          to: to.id,
          data: { at: performance.now(), kind: same ? 'same' : 'across' },
        }),
      );
      sent++;
    }
    await sleep(20);
  }
  await until(() => latency.same.length + latency.across.length >= sent, 5_000);
  const same = summarize(latency.same)!;
  const across = summarize(latency.across)!;
  for (const c of [...onA, ...onB]) c.ws.terminate();
  for (const i of [a!, b!]) i.proc.kill('SIGKILL');
  await stopAllRedis();
  table(
    'Signaling over Redis: 2 instances, 200 clients in one room (100 on each), 2,000 signals (2,000/s)',
    ['path', 'delivered', 'p50', 'p99', 'max'],
    [
      [
        'within one instance',
        `${latency.same.length} / ${sent / 2}`,
        `${same.p50} ms`,
        `${same.p99} ms`,
        `${same.max} ms`,
      ],
      [
        'across instances (Redis)',
        `${latency.across.length} / ${sent / 2}`,
        `${across.p50} ms`,
        `${across.p99} ms`,
        `${across.max} ms`,
      ],
    ],
  );
}

/** 10,000 idle clients on one instance, without and with Redis: memory per connection, joins per second. */
export async function redisCapacityBench(): Promise<void> {
  const redis = await startRedis();
  // Room for the clients and for /health requests from the same address.
  const limits = {
    maxConnections: CLIENTS + 16,
    maxConnectionsPerSource: CLIENTS + 16,
    joinsPerSecondPerSource: 100_000,
    // Idle clients: no ping traffic during the run; a starved machine may take long to answer a join.
    idleTimeoutMs: 600_000,
    joinTimeoutMs: 60_000,
  };
  const rows: Array<Array<string | number>> = [];
  for (const mode of ['in memory', 'Redis'] as const) {
    const server = await instance({
      limits,
      ...(mode === 'Redis' ? { redis: redisOptions(redis, 'cap') } : {}),
    });
    if (mode === 'Redis') await until(async () => (await health(server)).degraded === false, 10_000);
    await sleep(300);
    const idle = await memoryOf(server);
    const cpuBefore = cpuOf(server.proc.pid!);
    const clients: Client[] = [];
    const started = performance.now();
    // 100 joins in flight; rooms of 50 (every join is announced to its room).
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (next < CLIENTS) {
          const i = next++;
          try {
            clients.push(await client(server.url, `room-${Math.floor(i / 50)}`));
          } catch {
            failed++;
          }
        }
      }),
    );
    const joinMs = performance.now() - started;
    const cpuMs = cpuOf(server.proc.pid!) - cpuBefore;
    await sleep(1_000);
    const loaded = await memoryOf(server);
    const h = await health(server);
    rows.push([
      mode,
      `${fmt(clients.length)}${failed ? ` (${failed} failed)` : ''}`,
      `${fmt(h.peers as number)}`,
      `${fmt((clients.length * 1000) / joinMs)}/s`,
      `${fmt(cpuMs / Math.max(1, clients.length), 2)} ms`,
      `${fmt(idle.rss / 2 ** 20)} → ${fmt(loaded.rss / 2 ** 20)} MiB`,
      `${fmt((loaded.rss - idle.rss) / Math.max(1, clients.length) / 1024, 1)} KiB`,
      `${fmt((loaded.heapUsed - idle.heapUsed) / Math.max(1, clients.length) / 1024, 1)} KiB`,
    ]);
    for (const c of clients) c.ws.terminate();
    server.proc.kill('SIGKILL');
    await sleep(500);
  }
  await stopAllRedis();
  table(
    `Signaling capacity: ${fmt(CLIENTS)} idle clients on one instance (rooms of 50), 100 joins in flight`,
    [
      'mode',
      'clients joined',
      'peers (health)',
      'joins',
      'instance CPU per join',
      'instance RSS idle → loaded',
      'RSS per connection',
      'JS heap per connection',
    ],
    rows,
  );
}

/** Redis killed and restarted under cross-instance traffic. */
export async function redisRestartBench(): Promise<void> {
  const redis = await startRedis();
  const limits = { maxConnectionsPerSource: 1_000, joinsPerSecondPerSource: 10_000 };
  const [a, b] = await Promise.all(
    [0, 1].map(() => instance({ limits, redis: redisOptions(redis, 'restart') })),
  );
  const received = new Set<number>();
  const sender = await client(a!.url, 'restart');
  const target = await client(b!.url, 'restart', (d) => received.add((d as { n: number }).n));
  await until(() => sender.peers.has(target.id), 5_000);
  let n = 0;
  // 40 a second: under the per-connection rate limit (50/s).
  const stream = setInterval(() => {
    sender.ws.send(JSON.stringify({ t: 'signal', to: target.id, data: { n: n++ } }));
  }, 25);
  await sleep(1_000);
  const beforeKill = n;
  await redis.kill();
  const killedAt = performance.now();
  // WebRTC nodes on either instance started while Redis is down: they must still link.
  const rtc = [await rtcNode(a!.url, 'restart-rtc'), await rtcNode(b!.url, 'restart-rtc')];
  await sleep(2_000);
  const refusedBefore = sender.errors.length;
  await redis.restart();
  const restartedAt = performance.now();
  const sentAtRestart = n;
  const up = await until(
    async () => (await Promise.all([a!, b!].map(health))).every((h) => h.degraded === false),
    30_000,
  );
  const upMs = performance.now() - restartedAt;
  await until(() => [...received].some((k) => k >= sentAtRestart), 30_000);
  const signalsMs = performance.now() - restartedAt;
  const newcomer = await client(b!.url, 'restart');
  await until(() => sender.peers.has(newcomer.id), 30_000);
  const joinMs = performance.now() - restartedAt;
  const [x, y] = rtc as [(typeof rtc)[0], (typeof rtc)[0]];
  const linked = await until(() => x.node.links().includes(y.node.nodeId), 60_000);
  const linkMs = performance.now() - restartedAt;
  await sleep(1_000);
  clearInterval(stream);
  await sleep(500);
  const total = n;
  const refused = sender.errors.filter((e) => e === 'peer-unreachable').length;
  const lost = total - received.size - refused;
  for (const r of rtc) r.close();
  for (const c of [sender, target, newcomer]) c.ws.terminate();
  for (const i of [a!, b!]) i.proc.kill('SIGKILL');
  await stopAllRedis();
  table(
    'Redis restart: 2 instances, one signal every 25 ms across them; Redis down for 2 s',
    ['figure', 'value'],
    [
      ['instances report up again after the restart', up ? `${fmt(upMs)} ms` : 'not within 30 s'],
      ['first cross-instance signal delivered after the restart', `${fmt(signalsMs)} ms`],
      ['a join on one instance listed on the other after', `${fmt(joinMs)} ms`],
      [
        'WebRTC pair started during the outage linked after',
        linked ? `${fmt(linkMs)} ms` : 'not within 60 s',
      ],
      [
        'signals sent (before the kill / during the outage)',
        `${fmt(total)} (${fmt(beforeKill)} / ${fmt(sentAtRestart - beforeKill)})`,
      ],
      [
        'refused with peer-unreachable (the sender is told)',
        `${fmt(refused)} (${fmt(refusedBefore)} before the restart)`,
      ],
      ['lost silently (sent, neither delivered nor refused)', fmt(lost)],
      [
        'outage seen by the instances after the kill',
        `${a!.log.concat(b!.log).filter((l) => /connection lost/.test(l)).length} log lines; down ${fmt(restartedAt - killedAt)} ms`,
      ],
    ],
  );
}
