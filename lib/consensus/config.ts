/**
 * Cluster membership as the log defines it: the voter set of the snapshot, then each config
 * entry after it. A config entry takes effect as soon as it is in the log (committed or
 * not, §4.1 of Ongaro's dissertation), so truncating the log can bring an older set back.
 */

interface Change {
  readonly index: number;
  readonly voters: readonly string[];
}

export class ConfigHistory {
  /** Oldest first; the first is the snapshot's set. */
  #changes: Change[];

  constructor(index: number, voters: readonly string[]) {
    this.#changes = [{ index, voters }];
  }

  /** The voter set in force now (the newest in the log). */
  get voters(): readonly string[] {
    return this.#changes.at(-1)!.voters;
  }

  /** Log index of the newest config entry (or the snapshot's). */
  get latestIndex(): number {
    return this.#changes.at(-1)!.index;
  }

  /** The set in force at `index` (for a snapshot taken there). */
  at(index: number): readonly string[] {
    for (let i = this.#changes.length - 1; i > 0; i--)
      if (this.#changes[i]!.index <= index) return this.#changes[i]!.voters;
    return this.#changes[0]!.voters;
  }

  /** A snapshot replaced the log. */
  reset(index: number, voters: readonly string[]): void {
    this.#changes = [{ index, voters }];
  }

  /** Entries from `index` on were replaced: their changes no longer hold. */
  truncateFrom(index: number): void {
    while (this.#changes.length > 1 && this.#changes.at(-1)!.index >= index) this.#changes.pop();
  }

  add(index: number, voters: readonly string[]): void {
    this.#changes.push({ index, voters });
  }
}

/** Votes needed among `n` voters. */
export function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** The highest index a quorum of `voters` holds, given each voter's match index. */
export function quorumIndex(voters: readonly string[], matchOf: (id: string) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[quorum(voters.length) - 1]!;
}

/** Whether `yes` (ids) holds a quorum of `voters`. */
export function hasQuorum(voters: readonly string[], yes: (id: string) => boolean): boolean {
  let n = 0;
  for (const v of voters) if (yes(v)) n++;
  return n >= quorum(voters.length);
}
