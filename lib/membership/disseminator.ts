/**
 * Spreading membership news: piggybacked on probes, a gossip tick to a few random
 * neighbours, and a periodic push-pull (by digest) that repairs whatever gossip missed.
 */
import type { TimerId } from '../time/types.ts';
import type { Claim } from './claims.ts';
import { pushPullInterval } from './config.ts';
import type { MembershipContext } from './context.ts';
import type { PushPull } from './push-pull.ts';
import { RetransmitQueue } from './retransmit-queue.ts';

const GOSSIP_OVERHEAD = 16;
/** When the follow-up exchanges after a join happen (random within each window). */
const FOLLOW_UP_WINDOWS_MS: ReadonlyArray<[number, number]> = [
  [3_000, 6_000],
  [12_000, 20_000],
];

export class Disseminator {
  readonly queue: RetransmitQueue;
  readonly #ctx: MembershipContext;
  readonly #pushPull: PushPull;
  readonly #timers = new Set<TimerId>();
  #running = false;
  #lastFollowUpAt = Number.NEGATIVE_INFINITY;

  /**
   * The gossip tick's next instant while it is parked (nothing queued), else undefined. An
   * idle node has no news: its tick stops instead of waking the thread five times a second,
   * and the first claim queued re-arms it at the next instant of the same cadence.
   */
  #gossipParkedAt: number | undefined;
  #gossipTimer: TimerId | undefined;

  constructor(ctx: MembershipContext, pushPull: PushPull) {
    this.#ctx = ctx;
    this.#pushPull = pushPull;
    this.queue = new RetransmitQueue(ctx.config.maxQueueDepth, () => this.#unpark());
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    const { config, env } = this.#ctx;
    this.#gossipAfter(env.random.next() * config.gossipIntervalMs);
    const pushPull = () => pushPullInterval(config.pushPullIntervalMs, this.#ctx.table.size);
    // Where the interval is scaled (over 32 members), not within half an interval of a
    // follow-up: that was a full exchange too, and the first periodic one is drawn before the
    // join, from the unscaled interval (at 1,000 nodes joining at once it came during the
    // follow-ups, a 21 KB digest and its answer for little). A small cluster keeps its
    // exchanges as they were: skipped there too, they moved the sweep's faulty runs onto
    // other failing seeds (6,807, 14,555) than the ones this code had (9,774, 11,116).
    this.#every(pushPull, env.random.next() * pushPull(), () => {
      const interval = pushPull();
      const scaled = interval > config.pushPullIntervalMs;
      if (!scaled || env.clock.now() - this.#lastFollowUpAt >= interval / 2) this.#pushPullRandom();
    });
  }

  /**
   * A node that just joined knows only what its seed knew at that moment; when many join at
   * once (a deploy, a page shared widely) most of them learn of each other late, and gossip
   * serves the newest news first. Two extra digest exchanges with random neighbours shortly
   * after joining close that gap without waiting for the (n-scaled) periodic push-pull.
   */
  afterJoin(): void {
    for (const [min, max] of FOLLOW_UP_WINDOWS_MS) {
      const t = this.#ctx.env.scheduler.setTimer(min + this.#ctx.env.random.next() * (max - min), () => {
        this.#timers.delete(t);
        if (!this.#running) return;
        this.#lastFollowUpAt = this.#ctx.env.clock.now();
        this.#pushPullRandom();
      });
      this.#timers.add(t);
    }
  }

  stop(): void {
    this.#running = false;
    for (const t of this.#timers) this.#ctx.env.scheduler.cancelTimer(t);
    this.#timers.clear();
    this.#gossipTimer = undefined;
    this.#gossipParkedAt = undefined;
  }

  #gossipAfter(delay: number): void {
    const t = this.#ctx.env.scheduler.setTimer(delay, () => {
      this.#timers.delete(t);
      this.#gossipTimer = undefined;
      this.#gossip();
      if (!this.#running) return;
      const interval = this.#ctx.config.gossipIntervalMs;
      if (this.queue.size > 0) this.#gossipAfter(interval);
      else this.#gossipParkedAt = this.#ctx.env.clock.now() + interval;
    });
    this.#timers.add(t);
    this.#gossipTimer = t;
  }

  #unpark(): void {
    const at = this.#gossipParkedAt;
    if (at === undefined || !this.#running || this.#gossipTimer !== undefined) return;
    this.#gossipParkedAt = undefined;
    const now = this.#ctx.env.clock.now();
    const interval = this.#ctx.config.gossipIntervalMs;
    const next = at + Math.max(0, Math.ceil((now - at) / interval)) * interval;
    this.#gossipAfter(next - now);
  }

  /** λ·⌈log₂(n+1)⌉ transmissions per update. */
  limit(): number {
    return this.#ctx.config.retransmitMult * Math.ceil(Math.log2(this.#ctx.table.size + 1));
  }

  piggyback(budget: number, peer: string): Claim[] {
    return this.queue.take(budget, this.limit(), peer, this.#ctx.linked().size);
  }

  #every(interval: () => number, first: number, fn: () => void): void {
    const run = (delay: number) => {
      if (!this.#running) return;
      const t = this.#ctx.env.scheduler.setTimer(delay, () => {
        this.#timers.delete(t);
        fn();
        run(interval());
      });
      this.#timers.add(t);
    };
    run(first);
  }

  #gossip(): void {
    if (this.queue.size === 0) return;
    const { config, env } = this.#ctx;
    const peers = [...this.#ctx.linked()];
    const budget = config.maxDatagramBytes - GOSSIP_OVERHEAD;
    for (let n = 0; n < config.gossipFanout && peers.length > 0; n++) {
      const [peer] = peers.splice(env.random.int(peers.length), 1);
      const claims = this.piggyback(budget, peer!);
      if (claims.length === 0) continue;
      this.#ctx.metrics.gossipMessages++;
      this.#ctx.send(peer!, 'datagram', { type: 'gossip', g: claims.map((c) => c.wire) });
    }
  }

  /** An exchange with a random neighbour not asked within the interval (push-pull.ts says why). */
  #pushPullRandom(): void {
    const peers = [...this.#ctx.linked()].filter((p) => this.#pushPull.canStart(p));
    if (peers.length === 0) return;
    this.#pushPull.start(peers[this.#ctx.env.random.int(peers.length)]!);
  }
}
