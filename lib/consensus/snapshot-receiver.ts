/**
 * A follower's side of a chunked InstallSnapshot: chunks arrive in order from the leader
 * (each acknowledged with the bytes held so far, so a lost or duplicated chunk only makes the
 * leader resend from there) and the snapshot is complete when every byte is in.
 */
import type { ConsensusMessage, Snapshot } from './messages.ts';

type SnapshotChunk = Extract<ConsensusMessage, { type: 'snapshot' }>;

export class SnapshotReceiver {
  #current: { index: number; term: number; buf: Uint8Array; received: number } | undefined;

  /** Takes a chunk: the bytes now held, and the snapshot when it is complete. */
  accept(m: SnapshotChunk): { received: number; snapshot?: Snapshot } {
    let cur = this.#current;
    if (!cur || cur.index !== m.index || cur.term !== m.snapTerm || cur.buf.length !== m.size) {
      if (m.offset !== 0) return { received: 0 };
      cur = { index: m.index, term: m.snapTerm, buf: new Uint8Array(m.size), received: 0 };
      this.#current = cur;
    }
    if (m.offset === cur.received) {
      cur.buf.set(m.chunk, m.offset);
      cur.received += m.chunk.length;
    }
    if (cur.received < m.size) return { received: cur.received };
    this.#current = undefined;
    return {
      received: cur.received,
      snapshot: { index: m.index, term: m.snapTerm, voters: m.voters, data: cur.buf },
    };
  }

  /** Drops a partial snapshot (a new term: its leader is gone). */
  clear(): void {
    this.#current = undefined;
  }
}
