/**
 * The raw link under bench/chain-webrtc.bench.ts: one plain @roamhq/wrtc data channel
 * (ordered, reliable, as weftmesh's) between the same two processes, with no weftmesh code on
 * it. The serving process streams messages of one size as fast as the channel's buffer lets
 * it; the other counts them. What that carries is the ceiling a chain pull over that stack
 * can approach.
 */
import { createRequire } from 'node:module';

interface Channel {
  readonly bufferedAmount: number;
  readyState: string;
  binaryType: string;
  send(data: Uint8Array): void;
  onmessage: ((e: { data: ArrayBuffer }) => void) | null;
  onopen: (() => void) | null;
  close(): void;
}

interface Pc {
  createDataChannel(label: string): Channel;
  createOffer(): Promise<{ type: string; sdp: string }>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  readonly localDescription: { type: string; sdp: string };
  onicecandidate: ((e: { candidate: unknown }) => void) | null;
  ondatachannel: ((e: { channel: Channel }) => void) | null;
  close(): void;
}

const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as { RTCPeerConnection: new (c: object) => Pc };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Stop handing messages to the channel above this many buffered bytes (weftmesh's own high-water mark). */
const HIGH_WATER = 256 * 1024;

/** Resolves once ICE gathering is done (non-trickle: the description then holds every candidate). */
function gathered(pc: Pc): Promise<void> {
  return new Promise((resolve) => {
    pc.onicecandidate = (e) => {
      if (!e.candidate) resolve();
    };
  });
}

function opened(ch: Channel): Promise<Channel> {
  ch.binaryType = 'arraybuffer';
  return ch.readyState === 'open'
    ? Promise.resolve(ch)
    : new Promise((resolve) => {
        ch.onopen = () => resolve(ch);
      });
}

/** The offering side (the serving process): its offer, and a way to finish with the answer. */
export async function rawOffer(): Promise<{ sdp: string; finish(answer: string): Promise<RawSender> }> {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  const ch = pc.createDataChannel('raw');
  const done = gathered(pc);
  await pc.setLocalDescription(await pc.createOffer());
  await done;
  return {
    sdp: pc.localDescription.sdp,
    async finish(answer) {
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      return new RawSender(pc, await opened(ch));
    },
  };
}

export class RawSender {
  constructor(
    private readonly pc: Pc,
    private readonly ch: Channel,
  ) {}

  /** Sends `count` messages of `size` bytes, keeping at most HIGH_WATER bytes buffered. */
  async stream(size: number, count: number): Promise<void> {
    const msg = new Uint8Array(size);
    let sent = 0;
    while (sent < count) {
      // bufferedAmount is a blocking call into the native stack: read once per 16 sends.
      if (this.ch.bufferedAmount > HIGH_WATER) {
        await sleep(1);
        continue;
      }
      for (let i = 0; i < 16 && sent < count; i++, sent++) this.ch.send(msg);
    }
  }

  close(): void {
    this.ch.close();
    this.pc.close();
  }
}

/** The answering side (the follower's process): connects and counts what arrives. */
export async function rawAnswer(
  offer: string,
  send: (answer: string) => Promise<void>,
): Promise<RawReceiver> {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  const channel = new Promise<Channel>((resolve) => {
    pc.ondatachannel = (e) => resolve(opened(e.channel));
  });
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  const done = gathered(pc);
  await pc.setLocalDescription(await pc.createAnswer());
  await done;
  await send(pc.localDescription.sdp);
  return new RawReceiver(pc, await channel);
}

export class RawReceiver {
  constructor(
    private readonly pc: Pc,
    private readonly ch: Channel,
  ) {}

  /** Resolves when `count` messages have arrived: the ms from the first to the last, and the bytes. */
  receive(count: number): Promise<{ ms: number; bytes: number; firstAt: number }> {
    let n = 0;
    let bytes = 0;
    let firstAt = 0;
    return new Promise((resolve) => {
      this.ch.onmessage = (e) => {
        if (n === 0) firstAt = performance.now();
        n++;
        bytes += e.data.byteLength;
        if (n === count) {
          this.ch.onmessage = null;
          resolve({ ms: performance.now() - firstAt, bytes, firstAt });
        }
      };
    });
  }

  close(): void {
    this.ch.close();
    this.pc.close();
  }
}
