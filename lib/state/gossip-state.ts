/**
 * CrdtGossipState: the replicated state of a node — the process table and the service
 * registry in one LWW map — with what travels: per-neighbour deltas (a cursor into the
 * change log each) and the prefix tree that anti-entropy compares. A sans-IO core:
 * entries arrive already verified; nothing here touches the network or the clock.
 *
 * Rules every replica applies alike, so Merkle roots agree:
 * - an entry older than its origin's low-water mark is void (dropped, never stored): the
 *   origin refreshes its live entries above the mark, so tombstones below it can go;
 * - when an origin is reaped from membership its entries are dropped; they come back with it.
 *
 * With caps (see StateCaps) a replica also bounds what it holds; that rule is local (a full
 * replica may differ from its neighbours until room frees up), and honest clusters stay
 * below it.
 */
import { PrefixTree } from '../merkle/prefix-tree.ts';
import { bytesKey, equalBytes } from '../util/bytes.ts';
import type { StateTable } from '../wire/entries.ts';
import { ChangeLog } from './change-log.ts';
import { entryId, type StateEntry } from './entry.ts';
import { LwwMap, lwwWins } from './lww-map.ts';

/**
 * Bounds on what a replica holds, all origins together. An entry that needs room (a new
 * register, or a version larger than the one it replaces) takes it from origins that stand
 * lower than its own — the lowest first, one register at a time — and is refused when there
 * is not enough of that; this replica's own writes are always kept.
 */
export interface StateCaps {
  /** Registers held (tombstones included). */
  maxEntries: number;
  /** Bytes of entries held, as they travel. */
  maxBytes: number;
  /** Where an origin stands when room is short: a larger number gives way to a smaller one. */
  standing(origin: string): number;
}

export interface StateMetrics {
  entries: number;
  /** Bytes of entries held, as they travel. */
  bytes: number;
  tombstones: number;
  merged: number;
  ignored: number;
  voided: number;
  /** Entries refused for want of room (caps). */
  refusedFull: number;
  /** Registers dropped to make room for an origin standing higher. */
  evicted: number;
}

export class CrdtGossipState {
  readonly map = new LwwMap();
  readonly tree = new PrefixTree();
  readonly #log = new ChangeLog();
  readonly #cursors = new Map<string, number>();
  readonly #lwm = new Map<string, number>();
  /** bytesKey(key hash) → register id, to list a bucket's entries. */
  readonly #byHash = new Map<string, string>();
  readonly #changed: Array<(e: StateEntry, from: string | undefined) => void> = [];
  readonly #caps: StateCaps | undefined;
  #bytes = 0;
  readonly metrics = { merged: 0, ignored: 0, voided: 0, refusedFull: 0, evicted: 0 };

  /** Without caps the replica holds whatever it is given (tests, benchmarks). */
  constructor(caps?: StateCaps) {
    this.#caps = caps;
  }

  /** Called for every entry that changed this replica: from a neighbour, or written here (`from` undefined). */
  onChange(fn: (e: StateEntry, from: string | undefined) => void): void {
    this.#changed.push(fn);
  }

  get(table: StateTable, origin: string, key: string): StateEntry | undefined {
    return this.map.get(entryId(table, origin, key));
  }

