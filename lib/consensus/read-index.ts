/**
 * ReadIndex (§6.4 of Ongaro's dissertation): a leader serves a linearizable read at its
 * commit index once a quorum has answered a heartbeat sent after the read arrived, which
 * proves no newer leader committed anything meanwhile. Each read gets a sequence number;
 * heartbeats carry the newest, and an answer confirms every read up to the one it carries.
 */

/** A read's answer: read at `index` once applied there, or null when leadership was lost (retry). */
export interface ReadState {
  readonly ctx: number;
  readonly index: number | null;
}

interface Pending {
  readonly seq: number;
  readonly ctx: number;
  readonly index: number;
  readonly acks: Set<string>;
}

export class ReadIndexQueue {
  #seq = 0;
  #pending: Pending[] = [];

  get size(): number {
    return this.#pending.length;
  }

  /** Registers a read at commit index `index`; returns the sequence its heartbeat carries. */
  add(ctx: number, index: number, self: string): number {
    const seq = ++this.#seq;
    this.#pending.push({ seq, ctx, index, acks: new Set([self]) });
    return seq;
  }

  /** Sequence of the newest pending read (0: none). */
  latest(): number {
    return this.#pending.at(-1)?.seq ?? 0;
  }

  /** `from` answered a heartbeat carrying `seq`. */
  ack(from: string, seq: number): void {
    for (const p of this.#pending) {
      if (p.seq > seq) break;
      p.acks.add(from);
    }
  }

  /** Reads confirmed by a quorum (and every older one: the same heartbeat round covers them). */
  release(confirmed: (acks: ReadonlySet<string>) => boolean): ReadState[] {
    let last = -1;
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      if (confirmed(this.#pending[i]!.acks)) {
        last = i;
        break;
      }
    }
    if (last < 0) return [];
    return this.#pending.splice(0, last + 1).map((p) => ({ ctx: p.ctx, index: p.index }));
  }

  /** Leadership lost: every pending read fails. */
  abandon(): ReadState[] {
    const out = this.#pending.map((p) => ({ ctx: p.ctx, index: null }));
    this.#pending = [];
    return out;
  }
}
