/**
 * Merkle anti-entropy between two replicas, over the state's prefix tree. The initiator
 * sends its root; each side answers hashes that differ from its own with its child hashes
 * (only under differing nodes), one level per message, so two replicas that differ in d
 * keys exchange O(d · 16 · depth) hashes in O(depth) round trips. At a differing bucket
 * each side sends its entries there; the LWW merge does the rest. Descending costs 16
 * hashes per node, so a differing subtree that holds only a few entries is exchanged
 * whole instead (this keeps "almost everything differs" near the cost of a full
 * transfer).
 *
 * An answer is bounded by the question, whoever asks: each hash asked about is answered
 * with at most its 16 children's hashes, or the entries of a small subtree or of one
 * bucket — never more, whatever the asker claims to hold (a newcomer with nothing descends
 * like anyone else). Every answer is also paid for from the asking link's byte budget
 * (`spend`); what does not fit is left for a later session.
 */
import { BUCKETS, compareTreeRoots, DEPTH, FANOUT } from '../merkle/prefix-tree.ts';
import { setBounded } from '../util/bounded-map.ts';
import type { MessageOf } from '../wire/messages.ts';
import type { StateEntry } from './entry.ts';
import type { CrdtGossipState } from './gossip-state.ts';

/** Hashes per `tree` message (the frame stays under 64 KiB). */
const NODES_PER_MESSAGE = 1536;
/** Bytes of one node in a `tree` message: its u32 index and its hash. */
const NODE_BYTES = 36;
/** Entries per repair delta (the frame stays under 64 KiB). */
const DELTA_BYTES = 48 * 1024;
/** Differing subtrees with at most this many entries are exchanged rather than descended into. */
const SMALL_SUBTREE = 8;
/** A subtree is echoed back at most this often per session (entries that cannot merge must not ping-pong). */
const MAX_ECHOES = 2;
const ECHO_MEMORY = 4096;

export interface AntiEntropyIO {
  send(peer: string, msg: MessageOf<'tree'> | MessageOf<'state-delta'>): void;
  /** A session found `subtrees` differing and sent our `entries` there (a repair under way). */
  repairing?(peer: string, subtrees: number, entries: number): void;
  /**
   * Takes `bytes` from what we may still send `peer` in answers (its link's budget); false,
   * taking nothing, when that is spent. Without it answers are bounded per message only.
   */
  spend?(peer: string, bytes: number): boolean;
}

export interface AntiEntropyMetrics {
  sessions: number;
  hashesSent: number;
  entriesSent: number;
  /** Answers cut short because the asking link's budget was spent. */
  throttled: number;
}

export class AntiEntropy {
  readonly #state: CrdtGossipState;
  readonly #io: AntiEntropyIO;
  readonly #echoes = new Map<string, number>();
  #seq = 0;
  readonly metrics: AntiEntropyMetrics = { sessions: 0, hashesSent: 0, entriesSent: 0, throttled: 0 };

  constructor(state: CrdtGossipState, io: AntiEntropyIO) {
    this.#state = state;
    this.#io = io;
  }

  /** Starts a session with `peer`: sends our root. */
  start(peer: string): void {
    this.metrics.sessions++;
    this.#seq = (this.#seq + 1) >>> 0;
    this.#sendNodes(peer, this.#seq, 0, [0]);
  }

  onTree(peer: string, msg: MessageOf<'tree'>): void {
    const level = msg.level;
    if (level > DEPTH || msg.idx.length % 4 !== 0 || msg.h.length !== (msg.idx.length / 4) * 32) return;
    const idx = new DataView(msg.idx.buffer, msg.idx.byteOffset, msg.idx.byteLength);
    const tree = this.#state.tree;
    const descend: number[] = [];
    const exchange: number[] = [];
    const entries: StateEntry[] = [];
    /** Indices answered in this frame: one repeated is answered once (no amplification). */
    const seen = new Set<number>();
    for (let n = 0; n < msg.idx.length / 4; n++) {
      const i = idx.getUint32(n * 4);
      if (i >= FANOUT ** level || seen.has(i)) continue;
      seen.add(i);
      const theirs = msg.h.subarray(n * 32, n * 32 + 32);
      const action = compareTreeRoots({ level, hash: tree.node(level, i) }, { level, hash: theirs });
      if (action.kind === 'in-sync') continue;
      if (action.kind === 'exchange-bucket' || tree.count(level, i) <= SMALL_SUBTREE) {
        if (!this.#mayEcho(peer, msg.seq, level, i)) continue;
        const mine = this.#state.subtreeEntries(level, i);
        if (!this.#spend(peer, NODE_BYTES + mine.reduce((b, e) => b + e.size, 0))) break;
        exchange.push(i);
        entries.push(...mine);
        continue;
      }
      if (!this.#spend(peer, FANOUT * NODE_BYTES)) break;
      for (let c = 0; c < FANOUT; c++) descend.push(i * FANOUT + c);
    }
    if (descend.length > 0) this.#sendNodes(peer, msg.seq, level + 1, descend);
    if (exchange.length > 0) {
      this.#io.repairing?.(peer, exchange.length, entries.length);
      this.#sendEntries(peer, entries);
      // Echo our hashes: where they still differ after merging ours, they send theirs (or descend).
      this.#sendNodes(peer, msg.seq, level, exchange);
    }
  }

  #spend(peer: string, bytes: number): boolean {
    if (!this.#io.spend || this.#io.spend(peer, bytes)) return true;
    this.metrics.throttled++;
    return false;
  }

  /** Counts an echo of a subtree in this session; false once it has bounced MAX_ECHOES times. */
  #mayEcho(peer: string, seq: number, level: number, index: number): boolean {
    const key = `${peer}:${seq}:${level}:${index}`;
    const echoes = this.#echoes.get(key) ?? 0;
    if (echoes >= MAX_ECHOES) return false;
    setBounded(this.#echoes, key, echoes + 1, ECHO_MEMORY);
    return true;
  }

  #sendNodes(peer: string, seq: number, level: number, indices: number[]): void {
    const tree = this.#state.tree;
    for (let off = 0; off < indices.length; off += NODES_PER_MESSAGE) {
      const page = indices
        .slice(off, off + NODES_PER_MESSAGE)
        .filter((i) => i < (level === DEPTH ? BUCKETS : FANOUT ** level));
      const idx = new Uint8Array(page.length * 4);
      const h = new Uint8Array(page.length * 32);
      const view = new DataView(idx.buffer);
      page.forEach((i, n) => {
        view.setUint32(n * 4, i);
        h.set(tree.node(level, i), n * 32);
      });
      this.metrics.hashesSent += page.length;
      this.#io.send(peer, { type: 'tree', seq, level, idx, h, count: level === 0 ? tree.size : 0 });
    }
  }

  #sendEntries(peer: string, entries: StateEntry[]): void {
    let page: StateEntry[] = [];
    let bytes = 0;
    const flush = () => {
      if (page.length === 0) return;
      this.metrics.entriesSent += page.length;
      this.#io.send(peer, { type: 'state-delta', entries: page.map((e) => e.wire) });
      page = [];
      bytes = 0;
    };
    for (const e of entries) {
      if (bytes + e.size > DELTA_BYTES || page.length >= 512) flush();
      page.push(e);
      bytes += e.size;
    }
    flush();
  }
}