  /** Merges entries (from neighbour `from`, or written here); returns those that changed the state. */
  merge(entries: readonly StateEntry[], from?: string): StateEntry[] {
    const changed: StateEntry[] = [];
    for (const e of entries) {
      if (e.ts.wall < (this.#lwm.get(e.origin) ?? 0)) {
        this.metrics.voided++;
        continue;
      }
      const held = this.map.get(e.id);
      if (held && !lwwWins(e, held)) {
        this.metrics.ignored++;
        if (from !== undefined && equalBytes(held.digest, e.digest)) this.#log.heldBy(e.id, from);
        continue;
      }
      if (!this.#makeRoom(e, held, from === undefined)) {
        this.metrics.refusedFull++;
        continue;
      }
      this.map.merge(e);
      this.#bytes += e.size - (held?.size ?? 0);
      this.metrics.merged++;
      this.tree.set(e.idHash, e.digest);
      this.#byHash.set(bytesKey(e.idHash), e.id);
      this.#log.append(e.id, from);
      changed.push(e);
      for (const fn of this.#changed) fn(e, from);
    }
    return changed;
  }

  /** The origin declared entries older than `wall` void: drop them (tombstone GC). */
  setLowWaterMark(origin: string, wall: number): void {
    if (wall <= (this.#lwm.get(origin) ?? 0)) return;
    this.#lwm.set(origin, wall);
    for (const e of [...this.map.ofOrigin(origin)]) {
      if (e.ts.wall >= wall) continue;
      this.#drop(e);
      this.metrics.voided++;
    }
  }

  lowWaterMark(origin: string): number {
    return this.#lwm.get(origin) ?? 0;
  }

  /** The origin left membership for good (reaped): its entries go, on every replica alike. */
  dropOrigin(origin: string): void {
    for (const e of [...this.map.ofOrigin(origin)]) this.#drop(e);
    this.#lwm.delete(origin);
  }

  metricsSnapshot(): StateMetrics {
    let tombstones = 0;
    for (const e of this.map.values()) if (!e.value) tombstones++;
    return { entries: this.map.size, bytes: this.#bytes, tombstones, ...this.metrics };
  }

  // ---- delta gossip ----

  /** A new neighbour: assume it has what we have (anti-entropy on link-up repairs the rest). */
  linkUp(peer: string): void {
    this.#cursors.set(peer, this.#log.head);
  }

  linkDown(peer: string): void {
    this.#cursors.delete(peer);
  }

  /** News for `peer` (entries it may not have: not those it sent us, nor copies of them), within `budget` bytes. */
  deltaFor(peer: string, budget: number): StateEntry[] {
    const cursor = this.#cursors.get(peer);
    if (cursor === undefined) return [];
    const out: StateEntry[] = [];
    let used = 0;
    let last = cursor;
    let full = false;
    for (const r of this.#log.after(cursor)) {
      const e = this.map.get(r.id);
      if (e && !this.#log.holds(r, peer)) {
        if (used + e.size > budget && out.length > 0) {
          full = true;
          break;
        }
        out.push(e);
        used += e.size;
      }
      last = r.seq;
    }
    this.#cursors.set(peer, full ? last : this.#log.head);
    return out;
  }

  /** Whether the log holds records `peer` has not been offered yet (a delta stopped at its budget). */
  pending(peer: string): boolean {
    const cursor = this.#cursors.get(peer);
    return cursor !== undefined && cursor < this.#log.head;
  }

  /** Entries under one prefix-tree node (for anti-entropy). */
  subtreeEntries(level: number, index: number): StateEntry[] {
    const out: StateEntry[] = [];
    if (this.tree.count(level, index) === 0) return out;
    const [from, to] = PrefixTree.bucketRange(level, index);
    for (let bucket = from; bucket < to; bucket++) {
      for (const h of this.tree.bucketIds(bucket)) {
        const id = this.#byHash.get(bytesKey(h));
        const e = id === undefined ? undefined : this.map.get(id);
        if (e) out.push(e);
      }
    }
    return out;
  }

  /** Whether `e` (replacing `held`) fits under the caps, once lower-standing registers made room. */
  #makeRoom(e: StateEntry, held: StateEntry | undefined, own: boolean): boolean {
    const caps = this.#caps;
    if (!caps) return true;
    // Only growth needs room: an update that is no larger always fits.
    const grow = e.size - (held?.size ?? 0);
    const fits = () =>
      (held !== undefined || this.map.size < caps.maxEntries) &&
      (grow <= 0 || this.#bytes + grow <= caps.maxBytes);
    while (!fits()) {
      const victim = this.#lowestBelow(caps.standing(e.origin), caps);
      if (!victim) return own;
      this.#drop(victim);
      this.metrics.evicted++;
    }
    return true;
  }

  /** A register of the origin standing lowest, if it stands lower than `standing`. */
  #lowestBelow(standing: number, caps: StateCaps): StateEntry | undefined {
    let lowest: string | undefined;
    let at = standing;
    for (const o of this.map.origins()) {
      const s = caps.standing(o);
      if (s > at) {
        lowest = o;
        at = s;
      }
    }
    if (lowest === undefined) return undefined;
    const [first] = this.map.ofOrigin(lowest);
    return first;
  }

  #drop(e: StateEntry): void {
    this.#bytes -= e.size;
    this.map.remove(e.id);
    this.tree.delete(e.idHash);
    this.#byHash.delete(bytesKey(e.idHash));
    this.#log.forget(e.id);
  }
}
