/**
 * Voters chosen automatically from stable members (MeshConsensus without a `voters` list).
 * Pure rules, so that they can be read and tested alone; MeshConsensus applies them:
 *
 * - Founding: a node with a pristine log founds a one-voter group when it has been Active
 *   for `stableMs`, every Active member it sees answered its group probe, none of them is
 *   in a group, and no member running consensus has a lower node id (`mayFound`,
 *   `foundingAllowed`).
 * - Growth and replacement, at the leader, through the Raft log, one server at a time: a
 *   voter is dead when the leader's membership view does not show it Active and the leader
 *   has not heard a Raft message from it for `stableMs`; a dead voter is removed only once a
 *   replacement is known, and the voter set grows to `voterCount` from stable members, most
 *   senior first (`planVoters`).
 */

/** What the rules use of a member (a MeshNode's `MemberInfo` has it). */
export interface MemberView {
  readonly nodeId: string;
  readonly state: string;
  /** Monotonic ms (the node's Env clock) of this member's last state change as seen here. */
  readonly changedAt: number;
}

/** A member's answer to a group probe: the voters it knows of and its leader. */
export interface GroupAnswer {
  readonly voters: readonly string[];
  readonly leader: string;
}

/** The outcome of probing one member: its answer, `incapable` (no consensus there), `unknown` (no answer in time). */
export type ProbeResult = GroupAnswer | 'incapable' | 'unknown';

export type VoterPlan =
  | { readonly kind: 'none' }
  /** Ask this member whether it runs consensus before choosing it. */
  | { readonly kind: 'probe'; readonly id: string }
  | { readonly kind: 'add'; readonly id: string }
  | { readonly kind: 'remove'; readonly id: string };

export interface VoterPlanInput {
  readonly self: string;
  readonly voters: readonly string[];
  readonly members: readonly MemberView[];
  readonly now: number;
  readonly stableMs: number;
  readonly voterCount: number;
  /** When the leader last heard a Raft message from `id` (at least when it became leader). */
  heardAt(id: string): number;
  /** Whether `id` runs consensus: true, false, or undefined when not known. */
  capable(id: string): boolean | undefined;
}

const ACTIVE = 'Active';

/** Whether `m` has been Active for at least `stableMs` in this node's view. */
export function isStable(m: MemberView, now: number, stableMs: number): boolean {
  return m.state === ACTIVE && now - m.changedAt >= stableMs;
}

/**
 * Members that may become voters, best first: stable, not voters, not `self`; the most
 * senior (Active the longest in this node's view) first, node id breaking ties. Seniority is
 * what a member cannot claim about itself: it is measured here, and any state change
 * (a suspicion it refuted, a restart) starts it again.
 */
export function candidates(input: Omit<VoterPlanInput, 'heardAt' | 'capable' | 'voterCount'>): string[] {
  const { self, voters, now, stableMs } = input;
  return input.members
    .filter((m) => m.nodeId !== self && !voters.includes(m.nodeId) && isStable(m, now, stableMs))
    .sort((a, b) => a.changedAt - b.changedAt || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
    .map((m) => m.nodeId);
}

/** Voters (not `self`) neither Active in the view nor heard from in Raft for `stableMs`. */
export function deadVoters(input: VoterPlanInput): string[] {
  const active = new Set(input.members.filter((m) => m.state === ACTIVE).map((m) => m.nodeId));
  return input.voters.filter(
    (v) => v !== input.self && !active.has(v) && input.now - input.heardAt(v) >= input.stableMs,
  );
}

/** The leader's next single-server change, if any (see the module comment). */
export function planVoters(input: VoterPlanInput): VoterPlan {
  const dead = deadVoters(input);
  if (dead.length === 0 && input.voters.length >= input.voterCount) return { kind: 'none' };
  for (const id of candidates(input)) {
    const known = input.capable(id);
    if (known === false) continue;
    if (known === undefined) return { kind: 'probe', id };
    return dead.length > 0 ? { kind: 'remove', id: dead[0]! } : { kind: 'add', id };
  }
  return { kind: 'none' };
}

/**
 * Before probing: may this pristine node found a group? It must be stable itself, and no
 * Active member with a lower id may be known to run consensus (`lowerCapable`).
 */
export function mayFound(
  self: string,
  members: readonly MemberView[],
  now: number,
  stableMs: number,
  lowerCapable: (id: string) => boolean,
): boolean {
  const me = members.find((m) => m.nodeId === self);
  if (!me || !isStable(me, now, stableMs)) return false;
  return !members.some((m) => m.state === ACTIVE && m.nodeId < self && lowerCapable(m.nodeId));
}

/**
 * After probing every Active member: found only if all answered, none is in a group, and
 * none that runs consensus has a lower id. Two nodes that can reach each other never both
 * found (the lower one's probe tells the higher one it exists, and the higher one's answer
 * shows its group if it founded first); nodes that cannot see each other at all can.
 */
export function foundingAllowed(self: string, probed: ReadonlyMap<string, ProbeResult>): boolean {
  for (const [id, r] of probed) {
    if (r === 'unknown') return false;
    if (r === 'incapable') continue;
    if (r.voters.length > 0 || r.leader !== '' || id < self) return false;
  }
  return true;
}
