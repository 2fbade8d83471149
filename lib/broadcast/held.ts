/**
 * Messages a node delivered, held a while so that it can answer grafts: a tree channel for
 * a kind of broadcast whose messages are not kept anywhere else (application broadcasts).
 * Bounded by count and by age: a graft for something older finds nothing, and the asking
 * node falls back on its next announcer.
 */

import { setBounded } from '../util/bounded-map.ts';
import { idKey } from './ids.ts';
import type { BroadcastKind } from './metrics.ts';
import type { TreeChannel } from './tree.ts';

export class HeldMessages<M> implements TreeChannel {
  readonly #held = new Map<string, { id: Uint8Array; msg: M; at: number }>();
  readonly #kind: BroadcastKind;
  readonly #max: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #send: (peer: string, msg: M) => void;

  constructor(opts: {
    /** The kind of broadcast held (its ids' keys: idKey). */
    kind: BroadcastKind;
    max: number;
    maxAgeMs: number;
    now: () => number;
    send: (peer: string, msg: M) => void;
  }) {
    this.#kind = opts.kind;
    this.#max = opts.max;
    this.#maxAgeMs = opts.maxAgeMs;
    this.#now = opts.now;
    this.#send = opts.send;
  }

  hold(id: Uint8Array, msg: M): void {
    const key = idKey(this.#kind, id);
    setBounded(this.#held, key, { id, msg, at: this.#now() }, this.#max);
  }

  has(key: string): boolean {
    return this.#get(key) !== undefined;
  }

  resend(peer: string, ids: Uint8Array[]): void {
    for (const id of ids) {
      const msg = this.#get(idKey(this.#kind, id));
      if (msg !== undefined) this.#send(peer, msg);
    }
  }

  recent(withinMs: number, max: number): Uint8Array[] {
    // Held in delivery order (hold() moves a message to the end), so ages only fall along it.
    const since = this.#now() - Math.min(withinMs, this.#maxAgeMs);
    const ids: Uint8Array[] = [];
    for (const h of this.#held.values()) if (h.at >= since) ids.push(h.id);
    return max > 0 ? ids.slice(-max).reverse() : [];
  }

  #get(key: string): M | undefined {
    const h = this.#held.get(key);
    if (!h) return undefined;
    if (this.#now() - h.at > this.#maxAgeMs) {
      this.#held.delete(key);
      return undefined;
    }
    return h.msg;
  }
}
