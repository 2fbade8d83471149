/**
 * The five properties of Figure 3 of the Raft paper, checked as a run goes: every ready
 * record of every node is shown to `observe` (after the owner persisted it), and each
 * violation is recorded with what broke. For tests and simulations; not part of a node.
 */
import type { Entry } from '../messages.ts';
import type { Ready } from '../raft.ts';

/** A stable fingerprint of an entry's content. */
function fingerprint(e: Entry): string {
  if (e.kind === 'noop') return 'n';
  if (e.kind === 'config') return `c${e.voters.join(',')}`;
  let h = 0x811c9dc5;
  for (const b of e.data) h = Math.imul(h ^ b, 0x01000193);
  return `d${e.data.length}.${h >>> 0}`;
}

export type RaftProperty =
  | 'election-safety'
  | 'leader-append-only'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety';

export interface PropertyViolation {
  readonly property: RaftProperty;
  readonly detail: string;
}

export class RaftInvariants {
  readonly violations: PropertyViolation[] = [];
  /** Leader of each term. */
  readonly #leaders = new Map<number, string>();
  /** (index:term) → (prevTerm:content) of every entry any node persisted. */
  readonly #entries = new Map<string, string>();
  /** Index → (term:content) of every entry applied anywhere (committed). */
  readonly #applied = new Map<number, string>();
  /** Per node: its persisted last index and the term it last saw itself lead. */
  readonly #nodes = new Map<string, { last: number; ledTerm: number }>();
  /** Highest applied index per node. */
  readonly #appliedBy = new Map<string, number>();

  /** The node restarted from storage whose last index is `last` and whose state machine is at `applied` (its snapshot's). */
  restarted(id: string, last: number, applied: number): void {
    const n = this.#nodes.get(id);
    if (n) n.last = last;
    this.#appliedBy.set(id, applied);
  }

  /**
   * One ready record of `id`, after it was persisted; `termAt` reads the node's log (after
   * the record) for the completeness check.
   */
  observe(id: string, r: Ready, termAt: (index: number) => number | undefined, snapshotIndex: number): void {
    let n = this.#nodes.get(id);
    if (!n) {
      n = { last: 0, ledTerm: 0 };
      this.#nodes.set(id, n);
    }
    const leading = r.role === 'Leader';
    if (leading) {
      const holder = this.#leaders.get(r.term);
      if (holder === undefined) this.#leaders.set(r.term, id);
      else if (holder !== id) this.#fail('election-safety', `term ${r.term} has leaders ${holder} and ${id}`);
    }
    if (r.snapshot) n.last = r.snapshot.index;
    const first = r.entries[0];
    if (first && leading && first.index <= n.last)
      this.#fail(
        'leader-append-only',
        `${id}, leader of term ${r.term}, rewrote its log from ${first.index} (last ${n.last})`,
      );
    let prevTerm = first ? termAt(first.index - 1) : undefined;
    for (const e of r.entries) {
      const key = `${e.index}:${e.term}`;
      const value = `${prevTerm ?? '?'}:${fingerprint(e)}`;
      const seen = this.#entries.get(key);
      if (seen === undefined) this.#entries.set(key, value);
      else if (seen !== value && !seen.startsWith('?') && !value.startsWith('?'))
        this.#fail('log-matching', `entry ${key} differs between logs (${seen} vs ${value})`);
      prevTerm = e.term;
    }
    if (first) n.last = r.entries.at(-1)!.index;
    if (leading && n.ledTerm !== r.term) {
      n.ledTerm = r.term;
      this.#checkCompleteness(id, r.term, termAt, snapshotIndex);
    }
    let appliedTo = this.#appliedBy.get(id) ?? 0;
    if (r.snapshot) appliedTo = r.snapshot.index;
    for (const e of r.committed) {
      const value = `${e.term}:${fingerprint(e)}`;
      const seen = this.#applied.get(e.index);
      if (seen === undefined) this.#applied.set(e.index, value);
      else if (seen !== value)
        this.#fail(
          'state-machine-safety',
          `${id} applied ${value} at ${e.index} where another applied ${seen}`,
        );
      if (e.index !== appliedTo + 1)
        this.#fail('state-machine-safety', `${id} applied ${e.index} after ${appliedTo}`);
      appliedTo = e.index;
    }
    this.#appliedBy.set(id, appliedTo);
  }

  /** A new leader holds every entry committed so far (those it compacted were committed by it). */
  #checkCompleteness(
    id: string,
    term: number,
    termAt: (index: number) => number | undefined,
    snapshotIndex: number,
  ): void {
    for (const [index, value] of this.#applied) {
      if (index <= snapshotIndex) continue;
      const t = termAt(index);
      if (t === undefined || `${t}` !== value.slice(0, value.indexOf(':')))
        this.#fail(
          'leader-completeness',
          `${id}, leader of term ${term}, lacks committed entry ${index} (${value})`,
        );
    }
  }

  #fail(property: RaftProperty, detail: string): void {
    if (this.violations.length < 100) this.violations.push({ property, detail });
  }
}
