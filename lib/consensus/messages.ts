/**
 * What Raft cores say to each other, and the check every received message passes first.
 * Messages come from the network, so `parseMessage` treats its input as hostile: anything
 * malformed, oversized or self-contradictory is refused (the core drops and counts it).
 */

/** One slot of the replicated log. */
export type Entry =
  /** An application command (opaque bytes: the state machine decodes them). */
  | { readonly index: number; readonly term: number; readonly kind: 'command'; readonly data: Uint8Array }
  /** A membership change: the whole voter set from this entry on (effective once appended). */
  | {
      readonly index: number;
      readonly term: number;
      readonly kind: 'config';
      readonly voters: readonly string[];
    }
  /** The empty entry a new leader appends to commit its predecessors' entries. */
  | { readonly index: number; readonly term: number; readonly kind: 'noop' };

/** A state machine image covering the log up to `index` (inclusive). */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  /** The voter set in force at `index`. */
  readonly voters: readonly string[];
  readonly data: Uint8Array;
}

/** The fields every consensus message carries. */
export interface MessageHeader {
  readonly from: string;
  readonly to: string;
  readonly term: number;
}

export type ConsensusMessage =
  /** RequestVote (`pre`: a pre-vote, which changes no term; `transfer`: leadership handed over, skips the lease). */
  | (MessageHeader & { type: 'vote'; lastIndex: number; lastTerm: number; pre: boolean; transfer: boolean })
  | (MessageHeader & { type: 'vote-reply'; granted: boolean; pre: boolean })
  /** AppendEntries. */
  | (MessageHeader & {
      type: 'append';
      prevIndex: number;
      prevTerm: number;
      entries: readonly Entry[];
      commit: number;
    })
  /**
   * Success: `index` is the follower's last index matching the leader. Failure: `index` is
   * the rejected prevIndex and (`hintIndex`, `hintTerm`) the follower's last entry at or below it
   * whose term is at most the leader's prevTerm (fast back-tracking).
   */
  | (MessageHeader & {
      type: 'append-reply';
      success: boolean;
      index: number;
      hintIndex: number;
      hintTerm: number;
    })
  /** The leader's heartbeat; `ctx` is the newest ReadIndex round it confirms (0: none). */
  | (MessageHeader & { type: 'heartbeat'; commit: number; ctx: number })
  | (MessageHeader & { type: 'heartbeat-reply'; ctx: number })
  /** InstallSnapshot, one chunk of `data` at byte `offset`; `done` on the last. */
  | (MessageHeader & {
      type: 'snapshot';
      index: number;
      snapTerm: number;
      voters: readonly string[];
      offset: number;
      size: number;
      chunk: Uint8Array;
    })
  /** How many bytes of snapshot `index` the follower holds. */
  | (MessageHeader & { type: 'snapshot-reply'; index: number; received: number })
  /** Leadership transfer: campaign now. */
  | (MessageHeader & { type: 'timeout-now' });

export type ConsensusMessageType = ConsensusMessage['type'];

/** Bounds on what a received message may carry. */
export interface MessageLimits {
  /** Longest node id. */
  maxIdLength: number;
  /** Most entries in one append. */
  maxEntries: number;
  /** Most bytes of command data in one append, and of one snapshot chunk. */
  maxBytes: number;
  /** Most voters in a config entry or snapshot. */
  maxVoters: number;
  /** Largest snapshot accepted. */
  maxSnapshotBytes: number;
}

export const defaultMessageLimits: MessageLimits = {
  maxIdLength: 256,
  maxEntries: 4096,
  maxBytes: 4 * 1024 * 1024,
  maxVoters: 64,
  maxSnapshotBytes: 256 * 1024 * 1024,
};

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isBool(v: unknown): v is boolean {
  return typeof v === 'boolean';
}

function isId(v: unknown, limits: MessageLimits): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= limits.maxIdLength;
}

/** A voter set as a message or a stored record carries it, or undefined. */
export function parseVoters(v: unknown, limits: MessageLimits = defaultMessageLimits): string[] | undefined {
  if (!Array.isArray(v) || v.length > limits.maxVoters) return undefined;
  const out: string[] = [];
  for (const id of v) {
    if (!isId(id, limits) || out.includes(id)) return undefined;
    out.push(id);
  }
  return out;
}

