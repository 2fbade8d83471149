/**
 * One Raft voter in its own process, for bench/consensus-webrtc.bench.ts: a MeshNode over
 * real WebRTC (loopback candidates only) running MeshConsensus, driven by the parent over
 * IPC. Times it reports are epoch ms (performance.timeOrigin + now), comparable across the
 * processes of one machine.
 */
import { MeshConsensus } from '../lib/consensus/mesh.ts';
import { NodeState } from '../lib/membership/node-state.ts';
import { messaging } from '../lib/node/mod.ts';
import { rtcNode } from '../test/support/webrtc-node.ts';

type Cmd =
  | { cmd: 'start'; signal: string; cluster: string }
  | { cmd: 'raft'; voters: string[]; tickMs: number }
  | { cmd: 'measure'; pings: number; proposals: number; inflight: number; seconds: number }
  | { cmd: 'forwarded'; proposals: number }
  | { cmd: 'propose-one' }
  /** Poll for leadership every ms from now on (while a failover is timed). */
  | { cmd: 'watch' };

const PING = 'bench/ping';
const BLOCK = 10;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const send = (m: unknown) => process.send!(m);

let node: Awaited<ReturnType<typeof rtcNode>> | undefined;
let raft: MeshConsensus | undefined;

async function startRaft(voters: string[], tickMs: number): Promise<void> {
  const n = node!.node;
  const others = voters.filter((v) => v !== n.nodeId);
  while (!others.every((v) => n.member(v)?.state === NodeState.Active && n.links().includes(v)))
    await sleep(5);
  raft = new MeshConsensus({ messenger: n, env: n.env, voters, tickMs, timeoutMs: 10_000 });
  raft.start();
  send({ ev: 'raft-started' });
  watch(20);
}

let watcher: ReturnType<typeof setInterval> | undefined;
let leaderTerm = -1;
/** Reports each term in which this node became leader, polling every `everyMs`. */
function watch(everyMs: number): void {
  if (watcher) clearInterval(watcher);
  watcher = setInterval(() => {
    const s = raft!.status();
    if (s.role === 'Leader' && s.term !== leaderTerm) {
      leaderTerm = s.term;
      send({ ev: 'leader', term: leaderTerm, at: now() });
    }
  }, everyMs);
}

async function measure(c: Extract<Cmd, { cmd: 'measure' }>): Promise<void> {
  const n = node!.node;
  const r = raft!;
  const followers = r.status().voters.filter((v) => v !== n.nodeId);
  // Pings, fan-outs and commits are taken in alternating blocks of ten, so that all three
  // see the same load (this machine's load moves within seconds) and commits still follow
  // each other as a stream of proposals does.
  const rtt: number[] = [];
  const fanOut: number[] = [];
  const commit: number[] = [];
  const quorum = Math.floor((followers.length + 1) / 2);
  for (let block = 0; block * BLOCK < Math.max(c.pings, c.proposals); block++) {
    for (let i = 0; i < BLOCK && rtt.length < c.pings; i++) {
      const t = performance.now();
      await n.request(followers[rtt.length % followers.length]!, PING, new Uint8Array(8));
      rtt.push(performance.now() - t);
    }
    // The floor a commit has here: a ping to every follower at once, until a quorum with
    // the leader answered (the first reply at 3 voters, the second at 5); the next one
    // leaves then, as the next proposal does, while the slower replies are still coming.
    const tail: Promise<unknown>[] = [];
    for (let i = 0; i < BLOCK && fanOut.length < c.pings; i++) {
      const t = performance.now();
      const replies = followers.map((f) => n.request(f, PING, new Uint8Array(8)));
      tail.push(...replies);
      let answered = 0;
      await new Promise<void>((resolve, reject) => {
        for (const reply of replies)
          reply.then(() => {
            if (++answered === quorum) resolve();
          }, reject);
      });
      fanOut.push(performance.now() - t);
    }
    await Promise.all(tail);
    for (let i = 0; i < BLOCK && commit.length < c.proposals; i++) {
      const t = performance.now();
      await r.propose({ op: 'put', key: `k${i}`, value: `v${block}.${i}` });
      commit.push(performance.now() - t);
    }
  }
  let done = 0;
  let stop = false;
  const started = performance.now();
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      await r.propose({ op: 'put', key: `t${w}`, value: `${w}.${i}` });
      done++;
    }
  };
  const workers = Array.from({ length: c.inflight }, (_, w) => worker(w));
  await sleep(c.seconds * 1000);
  stop = true;
  const perSec = (done * 1000) / (performance.now() - started);
  await Promise.all(workers);
  send({ ev: 'measured', rtt, fanOut, commit, perSec });
}

process.on('message', (m: Cmd) => {
  void (async () => {
    switch (m.cmd) {
      case 'start':
        node = await rtcNode(m.signal, m.cluster, { messaging: messaging({ perOriginRate: 50_000 }) });
        node.node.respond(PING, (d) => d);
        send({ ev: 'ready', nodeId: node.node.nodeId });
        return;
      case 'raft':
        await startRaft(m.voters, m.tickMs);
        return;
      case 'measure':
        await measure(m);
        return;
      case 'forwarded': {
        const times: number[] = [];
        for (let i = 0; i < m.proposals; i++) {
          const t = performance.now();
          await raft!.propose({ op: 'put', key: `f${i % 10}`, value: `w${i}` });
          times.push(performance.now() - t);
        }
        send({ ev: 'forwarded', times });
        return;
      }
      case 'watch':
        watch(1);
        return;
      case 'propose-one':
        await raft!.propose({ op: 'put', key: 'after', value: 'failover' });
        send({ ev: 'proposed', at: now() });
        return;
    }
  })().catch((e) => send({ ev: 'error', message: String(e?.stack ?? e) }));
});
process.on('disconnect', () => process.exit(0));
