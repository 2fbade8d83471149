/**
 * The serving side of bench/chain-webrtc.bench.ts, in its own process: a MeshNode over real
 * WebRTC (loopback candidates only) that hosts a chain (or answers plain requests, or streams
 * over a plain data channel: the link's ceiling), driven by the parent over IPC. Its own process, so that the server's work
 * (reading, encoding, sending) and the follower's (verifying, appending) each have a core,
 * as between two machines, instead of sharing one JavaScript thread.
 */
import { ChainLog } from '../lib/chain/chain-log.ts';
import { NodeIdentity } from '../lib/identity/node-identity.ts';
import { type ChainsOptions, chains } from '../lib/node/chain-service.ts';
import { messaging } from '../lib/node/mod.ts';
import { toHex } from '../lib/util/bytes.ts';
import { type RtcNode, rtcNode } from '../test/support/webrtc-node.ts';
import { type RawSender, rawOffer } from './chain-webrtc-link.ts';

export type HostCmd =
  | { cmd: 'node'; signal: string; cluster: string; chains: ChainsOptions; perOriginRate?: number }
  | { cmd: 'host'; entries: number; payload: number }
  | { cmd: 'respond'; size: number }
  | { cmd: 'raw-offer' }
  | { cmd: 'raw-answer'; sdp: string }
  | { cmd: 'raw-send'; size: number; count: number }
  | { cmd: 'raw-close' }
  | { cmd: 'cpu' };

const send = (m: unknown) => process.send!(m);
const author = NodeIdentity.generate();
const logs = new Map<string, ChainLog>();
let node: RtcNode | undefined;
let rawPending: Awaited<ReturnType<typeof rawOffer>> | undefined;
let raw: RawSender | undefined;

/** Entries with distinct payloads, appended in batches of 1,000 (one signed tree head each). */
async function chainOf(entries: number, payload: number): Promise<ChainLog> {
  const key = `${entries}x${payload}`;
  const held = logs.get(key);
  if (held) return held;
  const log = await ChainLog.open({ identity: author, name: `rtc-${key}`, create: true });
  const batch = Math.min(1_000, entries);
  for (let i = 0; i < entries; i += batch)
    await log.appendBatch(
      Array.from({ length: batch }, (_, j) => new Uint8Array(payload).fill((i + j) & 0xff)),
    );
  logs.set(key, log);
  return log;
}

async function handle(m: HostCmd): Promise<void> {
  switch (m.cmd) {
    case 'node': {
      node?.close();
      node = await rtcNode(m.signal, m.cluster, {
        chains: chains(m.chains),
        messaging: messaging(m.perOriginRate ? { perOriginRate: m.perOriginRate } : {}),
      });
      send({ ev: 'ready', nodeId: node.node.nodeId });
      return;
    }
    case 'host': {
      const log = await chainOf(m.entries, m.payload);
      node!.node.chains.host(log);
      send({ ev: 'hosted', chainId: log.chainId, author: toHex(author.publicKey) });
      return;
    }
    case 'respond': {
      const answer = new Uint8Array(m.size);
      node!.node.respond(`ceiling-${m.size}`, () => answer);
      // The same answers streamed: as many parts as asked, each `size` bytes.
      node!.node.respondStream(`stream-${m.size}`, function* (_data, _from, parts) {
        for (let i = 0; i < parts; i++) yield answer;
      });
      send({ ev: 'responding' });
      return;
    }
    case 'raw-offer':
      rawPending = await rawOffer();
      send({ ev: 'raw-offer', sdp: rawPending.sdp });
      return;
    case 'raw-answer':
      raw = await rawPending!.finish(m.sdp);
      send({ ev: 'raw-open' });
      return;
    case 'raw-send':
      await raw!.stream(m.size, m.count);
      send({ ev: 'raw-sent' });
      return;
    case 'raw-close':
      raw?.close();
      raw = undefined;
      send({ ev: 'raw-closed' });
      return;
    case 'cpu':
      send({ ev: 'cpu', usage: process.cpuUsage() });
      return;
  }
}

process.on('message', (m: HostCmd) => {
  handle(m).catch((e) => send({ ev: 'error', message: String(e?.stack ?? e) }));
});
process.on('disconnect', () => process.exit(0));