/** One log entry as a message or a stored record carries it, or undefined. */
export function parseEntry(v: unknown, limits: MessageLimits = defaultMessageLimits): Entry | undefined {
  if (!isObj(v) || !isIndex(v.index) || !isIndex(v.term) || v.index === 0 || v.term === 0) return undefined;
  const { index, term } = v;
  if (v.kind === 'command' && v.data instanceof Uint8Array)
    return { index, term, kind: 'command', data: v.data };
  if (v.kind === 'noop') return { index, term, kind: 'noop' };
  if (v.kind === 'config') {
    const vs = parseVoters(v.voters, limits);
    if (vs && vs.length > 0) return { index, term, kind: 'config', voters: vs };
  }
  return undefined;
}

/** Entries of an append: consecutive after prevIndex, terms rising from prevTerm up to the message's term. */
function entries(m: Obj, term: number, limits: MessageLimits): Entry[] | undefined {
  const raw = m.entries;
  if (!Array.isArray(raw) || raw.length > limits.maxEntries) return undefined;
  const out: Entry[] = [];
  let bytes = 0;
  let lastTerm = m.prevTerm as number;
  for (let i = 0; i < raw.length; i++) {
    const e = parseEntry(raw[i], limits);
    if (!e || e.index !== (m.prevIndex as number) + 1 + i || e.term < lastTerm || e.term > term)
      return undefined;
    if (e.kind === 'command') bytes += e.data.length;
    if (bytes > limits.maxBytes) return undefined;
    lastTerm = e.term;
    out.push(e);
  }
  return out;
}

/**
 * A received message, checked field by field into a fresh object, or undefined when it is
 * malformed (unknown type, missing or ill-typed field, entries out of order, oversized).
 */
export function parseMessage(
  v: unknown,
  limits: MessageLimits = defaultMessageLimits,
): ConsensusMessage | undefined {
  if (!isObj(v)) return undefined;
  const { from, to, term } = v;
  if (!isId(from, limits) || !isId(to, limits) || !isIndex(term)) return undefined;
  switch (v.type) {
    case 'vote': {
      const { lastIndex, lastTerm, pre, transfer } = v;
      if (!isIndex(lastIndex) || !isIndex(lastTerm) || !isBool(pre) || !isBool(transfer)) return undefined;
      return { type: 'vote', from, to, term, lastIndex, lastTerm, pre, transfer };
    }
    case 'vote-reply': {
      const { granted, pre } = v;
      if (!isBool(granted) || !isBool(pre)) return undefined;
      return { type: 'vote-reply', from, to, term, granted, pre };
    }
    case 'append': {
      const { prevIndex, prevTerm, commit } = v;
      if (!isIndex(prevIndex) || !isIndex(prevTerm) || !isIndex(commit) || prevTerm > term) return undefined;
      const es = entries(v, term, limits);
      if (!es) return undefined;
      return { type: 'append', from, to, term, prevIndex, prevTerm, entries: es, commit };
    }
    case 'append-reply': {
      const { success, index, hintIndex, hintTerm } = v;
      if (!isBool(success) || !isIndex(index) || !isIndex(hintIndex) || !isIndex(hintTerm)) return undefined;
      return { type: 'append-reply', from, to, term, success, index, hintIndex, hintTerm };
    }
    case 'heartbeat': {
      const { commit, ctx } = v;
      if (!isIndex(commit) || !isIndex(ctx)) return undefined;
      return { type: 'heartbeat', from, to, term, commit, ctx };
    }
    case 'heartbeat-reply':
      if (!isIndex(v.ctx)) return undefined;
      return { type: 'heartbeat-reply', from, to, term, ctx: v.ctx };
    case 'snapshot': {
      const { index, snapTerm, offset, size, chunk } = v;
      const vs = parseVoters(v.voters, limits);
      if (!vs || vs.length === 0 || !isIndex(index) || !isIndex(snapTerm) || !isIndex(offset))
        return undefined;
      if (!isIndex(size) || size > limits.maxSnapshotBytes || !(chunk instanceof Uint8Array))
        return undefined;
      if (chunk.length > limits.maxBytes || offset + chunk.length > size || snapTerm > term) return undefined;
      if (index === 0 || snapTerm === 0) return undefined;
      return { type: 'snapshot', from, to, term, index, snapTerm, voters: vs, offset, size, chunk };
    }
    case 'snapshot-reply': {
      const { index, received } = v;
      if (!isIndex(index) || !isIndex(received)) return undefined;
      return { type: 'snapshot-reply', from, to, term, index, received };
    }
    case 'timeout-now':
      return { type: 'timeout-now', from, to, term };
    default:
      return undefined;
  }
}
