/**
 * A last-writer-wins map: each register (table/origin/key) holds the version with the
 * greatest HLC timestamp (wall, counter, node id — a total order), ties between equal
 * timestamps broken by the version digest, so every replica that has seen the same
 * versions holds the same one, whatever the order or repetition of delivery. Deletes are
 * versions without a value (tombstones).
 */
import { compareHlc } from '../time/hlc.ts';
import { compareBytes } from '../util/bytes.ts';
import type { StateEntry } from './entry.ts';

/**
 * Whether version `a` wins over version `b` of the same register (last writer wins). Not
 * membership's `supersedes`, which orders claims by incarnation and state.
 */
export function lwwWins(a: StateEntry, b: StateEntry): boolean {
  const c = compareHlc(a.ts, b.ts);
  return c > 0 || (c === 0 && compareBytes(a.digest, b.digest) > 0);
}

export class LwwMap {
  readonly #entries = new Map<string, StateEntry>();
  readonly #byOrigin = new Map<string, Set<string>>();

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): StateEntry | undefined {
    return this.#entries.get(id);
  }

  values(): IterableIterator<StateEntry> {
    return this.#entries.values();
  }

  /** Entries written by `origin`. */
  *ofOrigin(origin: string): Iterable<StateEntry> {
    for (const id of this.#byOrigin.get(origin) ?? []) yield this.#entries.get(id)!;
  }

  origins(): IterableIterator<string> {
    return this.#byOrigin.keys();
  }

  /** Stores `e` if it wins over what is held; true if it did. */
  merge(e: StateEntry): boolean {
    const held = this.#entries.get(e.id);
    if (held && !lwwWins(e, held)) return false;
    this.#entries.set(e.id, e);
    let ids = this.#byOrigin.get(e.origin);
    if (!ids) {
      ids = new Set();
      this.#byOrigin.set(e.origin, ids);
    }
    ids.add(e.id);
    return true;
  }

  /** Removes a register entirely (garbage collection, dropped origin). */
  remove(id: string): StateEntry | undefined {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    this.#entries.delete(id);
    const ids = this.#byOrigin.get(e.origin);
    ids?.delete(id);
    if (ids?.size === 0) this.#byOrigin.delete(e.origin);
    return e;
  }
}
