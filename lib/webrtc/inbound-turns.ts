/**
 * Takes turns with the rest of the thread on inbound WebRTC traffic. @roamhq/wrtc hands
 * JavaScript every message its threads have queued in one task, and goes on while more
 * arrive: a fast peer kept a Node follower inside that one task for 7.5 s (a 100,000-entry
 * chain pull, each answer prompting the next request), and not one of its timers ran —
 * SWIM's probes, request timeouts, the application's own.
 *
 * (It dispatches each event with process.nextTick: under a steady stream, answers and the
 * work they prompt kept the thread in Node's tick queue, where timers never run.)
 *
 * So inbound events run at once only until SLICE_MS have passed since the first of them
 * after the event loop last came round (a zero-delay timer set at that first event tells
 * when it has); after that they wait, in arrival order across all channels (one FIFO: each
 * channel's events stay in order, and a close comes after the data before it), and run in
 * later tasks of at most SLICE_MS each, so that timers and other I/O get their turns in
 * between. In browsers every message is its own task already: there the transport takes no
 * turns (only with @roamhq/wrtc, its `wrtc` option), which would cost a timer per message.
 */
import type { Scheduler } from '../time/types.ts';

/** Longest run of inbound events handled before timers and other I/O get their turn. */
const SLICE_MS = 20;

export class InboundTurns {
  readonly #scheduler: Scheduler;
  readonly #now: () => number;
  readonly #waiting: Array<() => void> = [];
  /** When this slice's first event ran; undefined once the event loop has come round. */
  #sliceStart: number | undefined;
  /** A zero-delay timer is set: it fires once the event loop comes round. */
  #turnSet = false;
  /** Events that waited for a later task (a measure of how often turns were taken). */
  deferred = 0;

  constructor(scheduler: Scheduler, now: () => number = () => performance.now()) {
    this.#scheduler = scheduler;
    this.#now = now;
  }

  /** Runs `event` now, or after the events already waiting once the thread had its turn. */
  run(event: () => void): void {
    if (this.#waiting.length === 0) {
      const now = this.#now();
      if (this.#sliceStart === undefined) {
        this.#sliceStart = now;
        this.#setTurn();
      }
      if (now - this.#sliceStart < SLICE_MS) {
        this.#handle(event);
        return;
      }
    }
    this.deferred++;
    this.#waiting.push(event);
  }

  /** Runs one event; a handler's error surfaces as before (uncaught) without stopping those queued behind it. */
  #handle(event: () => void): void {
    try {
      event();
    } catch (e) {
      queueMicrotask(() => {
        throw e;
      });
    }
  }

  /** The event loop came round (timers ran): the waiting events get the next slice. */
  #setTurn(): void {
    if (this.#turnSet) return;
    this.#turnSet = true;
    this.#scheduler.setTimer(0, () => {
      this.#turnSet = false;
      this.#sliceStart = undefined;
      if (this.#waiting.length === 0) return;
      const start = this.#now();
      this.#sliceStart = start;
      this.#setTurn();
      while (this.#waiting.length > 0 && this.#now() - start < SLICE_MS) this.#handle(this.#waiting.shift()!);
    });
  }
}
