/**
 * The order in which this replica learned of entry versions, for delta gossip. Each
 * neighbour has a cursor (a per-peer watermark): everything after it is news to that
 * neighbour, except what it is known to hold — the version came from it, or it sent a copy
 * of the same version later (two paths racing: sending it back would be a third copy). A
 * register changed twice appears once, at its latest position; the log compacts itself.
 */
export interface LogRecord {
  seq: number;
  id: string;
  /** The neighbour this version came from (undefined: written here). */
  from: string | undefined;
}

/** Neighbours remembered per register as holding its latest version, besides the one it came from. */
const MAX_HOLDERS = 8;

export class ChangeLog {
  #records: LogRecord[] = [];
  readonly #latest = new Map<string, number>();
  /** Register → neighbours that sent a copy of its latest version after it was logged. */
  readonly #holders = new Map<string, string[]>();
  #seq = 0;

  get head(): number {
    return this.#seq;
  }

  append(id: string, from: string | undefined): void {
    const seq = ++this.#seq;
    this.#records.push({ seq, id, from });
    this.#latest.set(id, seq);
    this.#holders.delete(id);
    if (this.#records.length > 2 * this.#latest.size + 64) this.#compact();
  }

  forget(id: string): void {
    this.#latest.delete(id);
    this.#holders.delete(id);
  }

  /** Neighbour `peer` sent a copy of the latest version of `id`: it need not be sent it. */
  heldBy(id: string, peer: string): void {
    if (!this.#latest.has(id)) return;
    const holders = this.#holders.get(id) ?? [];
    if (holders.length >= MAX_HOLDERS || holders.includes(peer)) return;
    holders.push(peer);
    this.#holders.set(id, holders);
  }

  /** Whether `peer` is known to hold the version logged in `r` (it came from there, or a copy did). */
  holds(r: LogRecord, peer: string): boolean {
    return r.from === peer || (this.#holders.get(r.id)?.includes(peer) ?? false);
  }

  /** Records after `cursor` that are still the latest for their register, in order. */
  *after(cursor: number): Iterable<LogRecord> {
    let a = 0;
    let b = this.#records.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (this.#records[m]!.seq <= cursor) a = m + 1;
      else b = m;
    }
    for (let i = a; i < this.#records.length; i++) {
      const r = this.#records[i]!;
      if (this.#latest.get(r.id) === r.seq) yield r;
    }
  }

  #compact(): void {
    this.#records = this.#records.filter((r) => this.#latest.get(r.id) === r.seq);
  }
}
