/**
 * A linearizability checker for the key/value model (get / put / delete / cas): Wing &
 * Gong's search with Lowe's memoization of (linearized set, state) pairs, as in Porcupine,
 * run separately for each key (a history is linearizable iff each key's sub-history is:
 * P-compositionality). For tests and simulations; not part of a node.
 *
 * An operation whose outcome is unknown (`return: null`: it timed out) may take effect at
 * any point after its call, or never: its return is taken as +∞, and a read of unknown
 * outcome constrains nothing and is left out.
 */

/** One client-visible operation, in the history format of `weftmesh sim --history`. */
export interface HistoryOp {
  readonly client: number;
  readonly f: 'read' | 'write' | 'cas' | 'delete';
  readonly key: string;
  /** write: the value; cas: [expected, new] (null: absent); read, delete: none. */
  readonly value?: string | null | readonly [string | null, string | null];
  /** Simulated ms. */
  readonly call: number;
  /** Simulated ms, or null when the outcome is unknown. */
  readonly return: number | null;
  /** read: the value or null; cas: whether it succeeded. */
  readonly result?: string | null | boolean;
}

export interface LinearizabilityResult {
  /** 'ok': linearizable; 'violation': not; 'unknown': the search budget ran out. */
  readonly verdict: 'ok' | 'violation' | 'unknown';
  /** The first key whose history is not linearizable (or undecided). */
  readonly key?: string;
  /** Search steps taken over all keys. */
  readonly steps: number;
}

type State = string | null;

interface Node {
  op: number;
  call: boolean;
  time: number;
  match: Node | undefined;
  prev: Node | undefined;
  next: Node | undefined;
}

/** The model: does `op` fit `state`, and what state follows. */
function step(state: State, op: HistoryOp): { ok: boolean; state: State } {
  switch (op.f) {
    case 'read':
      return { ok: op.result === state, state };
    case 'write':
      return { ok: true, state: (op.value as string | null | undefined) ?? null };
    case 'delete':
      return { ok: true, state: null };
    case 'cas': {
      const [expected, value] = op.value as readonly [State, State];
      const matches = state === expected;
      if (op.return !== null && op.result !== matches) return { ok: false, state };
      return { ok: true, state: matches ? value : state };
    }
  }
}

/** Checks one key's operations; `budget` bounds the search steps. */
function checkKey(
  ops: readonly HistoryOp[],
  budget: number,
): { verdict: 'ok' | 'violation' | 'unknown'; steps: number } {
  const events: Node[] = [];
  ops.forEach((op, i) => {
    const call: Node = {
      op: i,
      call: true,
      time: op.call,
      match: undefined,
      prev: undefined,
      next: undefined,
    };
    const ret: Node = {
      op: i,
      call: false,
      time: op.return ?? Number.POSITIVE_INFINITY,
      match: undefined,
      prev: undefined,
      next: undefined,
    };
    call.match = ret;
    events.push(call, ret);
  });
  // By time; at equal times calls first (overlapping: the more permissive reading).
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? 0 : a.call ? -1 : 1));
  const head: Node = { op: -1, call: false, time: 0, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (n: Node) => {
    n.prev!.next = n.next;
    if (n.next) n.next.prev = n.prev;
    const m = n.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (n: Node) => {
    const m = n.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    n.prev!.next = n;
    if (n.next) n.next.prev = n;
  };
  const words = new Uint32Array(Math.ceil(ops.length / 32));
  const cache = new Set<string>();
  const stack: { node: Node; state: State }[] = [];
  let state: State = null;
  let entry = head.next;
  let steps = 0;
  while (head.next) {
    if (++steps > budget) return { verdict: 'unknown', steps };
    if (!entry) return { verdict: 'violation', steps };
    if (entry.call) {
      const r = step(state, ops[entry.op]!);
      if (r.ok) {
        words[entry.op >> 5]! |= 1 << (entry.op & 31);
        const key = `${words.join(',')}|${r.state === null ? '' : `=${r.state}`}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ node: entry, state });
          state = r.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        words[entry.op >> 5]! &= ~(1 << (entry.op & 31));
      }
      entry = entry.next;
    } else {
      // An operation returned before any order placed it: undo the last choice.
      const top = stack.pop();
      if (!top) return { verdict: 'violation', steps };
      state = top.state;
      words[top.node.op >> 5]! &= ~(1 << (top.node.op & 31));
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return { verdict: 'ok', steps };
}

/** Checks a whole history, key by key (at most `budget` search steps in all). */
export function checkLinearizable(history: readonly HistoryOp[], budget = 5_000_000): LinearizabilityResult {
  const byKey = new Map<string, HistoryOp[]>();
  for (const op of history) {
    if (op.f === 'read' && op.return === null) continue;
    const ops = byKey.get(op.key);
    if (ops) ops.push(op);
    else byKey.set(op.key, [op]);
  }
  let steps = 0;
  for (const [key, ops] of byKey) {
    const r = checkKey(ops, budget - steps);
    steps += r.steps;
    if (r.verdict !== 'ok') return { verdict: r.verdict, key, steps };
  }
  return { verdict: 'ok', steps };
}

/** Reads a history written one JSON object per line (blank lines ignored). */
export function parseHistory(text: string): HistoryOp[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as HistoryOp);
}
