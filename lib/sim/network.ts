/**
 * The simulated network: virtual time, per-packet latency, datagram loss / duplication /
 * reordering, bandwidth, partitions, host crashes and restarts, traffic counters.
 * Everything random comes from one seed, so a run is reproduced exactly by its seed.
 */
import { SeededRandom } from '../time/random.ts';
import { VirtualScheduler } from '../time/virtual.ts';
import { TransportError } from '../transport/errors.ts';
import type { ConnectOptions, DeliveryClass } from '../transport/types.ts';
import { SimChannelEnd } from './channel.ts';
import { SimError } from './errors.ts';
import { SimHost, type SimHostOptions } from './host.ts';
import { addTraffic, emptyTraffic, type HostTraffic } from './stats.ts';
import type { SimTransport } from './transport.ts';

/** One-way delay of a packet from one host to another, ms. */
export type LatencyModel = (from: SimHost, to: SimHost, random: SeededRandom) => number;

export interface SimNetworkOptions {
  seed: number | string;
  /** Mean one-way latency in ms with uniform jitter (±jitterMs), or a custom model. Default 10 ± 5. */
  latency?: { meanMs: number; jitterMs?: number } | LatencyModel;
  /** Probability a datagram is lost (0..1). Default 0. */
  loss?: number;
  /** Probability a datagram is delivered twice (0..1). Default 0. */
  duplicate?: number;
  /** Datagrams held back beyond the latency jitter (reordering). Default none. */
  reorder?: Reorder;
  /** Uplink bandwidth of every host, bytes/s. Default unlimited. */
  bandwidthBytesPerSec?: number;
  /** A connection whose ends cannot reach each other dies after this long (ICE "failed"). Default 15,000. */
  linkTimeoutMs?: number;
  /** A dial to an unreachable host fails after this long. Default 10,000. */
  connectTimeoutMs?: number;
  /** Wall-clock time at virtual time 0. */
  epochMs?: number;
  /**
   * 'handshake' (default) runs the real signed handshake on every link. 'trusted' lets the
   * simulator vouch for both ends instead (same delay, no signatures; the same peer and run id
   * a handshake states): for runs with tens of thousands of links, where handshake crypto
   * would dominate. Claims stay signed either way.
   */
  linkAuth?: 'handshake' | 'trusted';
}

/** With `probability`, a datagram (each copy) arrives up to `maxDelayMs` later than its latency. */
export interface Reorder {
  probability: number;
  maxDelayMs: number;
}

function latencyModel(opt: SimNetworkOptions['latency']): LatencyModel {
  if (typeof opt === 'function') return opt;
  const mean = opt?.meanMs ?? 10;
  const jitter = opt?.jitterMs ?? mean / 2;
  return (_from, _to, random) => Math.max(0, mean - jitter + random.next() * 2 * jitter);
}

export class SimNetwork {
  readonly scheduler = new VirtualScheduler();
  readonly random: SeededRandom;
  readonly epochMs: number;
  readonly #hosts = new Map<string, SimHost>();
  readonly #pairs = new Set<SimChannelEnd>();
  readonly #latency: LatencyModel;
  #loss: number;
  #duplicate: number;
  #reorder: Reorder;
  readonly #bandwidth: number;
  readonly #linkTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #linkAuth: 'handshake' | 'trusted';
  #groups: Map<SimHost, number> | undefined;

  constructor(opts: SimNetworkOptions) {
    this.random = new SeededRandom(opts.seed);
    this.epochMs = opts.epochMs ?? 1_700_000_000_000;
    this.#latency = latencyModel(opts.latency);
    this.#loss = opts.loss ?? 0;
    this.#duplicate = opts.duplicate ?? 0;
    this.#reorder = opts.reorder ?? { probability: 0, maxDelayMs: 0 };
    this.#bandwidth = opts.bandwidthBytesPerSec ?? Number.POSITIVE_INFINITY;
    this.#linkTimeoutMs = opts.linkTimeoutMs ?? 15_000;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.#linkAuth = opts.linkAuth ?? 'handshake';
  }

  get now(): number {
    return this.scheduler.now;
  }

  /** Changes datagram loss / duplication / reordering from now on. */
  setFaults(faults: { loss?: number; duplicate?: number; reorder?: Reorder }): void {
    if (faults.loss !== undefined) this.#loss = faults.loss;
    if (faults.duplicate !== undefined) this.#duplicate = faults.duplicate;
    if (faults.reorder !== undefined) this.#reorder = faults.reorder;
  }

