/**
 * What a Raft commit costs next to the link it runs on, measured at the leader the same way
 * in a Node process (bench/consensus-webrtc-node.ts) and in a Chromium page
 * (bench/consensus-browser-page.ts): peer RTT (a messaging request/response), the fan-out
 * floor (a ping to every follower at once until a quorum answered) and commits one at a
 * time, then proposals per second with many in flight. Browser-safe: no Node imports.
 */
import type { MeshConsensus } from '../lib/consensus/mesh.ts';
import type { MeshNode } from '../lib/node/mesh-node.ts';

export const PING = 'bench/ping';
const BLOCK = 10;

export interface MeasureParams {
  pings: number;
  proposals: number;
  inflight: number;
  seconds: number;
}

export interface Measured {
  rtt: number[];
  fanOut: number[];
  commit: number[];
  perSec: number;
}

/** One request/response to `to` on the bench's echo topic. */
export function ping(n: MeshNode, to: string): Promise<unknown> {
  return n.request(to, PING, new Uint8Array(8));
}

/**
 * The floor a commit has: a ping to every follower at once, until a quorum with the leader
 * answered (the first reply at 3 voters, the second at 5). Resolves then, with every reply
 * (for a caller that waits for the slower ones later).
 */
export async function fanOut(n: MeshNode, followers: readonly string[]): Promise<Promise<unknown>[]> {
  const quorum = Math.floor((followers.length + 1) / 2);
  const replies = followers.map((f) => ping(n, f));
  let answered = 0;
  await new Promise<void>((resolve, reject) => {
    for (const reply of replies)
      reply.then(() => {
        if (++answered === quorum) resolve();
      }, reject);
  });
  return replies;
}

export async function measureAtLeader(n: MeshNode, r: MeshConsensus, c: MeasureParams): Promise<Measured> {
  const followers = r.status().voters.filter((v) => v !== n.nodeId);
  // Pings, fan-outs and commits are taken in alternating blocks of ten, so that all three
  // see the same load (this machine's load moves within seconds) and commits still follow
  // each other as a stream of proposals does.
  const rtt: number[] = [];
  const fanOuts: number[] = [];
  const commit: number[] = [];
  for (let block = 0; block * BLOCK < Math.max(c.pings, c.proposals); block++) {
    for (let i = 0; i < BLOCK && rtt.length < c.pings; i++) {
      const t = performance.now();
      await ping(n, followers[rtt.length % followers.length]!);
      rtt.push(performance.now() - t);
    }
    // The next fan-out leaves once a quorum answered, as the next proposal does, while the
    // slower replies are still coming.
    const tail: Promise<unknown>[] = [];
    for (let i = 0; i < BLOCK && fanOuts.length < c.pings; i++) {
      const t = performance.now();
      tail.push(...(await fanOut(n, followers)));
      fanOuts.push(performance.now() - t);
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
  await new Promise((ok) => setTimeout(ok, c.seconds * 1000));
  stop = true;
  const perSec = (done * 1000) / (performance.now() - started);
  await Promise.all(workers);
  return { rtt, fanOut: fanOuts, commit, perSec };
}

/** `count` proposals one at a time from wherever `r` runs (a follower forwards them). */
export async function proposeOneByOne(r: MeshConsensus, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await r.propose({ op: 'put', key: `f${i % 10}`, value: `w${i}` });
    times.push(performance.now() - t);
  }
  return times;
}
