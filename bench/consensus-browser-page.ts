// One Raft voter in a Chromium page, for bench/consensus-browser.bench.ts: a MeshNode over the
// browser's own WebRTC (loopback candidates only) through the bench's signaling server,
// running MeshConsensus; the bench drives it through window.rbench (and reads its data
// channels' send and message times from rbench.trace). Each voter's page has an
// origin of its own, so no two share a BroadcastChannel and every link is a data channel.
//   ?cluster=NAME  ?signal=URL (test/browser/signaled-node.ts)
import { MeshConsensus } from '../lib/consensus/mesh.ts';
import { NodeState } from '../lib/membership/node-state.ts';
import { messaging } from '../lib/mod.ts';
import { signaledNode } from '../test/browser/signaled-node.ts';
import {
  fanOut,
  type MeasureParams,
  measureAtLeader,
  PING,
  ping,
  proposeOneByOne,
} from './consensus-measure.ts';
import { traceDataChannels } from './data-channel-trace.ts';

const trace = traceDataChannels();
const node = await signaledNode({ messaging: messaging({ perOriginRate: 50_000 }) }, (n) =>
  n.respond(PING, (d) => d),
);

let raft: MeshConsensus | undefined;
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

(window as unknown as { rbench: unknown }).rbench = {
  nodeId: node.nodeId,
  async startRaft(voters: string[], tickMs: number): Promise<void> {
    const others = voters.filter((v) => v !== node.nodeId);
    while (!others.every((v) => node.member(v)?.state === NodeState.Active && node.links().includes(v)))
      await sleep(5);
    raft = new MeshConsensus({ messenger: node, env: node.env, voters, tickMs, timeoutMs: 10_000 });
    raft.start();
  },
  status: () => {
    const s = raft?.status();
    return s ? { role: s.role, term: s.term } : undefined;
  },
  measure: (c: MeasureParams) => measureAtLeader(node, raft!, c),
  forwarded: (count: number) => proposeOneByOne(raft!, count),
  trace,
  /**
   * `count` rounds of one kind, 2 ms apart, each from its start to its end (epoch ms): a ping
   * to one follower, a fan-out to all until a quorum answered, or a commit.
   */
  async rounds(kind: 'ping' | 'fan-out' | 'commit', count: number): Promise<Array<[number, number]>> {
    const followers = raft!.status().voters.filter((v) => v !== node.nodeId);
    const at = () => performance.timeOrigin + performance.now();
    const out: Array<[number, number]> = [];
    for (let i = 0; i < count; i++) {
      const start = at();
      if (kind === 'ping') await ping(node, followers[i % followers.length]!);
      else if (kind === 'fan-out') await fanOut(node, followers);
      else await raft!.propose({ op: 'put', key: `r${i % 10}`, value: `${i}` });
      out.push([start, at()]);
      await sleep(2);
    }
    return out;
  },
};
