/**
 * The lifecycle of a member: Joining → Active → Suspect → Unreachable / Left, and the SWIM
 * precedence rules that decide which claim about a member wins.
 */

export const NodeState = {
  Joining: 'Joining',
  Active: 'Active',
  Suspect: 'Suspect',
  Unreachable: 'Unreachable',
  Left: 'Left',
} as const;
export type NodeState = (typeof NodeState)[keyof typeof NodeState];

/** Compact codes used in member tables (0 = not known). */
export const StateCode = { Unknown: 0, Joining: 1, Active: 2, Suspect: 3, Unreachable: 4, Left: 5 } as const;
export type StateCode = (typeof StateCode)[keyof typeof StateCode];

const NAMES: Record<number, NodeState> = {
  1: NodeState.Joining,
  2: NodeState.Active,
  3: NodeState.Suspect,
  4: NodeState.Unreachable,
  5: NodeState.Left,
};

export function stateName(code: number): NodeState {
  const name = NAMES[code];
  if (!name) throw new RangeError(`no state with code ${code}`);
  return name;
}

/** A member counts as reachable (queries, probes) while Active or Suspect. */
export function isReachable(code: number): boolean {
  return code === StateCode.Active || code === StateCode.Suspect;
}

/** At equal incarnation: Active < Suspect < Unreachable < Left (a goodbye is final for that incarnation). */
function rank(code: number): number {
  return code === StateCode.Joining ? 0 : code - StateCode.Active;
}

/**
 * Whether a claim putting a member in `state` at `incarnation` overrides what is known.
 * Higher incarnation wins; at equal incarnation the more severe state wins, so an alive
 * claim at the same incarnation never clears a suspicion: the member must refute with a
 * higher one. Claims about unknown members are judged by the caller (only alive creates).
 */
export function supersedes(
  state: StateCode,
  incarnation: number,
  current: StateCode,
  currentIncarnation: number,
): boolean {
  if (current === StateCode.Unknown) return true;
  if (incarnation !== currentIncarnation) return incarnation > currentIncarnation;
  return rank(state) > rank(current);
}
