/**
 * The SWIM probe loop with Lifeguard. Each period one linked member is probed, round robin
 * over a shuffled list (new links inserted at random positions):
 *
 *   1. `ping` on the datagram channel; wait pingTimeout (× local health).
 *   2. No ack: `ping-req` to up to k witnesses linked to the target, and a `ping` over the
 *      reliable stream (memberlist's TCP fallback: loss alone cannot fail it).
 *   3. No ack by the end of the period (× local health): the target is suspected.
 *
 * Only members with a direct link are probed: a probe relayed over the mesh would test the
 * relay path, not the member. A member whose link closed without a goodbye is checked once
 * through witnesses (checkLost): a crashed process's connections may close before any
 * probe fails, and then nobody would probe it again. Witnesses answer `nack` when they
 * cannot reach the target, so a prober that gets neither acks nor nacks learns that it is
 * the slow one (Lifeguard).
 */
import { shuffle } from '../time/random.ts';
import type { TimerId } from '../time/types.ts';
import type { DeliveryClass } from '../transport/types.ts';
import { fromHex, toHex } from '../util/bytes.ts';
import type { MembershipContext } from './context.ts';
import { isReachable } from './node-state.ts';

interface Probe {
  target: string;
  seq: number;
  acked: boolean;
  nacks: number;
  expectedNacks: number;
  timers: TimerId[];
}

/** A check of a member whose link closed unexpectedly (see checkLost). */
interface LostCheck {
  target: string;
  acked: boolean;
  timer: TimerId;
}

interface Relay {
  requester: string;
  seq: number;
  timer: TimerId;
}

/** Probes relayed for others at once; more ping-reqs are refused with a nack. */
const MAX_RELAYS = 256;
/** A witness gives up on the target after this fraction of pingTimeout, so its nack arrives in time. */
const NACK_FRACTION = 0.8;
/** Message overhead kept out of the piggyback budget. */
const PING_OVERHEAD = 64;

export class Prober {
  readonly #ctx: MembershipContext;
  readonly #onFailed: (target: string) => void;
  /** Latest link set of each neighbour (witness choice); unknown means "maybe". */
  readonly neighbours = new Map<string, ReadonlySet<string>>();
  #order: string[] = [];
  #cursor = 0;
  #seq: number;
  #probe: Probe | undefined;
  readonly #relays = new Map<number, Relay>();
  /** Lost-link checks by the seq their witnesses answer. */
  readonly #lost = new Map<number, LostCheck>();
  #timer: TimerId | undefined;
  #running = false;

  constructor(ctx: MembershipContext, onFailed: (target: string) => void) {
    this.#ctx = ctx;
    this.#onFailed = onFailed;
    this.#seq = ctx.env.random.int(0x7fffffff);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(this.#ctx.env.random.next() * this.#ctx.config.probeIntervalMs);
  }

