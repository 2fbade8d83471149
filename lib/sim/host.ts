import type { SeededRandom } from '../time/random.ts';
import type { Env } from '../time/types.ts';
import { TimerScope, VirtualClock } from '../time/virtual.ts';
import { SimError } from './errors.ts';
import type { SimNetwork } from './network.ts';
import { emptyTraffic, type HostTraffic } from './stats.ts';
import { SimTransport } from './transport.ts';

export interface SimHostOptions {
  /** Host address (what peers connect to). Default: "h<index>". */
  address?: string;
  /** This host's wall-clock offset from true time, ms (clock skew). Default 0. */
  clockOffsetMs?: number;
}

/**
 * A simulated machine: an address, a skewable clock, timers that vanish when it crashes,
 * a random stream derived from the network seed, and traffic counters.
 */
export class SimHost {
  readonly address: string;
  readonly traffic: HostTraffic = emptyTraffic();
  /** Bumped by every restart; connections of an earlier incarnation stay dead. */
  epoch = 0;
  up = true;
  /** When this host's uplink is next free (bandwidth model). */
  uplinkFreeAt = 0;
  /** The transport accepting connections at this address, if any. */
  listener: SimTransport | undefined;
  readonly #net: SimNetwork;
  readonly #clock: VirtualClock;
  readonly #random: SeededRandom;
  #scope: TimerScope;
  #env: Env;

  constructor(net: SimNetwork, address: string, random: SeededRandom, clockOffsetMs: number) {
    this.#net = net;
    this.address = address;
    this.#random = random;
    this.#clock = new VirtualClock(net.scheduler, { epochMs: net.epochMs, offsetMs: clockOffsetMs });
    this.#scope = new TimerScope(net.scheduler, () => net.scheduler.now);
    this.#env = { clock: this.#clock, scheduler: this.#scope, random: random.fork() };
  }

  /** What nodes on this host advertise and peers dial: `mem:<address>`. */
  get url(): string {
    return `mem:${this.address}`;
  }

  /** The environment (clock, timers, randomness) of this host's current incarnation. */
  get env(): Env {
    return this.#env;
  }

  get clockOffsetMs(): number {
    return this.#clock.offsetMs;
  }

  set clockOffsetMs(ms: number) {
    this.#clock.offsetMs = ms;
  }

  /** Timers of this host's current incarnation not yet fired or cancelled (what a crash would cancel). */
  get pendingTimers(): number {
    return this.#scope.pending;
  }

  /** A new transport for a node running on this host; it listens at this host's address. */
  transport(): SimTransport {
    if (!this.up) throw new SimError('host-down', `host ${this.address} is down`);
    return new SimTransport(this.#net, this);
  }

  /**
   * Throttles this host like a background browser tab (or a starved process): its timers
   * and its incoming frames are only handled at wake-ups every `wakeIntervalMs` (0: off).
   */
  throttle(wakeIntervalMs: number): void {
    this.#scope.wakeIntervalMs = wakeIntervalMs;
  }

  /** Delay until a frame arriving after `delayMs` is handled (wake-up alignment). */
  handlingDelay(delayMs: number): number {
    return this.#scope.alignedDelay(delayMs);
  }

  /**
   * Stops the host without a goodbye: timers vanish; its peers notice by silence, or with
   * `reset` see its connections close (see SimNetwork.onHostDown).
   */
  crash(reset = false): void {
    if (!this.up) return;
    this.up = false;
    this.listener = undefined;
    this.#scope.cancelAll();
    this.#net.onHostDown(this, reset);
  }

  /** Brings a crashed host back with fresh timers; start a new node on it (same identity if you like). */
  restart(): void {
    if (this.up) return;
    this.epoch++;
    this.up = true;
    this.uplinkFreeAt = 0;
    const wake = this.#scope.wakeIntervalMs;
    this.#scope = new TimerScope(this.#net.scheduler, () => this.#net.scheduler.now);
    this.#scope.wakeIntervalMs = wake;
    this.#env = { clock: this.#clock, scheduler: this.#scope, random: this.#random.fork() };
  }
}
