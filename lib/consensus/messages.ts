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

interface Header {
  readonly from: string;
  readonly to: string;
  readonly term: number;
}

export type ConsensusMessage =
  /** RequestVote (`pre`: a pre-vote, which changes no term; `transfer`: leadership handed over, skips the lease). */
  | (Header & { type: 'vote'; lastIndex: number; lastTerm: number; pre: boolean; transfer: boolean })
  | (Header & { type: 'vote-reply'; granted: boolean; pre: boolean })
  /** AppendEntries. */
  | (Header & {
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
  | (Header & { type: 'append-reply'; success: boolean; index: number; hintIndex: number; hintTerm: number })
  /** The leader's heartbeat; `ctx` is the newest ReadIndex round it confirms (0: none). */
  | (Header & { type: 'heartbeat'; commit: number; ctx: number })
  | (Header & { type: 'heartbeat-reply'; ctx: number })
  /** InstallSnapshot, one chunk of `data` at byte `offset`; `done` on the last. */
  | (Header & {
      type: 'snapshot';
      index: number;
      snapTerm: number;
      voters: readonly string[];
      offset: number;
      size: number;
      chunk: Uint8Array;
    })
  /** How many bytes of snapshot `index` the follower holds. */
  | (Header & { type: 'snapshot-reply'; index: number; received: number })
  /** Leadership transfer: campaign now. */
  | (Header & { type: 'timeout-now' });

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

function isId(v: unknown, limits: MessageLimits): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= limits.maxIdLength;
}

function voters(v: unknown, limits: MessageLimits): string[] | undefined {
  if (!Array.isArray(v) || v.length > limits.maxVoters) return undefined;
  const out: string[] = [];
  for (const id of v) {
    if (!isId(id, limits) || out.includes(id)) return undefined;
    out.push(id);
  }
  return out;
}

function entry(v: unknown, limits: MessageLimits): Entry | undefined {
  if (!isObj(v) || !isIndex(v.index) || !isIndex(v.term) || v.index === 0 || v.term === 0) return undefined;
  const { index, term } = v;
  if (v.kind === 'command' && v.data instanceof Uint8Array)
    return { index, term, kind: 'command', data: v.data };
  if (v.kind === 'noop') return { index, term, kind: 'noop' };
  if (v.kind === 'config') {
    const vs = voters(v.voters, limits);
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
    const e = entry(raw[i], limits);
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
  if (!isObj(v) || !isId(v.from, limits) || !isId(v.to, limits) || !isIndex(v.term)) return undefined;
  const h = { from: v.from, to: v.to, term: v.term };
  const bool = (x: unknown) => typeof x === 'boolean';
  switch (v.type) {
    case 'vote':
      if (!isIndex(v.lastIndex) || !isIndex(v.lastTerm) || !bool(v.pre) || !bool(v.transfer))
        return undefined;
      return {
        ...h,
        type: 'vote',
        lastIndex: v.lastIndex,
        lastTerm: v.lastTerm,
        pre: v.pre as boolean,
        transfer: v.transfer as boolean,
      };
    case 'vote-reply':
      if (!bool(v.granted) || !bool(v.pre)) return undefined;
      return { ...h, type: 'vote-reply', granted: v.granted as boolean, pre: v.pre as boolean };
    case 'append': {
      if (!isIndex(v.prevIndex) || !isIndex(v.prevTerm) || !isIndex(v.commit) || v.prevTerm > v.term)
        return undefined;
      const es = entries(v, v.term, limits);
      if (!es) return undefined;
      return {
        ...h,
        type: 'append',
        prevIndex: v.prevIndex,
        prevTerm: v.prevTerm,
        entries: es,
        commit: v.commit,
      };
    }
    case 'append-reply':
      if (!bool(v.success) || !isIndex(v.index) || !isIndex(v.hintIndex) || !isIndex(v.hintTerm))
        return undefined;
      return {
        ...h,
        type: 'append-reply',
        success: v.success as boolean,
        index: v.index,
        hintIndex: v.hintIndex,
        hintTerm: v.hintTerm,
      };
    case 'heartbeat':
      if (!isIndex(v.commit) || !isIndex(v.ctx)) return undefined;
      return { ...h, type: 'heartbeat', commit: v.commit, ctx: v.ctx };
    case 'heartbeat-reply':
      if (!isIndex(v.ctx)) return undefined;
      return { ...h, type: 'heartbeat-reply', ctx: v.ctx };
    case 'snapshot': {
      const vs = voters(v.voters, limits);
      const chunk = v.chunk;
      if (!vs || vs.length === 0 || !isIndex(v.index) || !isIndex(v.snapTerm) || !isIndex(v.offset))
        return undefined;
      if (!isIndex(v.size) || v.size > limits.maxSnapshotBytes || !(chunk instanceof Uint8Array))
        return undefined;
      if (chunk.length > limits.maxBytes || v.offset + chunk.length > v.size || v.snapTerm > v.term)
        return undefined;
      if (v.index === 0 || v.snapTerm === 0) return undefined;
      return {
        ...h,
        type: 'snapshot',
        index: v.index,
        snapTerm: v.snapTerm,
        voters: vs,
        offset: v.offset,
        size: v.size,
        chunk,
      };
    }
    case 'snapshot-reply':
      if (!isIndex(v.index) || !isIndex(v.received)) return undefined;
      return { ...h, type: 'snapshot-reply', index: v.index, received: v.received };
    case 'timeout-now':
      return { ...h, type: 'timeout-now' };
    default:
      return undefined;
  }
}