  stop(): void {
    this.#running = false;
    const s = this.#ctx.env.scheduler;
    if (this.#timer !== undefined) s.cancelTimer(this.#timer);
    this.#timer = undefined;
    for (const t of this.#probe?.timers ?? []) s.cancelTimer(t);
    this.#probe = undefined;
    for (const r of this.#relays.values()) s.cancelTimer(r.timer);
    this.#relays.clear();
    for (const c of this.#lost.values()) s.cancelTimer(c.timer);
    this.#lost.clear();
  }

  linkUp(id: string): void {
    const at = this.#ctx.env.random.int(this.#order.length + 1);
    this.#order.splice(at, 0, id);
    if (at < this.#cursor) this.#cursor++;
  }

  linkDown(id: string): void {
    this.neighbours.delete(id);
    // A probe over a link that just closed says nothing about the member: abandon it.
    const p = this.#probe;
    if (p && p.target === id) {
      for (const t of p.timers) this.#ctx.env.scheduler.cancelTimer(t);
      this.#probe = undefined;
      this.#schedule(0);
    }
    const at = this.#order.indexOf(id);
    if (at < 0) return;
    this.#order.splice(at, 1);
    if (at < this.#cursor) this.#cursor--;
  }

  /**
   * The link to `target` closed unexpectedly: ask witnesses still linked to it to ping it.
   * No ack by the end of a probe period (or no witness to ask), and no link to it again by
   * then: the target is suspected, as after a failed probe; if it is alive and reachable
   * at all it hears the accusation and refutes.
   */
  checkLost(target: string): void {
    if (!this.#running) return;
    for (const c of this.#lost.values()) if (c.target === target) return;
    const seq = this.#nextSeq();
    this.#askWitnesses(target, seq);
    const check: LostCheck = {
      target,
      acked: false,
      timer: this.#ctx.env.scheduler.setTimer(this.#scaled(this.#ctx.config.probeIntervalMs), () => {
        this.#lost.delete(seq);
        if (!check.acked && !this.#ctx.linked().has(target)) this.#onFailed(target);
      }),
    };
    this.#lost.set(seq, check);
  }

  // ---- inputs ----

  onPing(from: string, seq: number, to: Uint8Array, cls: DeliveryClass): void {
    if (toHex(to) !== this.#ctx.selfId) {
      this.#ctx.metrics.misroutedPings++;
      return;
    }
    const g = cls === 'datagram' ? this.#ctx.piggyback(this.#budget(), from).map((c) => c.wire) : [];
    this.#ctx.send(from, cls, g.length ? { type: 'ack', seq, g } : { type: 'ack', seq });
  }

  onAck(seq: number): void {
    const p = this.#probe;
    if (p && p.seq === seq) {
      if (!p.acked) this.#ctx.metrics.acks++;
      p.acked = true;
      return;
    }
    const lost = this.#lost.get(seq);
    if (lost) {
      lost.acked = true;
      return;
    }
    const relay = this.#relays.get(seq);
    if (relay) {
      this.#ctx.env.scheduler.cancelTimer(relay.timer);
      this.#relays.delete(seq);
      this.#ctx.send(relay.requester, 'datagram', { type: 'ack', seq: relay.seq });
    }
  }

  onNack(seq: number): void {
    const p = this.#probe;
    if (p && p.seq === seq) {
      p.nacks++;
      this.#ctx.metrics.nacksReceived++;
    }
  }

  onPingReq(from: string, seq: number, target: Uint8Array): void {
    const id = toHex(target);
    if (!this.#ctx.linked().has(id) || this.#relays.size >= MAX_RELAYS) {
      this.#ctx.send(from, 'datagram', { type: 'nack', seq });
      return;
    }
    const mine = this.#nextSeq();
    // The requester's probe period ends pingTimeout after it asked; answer well before that.
    // Unscaled by our own health (as memberlist): a slow witness must not make nacks late.
    const wait = this.#ctx.config.pingTimeoutMs * NACK_FRACTION;
    const timer = this.#ctx.env.scheduler.setTimer(wait, () => {
      if (this.#relays.delete(mine)) this.#ctx.send(from, 'datagram', { type: 'nack', seq });
    });
    this.#relays.set(mine, { requester: from, seq, timer });
    this.#ctx.metrics.relayedProbes++;
    this.#ctx.send(id, 'datagram', { type: 'ping', seq: mine, to: target });
  }

  // ---- the loop ----

  #schedule(delay: number): void {
    if (!this.#running) return;
    this.#timer = this.#ctx.env.scheduler.setTimer(delay, () => {
      this.#timer = undefined;
      this.#tick();
    });
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  #budget(): number {
    return this.#ctx.config.maxDatagramBytes - PING_OVERHEAD;
  }

  /** The next linked member that is Active or Suspect, reshuffling after each full round. */
  #nextTarget(): string | undefined {
    const { table, env } = this.#ctx;
    for (let tries = 0; tries < this.#order.length; tries++) {
      if (this.#cursor >= this.#order.length) {
        this.#cursor = 0;
        shuffle(this.#order, env.random);
      }
      const id = this.#order[this.#cursor++]!;
      const i = table.ids.lookup(id);
      if (i !== undefined && isReachable(table.state(i))) return id;
    }
    return undefined;
  }

  /** A timeout stretched by local health (Lifeguard), when that is on. */
  #scaled(ms: number): number {
    return this.#ctx.config.lifeguard ? this.#ctx.health.scale(ms) : ms;
  }

  /** Sends `ping-req` for `target` to up to k witnesses; returns how many were asked. */
  #askWitnesses(target: string, seq: number): number {
    const witnesses = this.#witnesses(target);
    const to = fromHex(target);
    for (const w of witnesses) {
      this.#ctx.metrics.indirectProbes++;
      this.#ctx.send(w, 'datagram', { type: 'ping-req', seq, target: to });
    }
    return witnesses.length;
  }

  #tick(): void {
    const { config, env } = this.#ctx;
    const period = this.#scaled(config.probeIntervalMs);
    const target = this.#nextTarget();
    if (target === undefined) {
      this.#schedule(period);
      return;
    }
    const timeout = this.#scaled(config.pingTimeoutMs);
    const probe: Probe = {
      target,
      seq: this.#nextSeq(),
      acked: false,
      nacks: 0,
      expectedNacks: 0,
      timers: [],
    };
    this.#probe = probe;
    this.#ctx.metrics.probes++;
    const to = fromHex(target);
    const g = this.#ctx.piggyback(this.#budget(), target).map((c) => c.wire);
    this.#ctx.send(
      target,
      'datagram',
      g.length ? { type: 'ping', seq: probe.seq, to, g } : { type: 'ping', seq: probe.seq, to },
    );
    probe.timers.push(
      env.scheduler.setTimer(timeout, () => {
        if (probe.acked || this.#probe !== probe) return;
        probe.expectedNacks = this.#askWitnesses(target, probe.seq);
        this.#ctx.send(target, 'stream', { type: 'ping', seq: probe.seq, to });
      }),
      env.scheduler.setTimer(period, () => this.#finish(probe)),
    );
  }

  #finish(probe: Probe): void {
    if (this.#probe !== probe) return;
    this.#probe = undefined;
    const { health } = this.#ctx;
    if (probe.acked) {
      health.apply(-1);
    } else {
      // Lifeguard: missing nacks mean our own messages are not getting through.
      health.apply(probe.expectedNacks > 0 ? probe.expectedNacks - probe.nacks : 1);
      this.#onFailed(probe.target);
    }
    this.#schedule(0);
  }

  /** Up to k random linked members that are (or may be) linked to the target. */
  #witnesses(target: string): string[] {
    const { table, config, env } = this.#ctx;
    const candidates: string[] = [];
    for (const id of this.#ctx.linked()) {
      if (id === target) continue;
      const i = table.ids.lookup(id);
      if (i === undefined || !isReachable(table.state(i))) continue;
      const theirs = this.neighbours.get(id);
      if (theirs === undefined || theirs.has(target)) candidates.push(id);
    }
    shuffle(candidates, env.random);
    return candidates.slice(0, config.indirectWitnesses);
  }
}
