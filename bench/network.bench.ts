/**
 * Real-network figures (loopback): signaling relay latency and memory with 500 clients,
 * probe (datagram) latency during a bulk transfer over WebRTC, and how reliably 8 Node
 * nodes started at once form a full mesh.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Domain, NodeIdentity, signingInput } from '../lib/identity/mod.ts';
import { strictVerifier } from '../lib/identity/verifier.ts';
import { summarize } from '../lib/sim/stats-summary.ts';
import { realEnv } from '../lib/time/real.ts';
import type { Link } from '../lib/transport/types.ts';
import { createNodeWebRtc } from '../lib/webrtc/node.ts';
import { startSignalingServer } from '../signaling/node.ts';
import { fromBase64Url, joinTranscript, toBase64Url } from '../signaling/protocol.ts';
import { fullyConverged, rtcNode } from '../test/support/webrtc-node.ts';
import { fmt, table } from './harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;

function rssOf(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : 0;
}

/** A raw signaling client that joins `room` and timestamps the signals it receives. */
async function signalingClient(url: string, room: string, onSignal: (data: { at: number }) => void) {
  const identity = NodeIdentity.generate();
  const ws = new WebSocket(url);
  await new Promise<void>((ok, fail) => {
    ws.once('error', fail);
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString());
      if (msg.t === 'challenge') {
        const sig = identity.sign(
          signingInput(Domain.SignalJoin, joinTranscript(room, fromBase64Url(msg.nonce, 32)!)),
        );
        ws.send(
          JSON.stringify({ t: 'join', room, key: toBase64Url(identity.publicKey), sig: toBase64Url(sig) }),
        );
      } else if (msg.t === 'joined') ok();
      else if (msg.t === 'signal') onSignal(msg.data);
    });
  });
  return { id: identity.nodeId, ws };
}

export async function signalingLoadBench(): Promise<void> {
  // 500 clients from one loopback address: above the default per-address cap.
  const server = spawn(process.execPath, [CLI, 'signal', '--port', '0', '--max-per-ip', '1000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((ok) =>
    server.stdout!.on('data', (d: Buffer) => ok(/ws:\/\/\S+/.exec(d.toString())![0])),
  );
  const idleRss = rssOf(server.pid!);
  const latencies: number[] = [];
  const clients: Array<{ id: string; ws: WebSocket }> = [];
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) {
    clients.push(
      await signalingClient(url, `room-${i % 5}`, (d) => latencies.push(performance.now() - d.at)),
    );
  }
  const joinMs = performance.now() - t0;
  const loadedRss = rssOf(server.pid!);
  // 5,000 relays between random pairs of one room, 100 at a time.
  for (let burst = 0; burst < 50; burst++) {
    for (let k = 0; k < 100; k++) {
      const ai = Math.floor(Math.random() * clients.length);
      // Same room: indices congruent mod 5.
      let bi = (ai + 5 * (1 + Math.floor(Math.random() * 99))) % clients.length;
      if (bi === ai) bi = (ai + 5) % clients.length;
      const a = clients[ai]!;
      const b = clients[bi]!;
      a.ws.send(JSON.stringify({ t: 'signal', to: b.id, data: { at: performance.now() } }));
    }
    await sleep(20);
  }
  await sleep(500);
  const s = summarize(latencies)!;
  for (const c of clients) c.ws.terminate();
  server.kill('SIGTERM');
  table(
    'Signaling server: 500 concurrent clients (5 rooms of 100) on loopback, 5,000 relayed signals',
    ['figure', 'value'],
    [
      ['clients joined in', `${fmt(joinMs / 1000, 2)} s`],
      ['relayed / sent', `${latencies.length} / 5000`],
      ['relay latency p50', `${s.p50} ms`],
      ['relay latency p99', `${s.p99} ms`],
      ['relay latency max', `${s.max} ms`],
      ['server RSS idle → loaded', `${fmt(idleRss / 2 ** 20)} → ${fmt(loadedRss / 2 ** 20)} MiB`],
    ],
  );
}