  addHost(opts: SimHostOptions = {}): SimHost {
    const address = opts.address ?? `h${this.#hosts.size}`;
    if (this.#hosts.has(address)) throw new SimError('duplicate-host', `host ${address} already exists`);
    const host = new SimHost(this, address, this.random.fork(), opts.clockOffsetMs ?? 0);
    this.#hosts.set(address, host);
    return host;
  }

  host(address: string): SimHost | undefined {
    return this.#hosts.get(address);
  }

  hosts(): SimHost[] {
    return [...this.#hosts.values()];
  }

  /** Splits the network: hosts in different groups cannot exchange anything. Unlisted hosts form one more group. */
  partition(groups: SimHost[][]): void {
    this.#groups = new Map();
    groups.forEach((g, i) => {
      for (const h of g) this.#groups!.set(h, i);
    });
    this.#recheck();
  }

  heal(): void {
    this.#groups = undefined;
    this.#recheck();
  }

  canReach(a: SimHost, b: SimHost): boolean {
    return a.up && b.up && this.#sameSide(a, b);
  }

  /** Not separated by a partition (whether up or not). */
  #sameSide(a: SimHost, b: SimHost): boolean {
    if (!this.#groups) return true;
    return (this.#groups.get(a) ?? -1) === (this.#groups.get(b) ?? -1);
  }

  runFor(ms: number): void {
    this.scheduler.runFor(ms);
  }

  runUntil(time: number): void {
    this.scheduler.runUntil(time);
  }

  /** Sum of every host's counters. */
  totalTraffic(): HostTraffic {
    const total = emptyTraffic();
    for (const h of this.#hosts.values()) addTraffic(total, h.traffic);
    return total;
  }

  /** Open connections (both ends not yet closed). */
  get connections(): number {
    return this.#pairs.size;
  }

  // ---- used by SimTransport / SimChannelEnd / SimHost ----

  dial(from: SimTransport, address: string, opts: ConnectOptions): void {
    const target = this.#hosts.get(address);
    const started = this.now;
    const there = target ? this.#latency(from.host, target, this.random) : 0;
    this.scheduler.setTimer(there, () => {
      if (!from.active) return;
      if (!target || !this.canReach(from.host, target)) {
        // Silence: the dialer finds out only when its connect timeout expires.
        const wait = Math.max(0, started + this.#connectTimeoutMs - this.now);
        this.scheduler.setTimer(wait, () =>
          from.dialed(address, opts, new TransportError('timeout', `connect to ${address} timed out`)),
        );
        return;
      }
      const listener = target.listener;
      const back = this.#latency(target, from.host, this.random);
      if (!listener?.active) {
        this.scheduler.setTimer(back, () =>
          from.dialed(
            address,
            opts,
            new TransportError('connect-failed', `connection to ${address} refused`),
          ),
        );
        return;
      }
      const a = new SimChannelEnd(this, from.host);
      const b = new SimChannelEnd(this, target);
      a.peer = b;
      b.peer = a;
      this.#pairs.add(a);
      if (this.#linkAuth === 'trusted') {
        // As long as the handshake would take: hello, hello-auth, auth (acceptor up), ready.
        const rtt = there + back;
        listener.adopt(b, from.peerInfo, rtt + there);
        const peer = listener.peerInfo;
        this.scheduler.setTimer(back, () => from.dialed(address, opts, a, { peer, delay: 2 * rtt }));
        return;
      }
      listener.accept(b);
      this.scheduler.setTimer(back, () => from.dialed(address, opts, a));
    });
  }

  transmit(end: SimChannelEnd, cls: DeliveryClass, frame: Uint8Array): void {
    const src = end.host;
    src.traffic.bytesOut += frame.length;
    if (cls === 'datagram') src.traffic.datagramsOut++;
    else src.traffic.streamFramesOut++;
    const reachable = end.peer.alive && this.canReach(src, end.peer.host);
    if (cls === 'stream' && (!reachable || end.stalled.length > 0)) {
      end.stalled.push(frame);
      return;
    }
    if (!reachable) {
      src.traffic.datagramsDropped++;
      return;
    }
    this.#launch(end, cls, frame);
  }

  /** Puts a frame on the wire: loss and duplication (datagrams), bandwidth, latency, FIFO (stream). */
  #launch(end: SimChannelEnd, cls: DeliveryClass, frame: Uint8Array): void {
    const src = end.host;
    const dst = end.peer;
    if (cls === 'datagram' && this.#loss > 0 && this.random.next() < this.#loss) {
      src.traffic.datagramsDropped++;
      return;
    }
    const sendAt = Math.max(this.now, src.uplinkFreeAt);
    const tx = Number.isFinite(this.#bandwidth) ? (frame.length / this.#bandwidth) * 1000 : 0;
    src.uplinkFreeAt = sendAt + tx;
    const copies = cls === 'datagram' && this.#duplicate > 0 && this.random.next() < this.#duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let arrival = sendAt + tx + this.#latency(src, dst.host, this.random);
      const r = this.#reorder;
      if (cls === 'datagram' && r.probability > 0 && this.random.next() < r.probability)
        arrival += this.random.next() * r.maxDelayMs;
      if (cls === 'stream') {
        arrival = Math.max(arrival, end.lastArrival);
        end.lastArrival = arrival;
      }
      this.scheduler.setTimer(dst.host.handlingDelay(arrival - this.now), () => {
        if (!dst.alive) return;
        dst.host.traffic.bytesIn += frame.length;
        if (cls === 'datagram') dst.host.traffic.datagramsIn++;
        else dst.host.traffic.streamFramesIn++;
        dst.deliver(cls, frame);
      });
    }
  }

  /**
   * Breaks every connection between two hosts, as a failed ICE session or a reset TCP
   * connection would: both ends close at once, neither said goodbye. Returns how many broke.
   */
  resetConnections(a: SimHost, b: SimHost): number {
    let broken = 0;
    for (const x of [...this.#pairs]) {
      const y = x.peer;
      if (!((x.host === a && y.host === b) || (x.host === b && y.host === a))) continue;
      if (x.closed && y.closed) continue;
      x.terminate('connection reset');
      y.terminate('connection reset');
      this.#recheckPair(x);
      broken++;
    }
    return broken;
  }

  onEndClosed(end: SimChannelEnd, reason: string): void {
    const other = end.peer;
    const pair = this.#pairOf(end);
    if (!other.closed && other.alive && this.canReach(end.host, other.host)) {
      // A deliberate close reaches the peer after the frames already in flight, as with destroy().
      this.scheduler.setTimer(this.#closeDelay(end, other), () => {
        other.terminate(reason);
        this.#recheckPair(pair);
      });
      return;
    }
    this.#recheckPair(pair);
  }

  /**
   * A host crashed. By default only its side goes away: its peers notice by silence (link
   * timeout), as with WebRTC or a machine that lost power. With `reset`, its peers also see
   * their ends close one latency later, as when the kernel of a killed process resets its
   * TCP connections (or a browser tears down a closed tab's peer connections).
   */
  onHostDown(host: SimHost, reset = false): void {
    for (const a of this.#pairs) {
      for (const [end, other] of [
        [a, a.peer],
        [a.peer, a],
      ] as const) {
        if (end.host !== host) continue;
        end.terminate('host crashed');
        if (reset && other.alive && this.#sameSide(host, other.host)) {
          // After the frames already in flight, as TCP sends FIN after queued data.
          this.scheduler.setTimer(this.#closeDelay(end, other), () => {
            other.terminate('connection reset');
            this.#recheckPair(a);
          });
        }
      }
    }
    this.#recheck();
  }

  /** When `end` closing reaches `other`: after the last stream frame `end` sent, plus a latency. */
  #closeDelay(end: SimChannelEnd, other: SimChannelEnd): number {
    return Math.max(0, end.lastArrival - this.now) + this.#latency(end.host, other.host, this.random);
  }

  #pairOf(end: SimChannelEnd): SimChannelEnd {
    return this.#pairs.has(end) ? end : end.peer;
  }

  #recheck(): void {
    for (const a of [...this.#pairs]) this.#recheckPair(a);
  }

  /** Flushes stalled frames of a healed connection, or arms the timeout of a broken one. */
  #recheckPair(a: SimChannelEnd): void {
    const b = a.peer;
    if (a.closed && b.closed) {
      this.#clearTimeout(a);
      this.#pairs.delete(a);
      return;
    }
    const connected = a.alive && b.alive && this.canReach(a.host, b.host);
    if (connected) {
      this.#clearTimeout(a);
      for (const end of [a, b]) {
        const frames = end.stalled;
        end.stalled = [];
        for (const f of frames) this.#launch(end, 'stream', f);
      }
    } else if (a.timeoutTimer === undefined) {
      a.timeoutTimer = this.scheduler.setTimer(this.#linkTimeoutMs, () => {
        a.timeoutTimer = undefined;
        a.terminate('link timed out');
        b.terminate('link timed out');
        this.#recheckPair(a);
      });
    }
  }

  #clearTimeout(a: SimChannelEnd): void {
    if (a.timeoutTimer !== undefined) this.scheduler.cancelTimer(a.timeoutTimer);
    a.timeoutTimer = undefined;
  }
}
