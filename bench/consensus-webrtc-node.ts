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
import { type MeasureParams, measureAtLeader, PING, proposeOneByOne } from './consensus-measure.ts';

type Cmd =
  | { cmd: 'start'; signal: string; cluster: string }
  | { cmd: 'raft'; voters: string[]; tickMs: number }
  | ({ cmd: 'measure' } & MeasureParams)
  | { cmd: 'forwarded'; proposals: number }
  | { cmd: 'propose-one' }
  /** Poll for leadership every ms from now on (while a failover is timed). */
  | { cmd: 'watch' };

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
        send({ ev: 'measured', ...(await measureAtLeader(node!.node, raft!, m)) });
        return;
      case 'forwarded':
        send({ ev: 'forwarded', times: await proposeOneByOne(raft!, m.proposals) });
        return;
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
