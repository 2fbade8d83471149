/**
 * The order in which this replica learned of entry versions, for delta gossip. Each
 * neighbour has a cursor (a per-peer watermark): everything after it is news to that
 * neighbour, except what came from it. A register changed twice appears once, at its
 * latest position; the log compacts itself.
 */
export interface LogRecord {
  seq: number;
  id: string;
  /** The neighbour this version came from (undefined: written here). */
  from: string | undefined;
}

export class ChangeLog {
  #records: LogRecord[] = [];
  readonly #latest = new Map<string, number>();
  #seq = 0;

  get head(): number {
    return this.#seq;
  }

  append(id: string, from: string | undefined): void {
    const seq = ++this.#seq;
    this.#records.push({ seq, id, from });
    this.#latest.set(id, seq);
    if (this.#records.length > 2 * this.#latest.size + 64) this.#compact();
  }

  forget(id: string): void {
    this.#latest.delete(id);
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
