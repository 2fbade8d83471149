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
 *
 * A witness could lie, so an ack that comes through one counts only if the target signed
 * it: the ping-req carries a fresh nonce, the witness's ping passes it on with the
 * requester's id, and the target signs (nonce, itself, requester) — replayed or made-up
 * acks do not verify (checked at the node boundary, where the target's key is looked up;
 * here only the nonce is matched). A direct ack arrives over the authenticated link and
 * needs no signature, so signing costs only on indirect probes. Nacks stay unsigned: they
 * only lower the requester's local-health penalty, and only the asked witness's own share of
 * it (one per witness per probe), so a lying witness cannot hide more than its own silence.
 */
import { Domain, signingInput } from '../identity/signed.ts';
import { shuffle } from '../time/random.ts';
import type { TimerId } from '../time/types.ts';
import type { DeliveryClass } from '../transport/types.ts';
import { concatBytes, equalBytes, fromHex, toHex } from '../util/bytes.ts';
import type { MessageOf } from '../wire/messages.ts';
import type { MembershipContext } from './context.ts';
import { isReachable } from './node-state.ts';
import { PeerBudget } from './peer-budget.ts';

interface Probe {
  target: string;
  seq: number;
  /** The nonce witnesses were given (set once they are asked). */
  nonce: Uint8Array | undefined;
  acked: boolean;
  /** Witnesses asked whose nack has not arrived (each counts once). */
  asked: Set<string>;
  nacks: number;
  timers: TimerId[];
}

/** A check of a member whose link closed unexpectedly (see checkLost). */
interface LostCheck {
  target: string;
  nonce: Uint8Array;
  acked: boolean;
  timer: TimerId;
}

interface Relay {
  requester: string;
  seq: number;
  target: string;
  timer: TimerId;
}

export interface ProberHooks {
  /** A probe (or a lost-link check) of `target` failed. */
  failed(target: string): void;
  /** Signs `data` with this node's key. */
  sign(data: Uint8Array): Uint8Array;
}

/** What the target signs in an ack a witness relays: the requester's nonce, the target, the requester. */
export function probeAckPayload(nonce: Uint8Array, target: Uint8Array, requester: Uint8Array): Uint8Array {
  return concatBytes(nonce, target, requester);
}

/** Probes relayed for others at once, in all and per asking link; more ping-reqs get a nack. */
const MAX_RELAYS = 256;
const MAX_RELAYS_PER_LINK = 32;
/** Signed acks per link per probe interval (a signature costs CPU; honest witnesses need a few). */
const SIGNED_ACKS_PER_LINK = 16;
const NONCE_BYTES = 32;
/** What the signed-ack fields (t, n, sig) add to an ack, kept out of its piggyback budget. */
const SIGNED_ACK_OVERHEAD = 128;
/** A witness gives up on the target after this fraction of pingTimeout, so its nack arrives in time. */
const NACK_FRACTION = 0.8;
/** Message overhead kept out of the piggyback budget. */
const PING_OVERHEAD = 64;

export class Prober {
  readonly #ctx: MembershipContext;
  readonly #hooks: ProberHooks;
  readonly #self: Uint8Array;
  /** Latest link set of each neighbour (witness choice); unknown means "maybe". */
  readonly neighbours = new Map<string, ReadonlySet<string>>();
  #order: string[] = [];
  #cursor = 0;
  #seq: number;
  #probe: Probe | undefined;
  readonly #relays = new Map<number, Relay>();
  /** Relays in flight per asking peer. */
  readonly #relaysBy = new Map<string, number>();
  readonly #signs: PeerBudget;
  /** Lost-link checks by the seq their witnesses answer. */
  readonly #lost = new Map<number, LostCheck>();
  #timer: TimerId | undefined;
  #running = false;

