/**
 * The member list of one node, stored column-wise in typed arrays indexed by interned id:
 * about 25 bytes per member plus a pointer to its (shared) alive claim, so 10,000 simulated
 * nodes can each know 10,000 members. The table holds a reference to each member's id in
 * the interner from `admit` until `remove`.
 */
import type { Claim } from './claims.ts';
import type { IdInterner } from './interner.ts';
import { StateCode } from './node-state.ts';

export class MemberTable {
  readonly ids: IdInterner;
  #state = new Uint8Array(16);
  #incarnation = new Uint32Array(16);
  #changedAt = new Float64Array(16);
  /** Monotonic ms of the last sign that the member is reachable (see Membership.vouch). */
  #vouchedAt = new Float64Array(16);
  #alive: Array<Claim | undefined> = [];
  /** The suspect / unreachable / leave claim behind a non-Active state (sparse). */
  readonly #accusation = new Map<number, Claim>();
  readonly #counts = new Uint32Array(6);
  /** One past the highest index ever set (iteration bound). */
  #end = 0;

  constructor(ids: IdInterner) {
    this.ids = ids;
  }

  /** Members known (any state except Unknown). */
  get size(): number {
    let n = 0;
    for (let s = StateCode.Joining; s <= StateCode.Left; s++) n += this.#counts[s]!;
    return n;
  }

  count(state: StateCode): number {
    return this.#counts[state]!;
  }

  /** Indices of known members, ascending. A scan of the state column: no per-member set. */
  *known(): IterableIterator<number> {
    const state = this.#state;
    for (let i = 0; i < this.#end; i++) if (state[i] !== StateCode.Unknown) yield i;
  }

  state(i: number): StateCode {
    return (i < this.#state.length ? this.#state[i] : StateCode.Unknown) as StateCode;
  }

  incarnation(i: number): number {
    return i < this.#incarnation.length ? this.#incarnation[i]! : 0;
  }

  changedAt(i: number): number {
    return i < this.#changedAt.length ? this.#changedAt[i]! : 0;
  }

  vouchedAt(i: number): number {
    return i < this.#vouchedAt.length ? this.#vouchedAt[i]! : 0;
  }

  vouch(i: number, at: number): void {
    this.#ensure(i);
    this.#vouchedAt[i] = at;
  }

  /** The index for a member about to be set for the first time (a reference to its id). */
  admit(id: string): number {
    const i = this.ids.lookup(id);
    if (i !== undefined && this.state(i) !== StateCode.Unknown) return i;
    return this.ids.acquire(id);
  }

  aliveClaim(i: number): Claim | undefined {
    return this.#alive[i];
  }

  accusation(i: number): Claim | undefined {
    return this.#accusation.get(i);
  }

  /** Records a member's new state; `alive` replaces the alive claim when given. */
  set(i: number, state: StateCode, incarnation: number, at: number, claim: Claim): void {
    this.#ensure(i);
    const old = this.#state[i]!;
    if (old !== StateCode.Unknown) this.#counts[old]!--;
    this.#counts[state]!++;
    this.#state[i] = state;
    this.#incarnation[i] = incarnation;
    this.#changedAt[i] = at;
    if (claim.kind === 'alive') {
      this.#alive[i] = claim;
      this.#accusation.delete(i);
    } else {
      this.#accusation.set(i, claim);
    }
    if (i >= this.#end) this.#end = i + 1;
  }

  /** A state change with no new claim (self: Joining → Active). */
  setState(i: number, state: StateCode, at: number): void {
    this.#ensure(i);
    if (this.#state[i] !== StateCode.Unknown) this.#counts[this.#state[i]!]!--;
    this.#counts[state]!++;
    this.#state[i] = state;
    this.#changedAt[i] = at;
    if (i >= this.#end) this.#end = i + 1;
  }

  /** Forgets a member entirely (reaped), and releases its id. */
  remove(i: number): void {
    if (this.state(i) === StateCode.Unknown) return;
    this.#counts[this.#state[i]!]!--;
    this.#state[i] = StateCode.Unknown;
    this.#incarnation[i] = 0;
    this.#vouchedAt[i] = 0;
    this.#alive[i] = undefined;
    this.#accusation.delete(i);
    this.ids.release(i);
  }

  #ensure(i: number): void {
    if (i < this.#state.length) return;
    let cap = this.#state.length;
    while (cap <= i) cap *= 2;
    const grow = <T extends Uint8Array | Uint32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(cap);
      next.set(old);
      return next;
    };
    this.#state = grow(this.#state, (n) => new Uint8Array(n));
    this.#incarnation = grow(this.#incarnation, (n) => new Uint32Array(n));
    this.#changedAt = grow(this.#changedAt, (n) => new Float64Array(n));
    this.#vouchedAt = grow(this.#vouchedAt, (n) => new Float64Array(n));
  }
}
