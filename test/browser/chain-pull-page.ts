// A chain host or follower in a Chromium page, for bench/chain-browser.bench.ts and
// test/net/chain-pull-browser.test.ts: a MeshNode
// over the browser's own WebRTC (loopback candidates only) through the bench's signaling
// server with the chains() service; the bench drives it through window.cbench. Each page has
// an origin of its own, so the two share no BroadcastChannel. It also opens a plain data
// channel to the other page (SDP carried by the bench) to measure the link alone.
//   ?cluster=NAME  ?signal=URL (signaled-node.ts)  ?chains=JSON (ChainsOptions)  ?rate=N (messaging perOriginRate)
//   ?hwm=BYTES (the stream channel's high-water mark, and the plain channel's; else the defaults)
import { ChainLog } from '../../lib/chain/chain-log.ts';
import { NodeState } from '../../lib/membership/node-state.ts';
import { messaging, replicatedState } from '../../lib/mod.ts';
import { chains } from '../../lib/node/chain-service.ts';
import { fromHex, toHex } from '../../lib/util/bytes.ts';
import { params, signaledNode } from './signaled-node.ts';

// Every peer connection of the page (each makes its data channels), for their stats.
const connections = new Set<RTCPeerConnection>();
const createDataChannel = RTCPeerConnection.prototype.createDataChannel;
RTCPeerConnection.prototype.createDataChannel = function (this: RTCPeerConnection, ...args) {
  connections.add(this);
  return createDataChannel.apply(this, args);
} as typeof createDataChannel;

const rate = Number(params.get('rate') ?? 0);
const hwm = Number(params.get('hwm') ?? 0);
const node = await signaledNode({
  messaging: messaging(rate ? { perOriginRate: rate } : {}),
  state: replicatedState(),
  chains: chains({ pullIntervalMs: 100, ...JSON.parse(params.get('chains') ?? '{}') }),
});
const identity = node.identity;

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
/** Stop handing messages to the raw channel above this many buffered bytes (?hwm, else 256 KiB). */
const HIGH_WATER = hwm || 256 * 1024;
let raw: { pc: RTCPeerConnection; channel: Promise<RTCDataChannel> } | undefined;
let follower: ChainLog | undefined;
const progress = { firstAt: 0, doneAt: 0 };
/** Pull errors, distinct (shown when a run fails). */
const errors = new Set<string>();
node.chains.on('sync-error', (e) => errors.add(String(e.error)));

/** Resolves with the local description once ICE gathering is done (every candidate in it). */
async function described(pc: RTCPeerConnection, d: RTCSessionDescriptionInit): Promise<string> {
  const gathered = new Promise<void>((ok) => {
    pc.onicecandidate = (e) => {
      if (!e.candidate) ok();
    };
  });
  await pc.setLocalDescription(d);
  await gathered;
  return pc.localDescription!.sdp;
}

const opened = (ch: RTCDataChannel) => {
  ch.binaryType = 'arraybuffer';
  return ch.readyState === 'open'
    ? Promise.resolve(ch)
    : new Promise<RTCDataChannel>((ok) => ch.addEventListener('open', () => ok(ch)));
};

(window as unknown as { cbench: unknown }).cbench = {
  nodeId: node.nodeId,
  linked: (other: string) => node.links().includes(other) && node.member(other)?.state === NodeState.Active,
  /** Builds a chain of `entries` distinct payloads (batches of 1,000, a signed head each) and hosts it. */
  async host(entries: number, payload: number): Promise<{ chainId: string; author: string }> {
    const log = await ChainLog.open({ identity, name: `b-${entries}x${payload}`, create: true });
    const batch = Math.min(1_000, entries);
    for (let i = 0; i < entries; i += batch)
      await log.appendBatch(
        Array.from({ length: batch }, (_, j) => new Uint8Array(payload).fill((i + j) & 0xff)),
      );
    node.chains.host(log);
    return { chainId: log.chainId, author: toHex(identity.publicKey) };
  },
  /** Follows a chain; `progress()` then says when its first entry and its `entries`th arrived. */
  async follow(chainId: string, author: string, entries: number): Promise<void> {
    follower = await node.chains.follow(chainId, fromHex(author));
    void (async () => {
      while (follower.length < entries) {
        if (progress.firstAt === 0 && follower.length > 0) progress.firstAt = performance.now();
        await sleep(1);
      }
      progress.doneAt = performance.now();
    })();
  },
  /** Packets Chromium discarded on send, over every peer connection of the page so far. */
  async discarded(): Promise<number> {
    let n = 0;
    for (const pc of connections)
      (await pc.getStats()).forEach((s: { type: string; packetsDiscardedOnSend?: number }) => {
        if (s.type === 'candidate-pair') n += s.packetsDiscardedOnSend ?? 0;
      });
    return n;
  },
  progress: () => ({ ...progress, length: follower?.length ?? 0, errors: [...errors] }),
  /** Answers `stream-SIZE` requests with as many parts as asked, each `size` bytes (messaging alone). */
  respondParts(size: number): void {
    const part = new Uint8Array(size);
    node.respondStream(`stream-${size}`, function* (_data, _from, parts) {
      for (let i = 0; i < parts; i++) yield part;
    });
  },
  /** Asks `other` for `n` parts of `size` bytes, 4 streamed requests of 16 in flight: ms taken. */
  async askParts(other: string, size: number, n: number): Promise<number> {
    let asked = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (asked < n) {
          asked += 16;
          for await (const _ of node.requestStream(other, `stream-${size}`, new Uint8Array(100))) {
            // each part read as it comes
          }
        }
      }),
    );
    return performance.now() - started;
  },
  async rawOffer(): Promise<string> {
    const pc = new RTCPeerConnection({ iceServers: [] });
    raw = { pc, channel: opened(pc.createDataChannel('raw')) };
    return described(pc, await pc.createOffer());
  },
  async rawAnswer(offer: string): Promise<string> {
    const pc = new RTCPeerConnection({ iceServers: [] });
    raw = { pc, channel: new Promise((ok) => (pc.ondatachannel = (e) => ok(opened(e.channel)))) };
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    return described(pc, await pc.createAnswer());
  },
  rawFinish: (answer: string) => raw!.pc.setRemoteDescription({ type: 'answer', sdp: answer }),
  /** Sends `count` messages of `size` bytes, keeping at most HIGH_WATER bytes buffered. */
  async rawStream(size: number, count: number): Promise<void> {
    const ch = await raw!.channel;
    ch.bufferedAmountLowThreshold = HIGH_WATER / 2;
    const msg = new Uint8Array(size);
    for (let sent = 0; sent < count; sent++) {
      if (ch.bufferedAmount > HIGH_WATER)
        await new Promise((ok) => ch.addEventListener('bufferedamountlow', ok, { once: true }));
      ch.send(msg);
    }
  },
  /** Resolves when `count` messages arrived: ms from the first to the last, and the bytes. */
  async rawReceive(count: number): Promise<{ ms: number; bytes: number }> {
    const ch = await raw!.channel;
    let n = 0;
    let bytes = 0;
    let firstAt = 0;
    return new Promise((ok) => {
      ch.onmessage = (e: MessageEvent<ArrayBuffer>) => {
        if (n++ === 0) firstAt = performance.now();
        bytes += e.data.byteLength;
        if (n === count) {
          ch.onmessage = null;
          ok({ ms: performance.now() - firstAt, bytes });
        }
      };
    });
  },
};
