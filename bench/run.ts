/**
 * npm run bench [name…]: runs benchmarks and prints their figures (never pass/fail).
 * Without names it runs the default set; `scale`, `load-5000` and `join-window-10000` are
 * long (tens of minutes) and run only when named (`load-5000` is `load` plus a preconverged cluster of 5,000), as does
 * `bundle` (browser bundle and tarball sizes of the built package: `npm run build` first).
 * `redis-relay` and `redis-restart` (signaling over Redis) start Debian's redis-server;
 * `redis-capacity` (10,000 clients on one instance, twice) runs only when named: it needs
 * `ulimit -n` ≥ 20,000.
 */
import { broadcastChannelBench } from './broadcast-channel.bench.ts';
import { broadcastTreeBench } from './broadcast-tree.bench.ts';
import { bundleBench } from './bundle.bench.ts';
import { chainBench, chainSimBench } from './chain.bench.ts';
import { chainBrowserBench } from './chain-browser.bench.ts';
import { chainWebRtcBench } from './chain-webrtc.bench.ts';
import { consensusBench } from './consensus.bench.ts';
import { consensusBrowserBench } from './consensus-browser.bench.ts';
import { consensusWebRtcBench } from './consensus-webrtc.bench.ts';
import { cryptoBench } from './crypto.bench.ts';
import { hashBench } from './hash.bench.ts';
import { joinWindowBench } from './join-window.bench.ts';
import { massJoinBench } from './mass-join.bench.ts';
import { accuracyBench, detectionBench, loadBench, scaleBench } from './membership.bench.ts';
import { reexecInLoopbackNamespace } from './netns.ts';
import { meshFormationBench, probeLatencyBench, signalingLoadBench } from './network.bench.ts';
import { redisCapacityBench, redisRelayBench, redisRestartBench } from './signaling-redis.bench.ts';
import { antiEntropyBench, propagationBench, ringBench } from './state.bench.ts';
import { wireBench } from './wire.bench.ts';
import { yWebrtcBench } from './y-webrtc.bench.ts';

const benches: Record<string, () => Promise<void>> = {
  crypto: cryptoBench,
  hash: hashBench,
  wire: wireBench,
  detection: detectionBench,
  accuracy: accuracyBench,
  load: () => loadBench([100, 1_000], [100, 1_000]),
  'load-5000': () => loadBench([100, 1_000], [100, 1_000, 5_000]),
  scale: scaleBench,
  signaling: signalingLoadBench,
  'probe-latency': probeLatencyBench,
  'mesh-formation': () => meshFormationBench(30),
  propagation: propagationBench,
  'anti-entropy': antiEntropyBench,
  ring: ringBench,
  bundle: bundleBench,
  consensus: consensusBench,
  'consensus-webrtc': consensusWebRtcBench,
  'consensus-browser': consensusBrowserBench,
  'redis-relay': redisRelayBench,
  'redis-capacity': redisCapacityBench,
  'redis-restart': redisRestartBench,
  chain: chainBench,
  'chain-sim': () => chainSimBench(),
  'chain-webrtc': chainWebRtcBench,
  'chain-browser': chainBrowserBench,
  'broadcast-channel': broadcastChannelBench,
  'broadcast-tree': broadcastTreeBench,
  'y-webrtc': yWebrtcBench,
  'mass-join': massJoinBench,
  'join-window': () => joinWindowBench([{ nodes: 1_000, windowS: 10, durationS: 20 }]),
  'join-window-10000': () =>
    joinWindowBench([{ nodes: 10_000, windowS: 30, durationS: 60, newcomersPerMinute: 30_000 }]),
};
const DEFAULT = [
  'crypto',
  'hash',
  'wire',
  'detection',
  'accuracy',
  'mass-join',
  'join-window',
  'load',
  'signaling',
  'probe-latency',
  'mesh-formation',
  'propagation',
  'anti-entropy',
  'ring',
  'consensus',
  'consensus-webrtc',
  'consensus-browser',
  'redis-relay',
  'redis-restart',
  'chain',
  'chain-sim',
  'chain-webrtc',
  'chain-browser',
  'broadcast-channel',
  'broadcast-tree',
  'y-webrtc',
];
/** These open real sockets: they run inside a loopback-only network namespace when possible. */
const NETWORK = new Set([
  'signaling',
  'probe-latency',
  'mesh-formation',
  'redis-relay',
  'redis-capacity',
  'redis-restart',
  'broadcast-channel',
  'chain-webrtc',
  'chain-browser',
  'y-webrtc',
  'consensus-webrtc',
  'consensus-browser',
]);

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in benches));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
const selected = wanted.length ? wanted : DEFAULT;
if (!(selected.some((n) => NETWORK.has(n)) && reexecInLoopbackNamespace())) {
  console.log(`weftmesh benchmarks: node ${process.version}, ${new Date().toISOString()}`);
  for (const name of selected) await benches[name]!();
}