/** Two authenticated WebRTC links between two transports, without a MeshNode. */
async function linkedPair(): Promise<[Link, Link, () => Promise<void>]> {
  const server = await startSignalingServer({ port: 0 });
  const env = realEnv();
  const ids = [NodeIdentity.generate(), NodeIdentity.generate()];
  const made = await Promise.all(
    ids.map((identity) => createNodeWebRtc({ signal: server.url, identity, cluster: 'bench' })),
  );
  const links: Link[] = [];
  made.forEach(({ transport }, i) => {
    transport.start(
      {
        identity: ids[i]!,
        cluster: 'bench',
        verifier: strictVerifier,
        scheduler: env.scheduler,
        random: env.random,
      },
      {
        link: (l) => {
          links.push(l);
        },
        dialFailed: () => {},
      },
    );
  });
  await sleep(300);
  made[0]!.transport.connect(`webrtc:${ids[1]!.nodeId}`);
  while (links.length < 2) await sleep(10);
  return [
    links.find((l) => l.initiator)!,
    links.find((l) => !l.initiator)!,
    async () => {
      for (const m of made) {
        m.transport.close();
        m.signaling.close();
      }
      await server.close();
    },
  ];
}

export async function probeLatencyBench(): Promise<void> {
  const [a, b, close] = await linkedPair();
  const rtts = { idle: [] as number[], bulkDatagram: [] as number[], bulkStream: [] as number[] };
  let phase: keyof typeof rtts = 'idle';
  const stamp = (kind: number) => {
    const f = new Uint8Array(9);
    f[0] = kind;
    new DataView(f.buffer).setFloat64(1, performance.now());
    return f;
  };
  b.setHandlers({
    datagram: (f) => b.sendDatagram(f),
    message: (f) => {
      if (f[0] === 1) b.send(f);
    },
    close() {},
  });
  a.setHandlers({
    datagram: (f) => rtts[phase].push(performance.now() - new DataView(f.buffer, f.byteOffset).getFloat64(1)),
    message: (f) => {
      if (f[0] === 1)
        rtts.bulkStream.push(performance.now() - new DataView(f.buffer, f.byteOffset).getFloat64(1));
    },
    close() {},
  });
  for (let i = 0; i < 100; i++) {
    a.sendDatagram(stamp(0));
    await sleep(10);
  }
  // Bulk: 64 MiB in 48 KiB messages as fast as back-pressure allows; probes keep flowing.
  phase = 'bulkDatagram';
  const chunk = new Uint8Array(48 * 1024).fill(2);
  const started = performance.now();
  let sent = 0;
  const probes = setInterval(() => {
    a.sendDatagram(stamp(0));
    a.send(stamp(1));
  }, 10);
  while (sent < 64 * 2 ** 20) {
    if (a.bufferedAmount > 256 * 1024) {
      await sleep(2);
      continue;
    }
    a.send(chunk);
    sent += chunk.length;
  }
  while (a.bufferedAmount > 0) await sleep(5);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(probes);
  await sleep(300);
  await close();
  const row = (name: string, v: number[]) => {
    const s = summarize(v);
    return [name, v.length, s ? s.p50 : 'n/a', s ? s.p99 : 'n/a', s ? s.max : 'n/a'];
  };
  table(
    `Probe latency during a bulk transfer over WebRTC (64 MiB at ${fmt((64 * 8) / seconds)} Mbit/s, sender keeps ≤ 256 KiB buffered)`,
    ['path', 'probes', 'p50 ms', 'p99 ms', 'max ms'],
    [
      row('datagram channel, idle link', rtts.idle),
      row('datagram channel, during bulk', rtts.bulkDatagram),
      row('reliable stream, during bulk (for comparison)', rtts.bulkStream),
    ],
  );
}

export async function meshFormationBench(runs = 30): Promise<void> {
  const server = await startSignalingServer({ port: 0 });
  const times: number[] = [];
  let failures = 0;
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    const batch = await Promise.all(Array.from({ length: 8 }, () => rtcNode(server.url, `bench-${r}`)));
    let ok = false;
    while (performance.now() - started < 30_000) {
      if (fullyConverged(batch) && batch.every((n) => n.node.links().length === 7)) {
        ok = true;
        break;
      }
      await sleep(20);
    }
    if (ok) times.push(performance.now() - started);
    else failures++;
    for (const n of batch) n.close();
    await sleep(200);
  }
  await server.close();
  const s = summarize(times);
  table(
    `Full mesh of 8 Node nodes started at once (${runs} runs, WebRTC on loopback)`,
    ['figure', 'value'],
    [
      ['success rate', `${runs - failures} / ${runs}`],
      ['time to full mesh + membership p50', s ? `${s.p50} ms` : 'n/a'],
      ['p99', s ? `${s.p99} ms` : 'n/a'],
      ['max', s ? `${s.max} ms` : 'n/a'],
    ],
  );
}