  constructor(ctx: MembershipContext, hooks: ProberHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
    this.#self = fromHex(ctx.selfId);
    this.#seq = ctx.env.random.int(0x7fffffff);
    this.#signs = new PeerBudget(SIGNED_ACKS_PER_LINK, ctx.config.probeIntervalMs, () => ctx.env.clock.now());
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
    this.#relaysBy.clear();
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
    this.#signs.forget(id);
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
    const nonce = this.#ctx.env.random.bytes(NONCE_BYTES);
    this.#askWitnesses(target, seq, nonce);
    const check: LostCheck = {
      target,
      nonce,
      acked: false,
      timer: this.#ctx.env.scheduler.setTimer(this.#scaled(this.#ctx.config.probeIntervalMs), () => {
        this.#lost.delete(seq);
        if (!check.acked && !this.#ctx.linked().has(target)) this.#hooks.failed(target);
      }),
    };
    this.#lost.set(seq, check);
  }

  // ---- inputs ----

  onPing(from: string, msg: MessageOf<'ping'>, cls: DeliveryClass): void {
    if (toHex(msg.to) !== this.#ctx.selfId) {
      this.#ctx.metrics.misroutedPings++;
      return;
    }
    const ack: MessageOf<'ack'> = { type: 'ack', seq: msg.seq };
    let budget = this.#budget();
    // A witness asks on someone's behalf: sign so that it cannot make up our answer.
    if (msg.n && msg.r && this.#signs.take(from)) {
      const payload = probeAckPayload(msg.n, this.#self, msg.r);
      ack.t = this.#self;
      ack.n = msg.n;
      ack.sig = this.#hooks.sign(signingInput(Domain.ProbeAck, payload));
      budget -= SIGNED_ACK_OVERHEAD;
    }
    const g = cls === 'datagram' ? this.#ctx.piggyback(budget, from).map((c) => c.wire) : [];
    if (g.length) ack.g = g;
    this.#ctx.send(from, cls, ack);
  }

  /**
   * An ack from `from`. Its signature, if it names a target other than its sender, was
   * verified at the node boundary over (n, t, this node); what is left is to match it.
   */
  /**
   * What an ack relayed for `target` with `nonce` would do: settle a probe still waiting for
   * one ('wait'), repeat one that settled it ('settled': a slower witness, honest), or nothing
   * ('unknown'). The boundary asks before it pays for the signature check, so junk and
   * repeats cost a lookup, not a verification.
   */
  ackFor(seq: number, target: string, nonce: Uint8Array): 'wait' | 'settled' | 'unknown' {
    const p = this.#probe;
    const q = p && p.seq === seq ? p : this.#lost.get(seq);
    if (!q || q.target !== target || q.nonce === undefined || !equalBytes(q.nonce, nonce)) return 'unknown';
    return q.acked ? 'settled' : 'wait';
  }

  onAck(from: string, msg: MessageOf<'ack'>): void {
    const relay = this.#relays.get(msg.seq);
    if (relay && from === relay.target) {
      this.#endRelay(msg.seq, relay);
      const { t, n, sig } = msg;
      this.#ctx.send(relay.requester, 'datagram', {
        type: 'ack',
        seq: relay.seq,
        ...(t && n && sig ? { t, n, sig } : {}),
      });
      return;
    }
    const target = msg.t ? toHex(msg.t) : from;
    const proves = (t: string, nonce: Uint8Array | undefined) =>
      target === t &&
      (from === t || (nonce !== undefined && msg.n !== undefined && equalBytes(msg.n, nonce)));
    const p = this.#probe;
    if (p && p.seq === msg.seq) {
      if (!proves(p.target, p.nonce)) this.#ctx.metrics.acksRejected++;
      else if (!p.acked) {
        this.#ctx.metrics.acks++;
        p.acked = true;
        // The ping timeout has nothing left to do: one wake-up a second less on an idle node.
        this.#ctx.env.scheduler.cancelTimer(p.timers[0]!);
      }
      return;
    }
    const lost = this.#lost.get(msg.seq);
    if (lost) {
      if (proves(lost.target, lost.nonce)) lost.acked = true;
      else this.#ctx.metrics.acksRejected++;
    }
  }

  /** A witness could not reach the target; only a witness we asked counts, once. */
  onNack(from: string, seq: number): void {
    const p = this.#probe;
    if (p && p.seq === seq && p.asked.delete(from)) {
      p.nacks++;
      this.#ctx.metrics.nacksReceived++;
    }
  }

  onPingReq(from: string, msg: MessageOf<'ping-req'>): void {
    const { seq, target } = msg;
    const id = toHex(target);
    if (!this.#ctx.linked().has(id)) {
      this.#ctx.send(from, 'datagram', { type: 'nack', seq });
      return;
    }
    const asking = this.#relaysBy.get(from) ?? 0;
    if (this.#relays.size >= MAX_RELAYS || asking >= MAX_RELAYS_PER_LINK) {
      this.#ctx.metrics.relaysRefused++;
      this.#ctx.send(from, 'datagram', { type: 'nack', seq });
      return;
    }
    const mine = this.#nextSeq();
    // The requester's probe period ends pingTimeout after it asked; answer well before that.
    // Unscaled by our own health (as memberlist): a slow witness must not make nacks late.
    const wait = this.#ctx.config.pingTimeoutMs * NACK_FRACTION;
    const relay: Relay = {
      requester: from,
      seq,
      target: id,
      timer: this.#ctx.env.scheduler.setTimer(wait, () => {
        this.#endRelay(mine, relay);
        this.#ctx.send(from, 'datagram', { type: 'nack', seq });
      }),
    };
    this.#relays.set(mine, relay);
    this.#relaysBy.set(from, asking + 1);
    this.#ctx.metrics.relayedProbes++;
    const vouch = msg.n ? { n: msg.n, r: fromHex(from) } : {};
    this.#ctx.send(id, 'datagram', { type: 'ping', seq: mine, to: target, ...vouch });
  }

  // ---- the loop ----

  #schedule(delay: number): void {
    if (!this.#running) return;
    this.#timer = this.#ctx.env.scheduler.setTimer(delay, () => {
      this.#timer = undefined;
      this.#tick();
    });
  }

  #endRelay(seq: number, relay: Relay): void {
    this.#ctx.env.scheduler.cancelTimer(relay.timer);
    this.#relays.delete(seq);
    const left = (this.#relaysBy.get(relay.requester) ?? 1) - 1;
    if (left > 0) this.#relaysBy.set(relay.requester, left);
    else this.#relaysBy.delete(relay.requester);
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

  /** Sends `ping-req` for `target` with `nonce` to up to k witnesses; returns those asked. */
  #askWitnesses(target: string, seq: number, nonce: Uint8Array): Set<string> {
    const witnesses = this.#witnesses(target);
    const to = fromHex(target);
    for (const w of witnesses) {
      this.#ctx.metrics.indirectProbes++;
      this.#ctx.send(w, 'datagram', { type: 'ping-req', seq, target: to, n: nonce });
    }
    return new Set(witnesses);
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
      nonce: undefined,
      acked: false,
      asked: new Set(),
      nacks: 0,
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
        probe.nonce = env.random.bytes(NONCE_BYTES);
        probe.asked = this.#askWitnesses(target, probe.seq, probe.nonce);
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
      const asked = probe.asked.size + probe.nacks;
      health.apply(asked > 0 ? probe.asked.size : 1);
      this.#hooks.failed(probe.target);
    }
    // The next round starts in this wake-up: in a browser tab each timer that fires costs the
    // main thread ~150 µs (README, "Idle cost"), and rounds run for good.
    if (this.#running) this.#tick();
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
