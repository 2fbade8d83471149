/**
 * BroadcastChannels of one browser profile, in memory and in virtual time: a post reaches
 * every other open channel of the same name after `delayMs`, as a copy (structured clone),
 * in the order posted. Each context gets its own class (`ctor`), whose channels neither post
 * nor receive while the context is down (a crashed tab tells nobody).
 */
import type {
  BroadcastChannelConstructor,
  BroadcastChannelLike,
} from '../../lib/broadcast-channel/transport.ts';
import type { Scheduler } from '../../lib/time/types.ts';

interface FakeChannel extends BroadcastChannelLike {
  readonly name: string;
  readonly alive: () => boolean;
  closed: boolean;
}

export class FakeBroadcastHub {
  readonly #scheduler: Scheduler;
  readonly #delayMs: number;
  readonly #channels = new Set<FakeChannel>();
  /** Posts made, and deliveries (one per receiving channel). */
  posted = 0;
  delivered = 0;

  constructor(scheduler: Scheduler, delayMs = 1) {
    this.#scheduler = scheduler;
    this.#delayMs = delayMs;
  }

  /** A BroadcastChannel class for one context; `alive` says whether that context runs. */
  ctor(alive: () => boolean = () => true): BroadcastChannelConstructor {
    const hub = this;
    return class {
      readonly name: string;
      readonly alive = alive;
      closed = false;
      onmessage: ((ev: { data: unknown }) => void) | null = null;
      constructor(name: string) {
        this.name = name;
        hub.#channels.add(this);
      }
      postMessage(data: unknown): void {
        if (!this.closed && alive()) hub.#post(this, this.name, data);
      }
      close(): void {
        this.closed = true;
        hub.#channels.delete(this);
      }
    };
  }

  /** Posts as some other script of the origin (hostile, or just not weftmesh). */
  inject(name: string, data: unknown): void {
    this.#post(undefined, name, data);
  }

  /** Every frame posted on `name` from now on, as it is posted (to forge variants of real ones). */
  tap(fn: (data: Uint8Array) => void): void {
    this.#taps.push(fn);
  }

  readonly #taps: Array<(data: Uint8Array) => void> = [];

  #post(from: FakeChannel | undefined, name: string, data: unknown): void {
    this.posted++;
    const copy = data instanceof Uint8Array ? data.slice() : data;
    if (copy instanceof Uint8Array) for (const t of this.#taps) t(copy.slice());
    for (const c of this.#channels) {
      if (c === from || c.name !== name) continue;
      this.#scheduler.setTimer(this.#delayMs, () => {
        if (c.closed || !c.alive()) return;
        this.delivered++;
        c.onmessage?.({ data: copy instanceof Uint8Array ? copy.slice() : copy });
      });
    }
  }
}
