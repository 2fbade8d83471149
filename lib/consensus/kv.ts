/**
 * A replicated key/value state machine for the Raft core: string keys and values, with
 * put, delete and compare-and-set as log commands (reads go through ReadIndex and `get`).
 * Commands are JSON bytes; a malformed one (from a faulty proposer) changes nothing.
 */

export type KvCommand =
  | { op: 'put'; key: string; value: string }
  | { op: 'delete'; key: string }
  /** Sets `value` (null: deletes) if the key holds `expected` (null: absent). */
  | { op: 'cas'; key: string; expected: string | null; value: string | null };

/** What applying a command did: `ok` is false only for a cas whose expectation failed. */
export interface KvResult {
  readonly ok: boolean;
  /** The value before the command (null: absent). */
  readonly previous: string | null;
}

const MAX_KEY = 1024;
const MAX_VALUE = 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

function isValue(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_VALUE;
}

/** A command from log bytes, or undefined when they are not one. */
export function decodeKvCommand(data: Uint8Array): KvCommand | undefined {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const key = o.key;
  if (typeof key !== 'string' || key.length > MAX_KEY) return undefined;
  if (o.op === 'put' && isValue(o.value)) return { op: 'put', key, value: o.value };
  if (o.op === 'delete') return { op: 'delete', key };
  if (
    o.op === 'cas' &&
    (o.expected === null || isValue(o.expected)) &&
    (o.value === null || isValue(o.value))
  )
    return { op: 'cas', key, expected: o.expected as string | null, value: o.value as string | null };
  return undefined;
}

export class KvStateMachine {
  #map = new Map<string, string>();
  /** Commands that were not valid (applied as no-ops). */
  malformed = 0;

  get size(): number {
    return this.#map.size;
  }

  get(key: string): string | null {
    return this.#map.get(key) ?? null;
  }

  /** Applies one committed command; undefined when the bytes were not a command. */
  apply(data: Uint8Array): KvResult | undefined {
    const cmd = decodeKvCommand(data);
    if (!cmd) {
      this.malformed++;
      return undefined;
    }
    const previous = this.get(cmd.key);
    if (cmd.op === 'cas' && previous !== cmd.expected) return { ok: false, previous };
    const value = cmd.op === 'delete' ? null : cmd.value;
    if (value === null) this.#map.delete(cmd.key);
    else this.#map.set(cmd.key, value);
    return { ok: true, previous };
  }

  /** The whole map as bytes (sorted, so equal maps give equal snapshots). */
  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify([...this.#map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  }

  /** Replaces the map with a snapshot's; false (and unchanged) when the bytes are not one. */
  restore(data: Uint8Array): boolean {
    if (data.length === 0) {
      this.#map = new Map();
      return true;
    }
    let v: unknown;
    try {
      v = JSON.parse(decoder.decode(data));
    } catch {
      return false;
    }
    if (!Array.isArray(v)) return false;
    const map = new Map<string, string>();
    for (const pair of v) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || !isValue(pair[1]))
        return false;
      map.set(pair[0], pair[1]);
    }
    this.#map = map;
    return true;
  }
}
