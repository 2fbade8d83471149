import type { NodeState } from '../membership/node-state.ts';
import type { StateTable } from '../wire/entries.ts';

export interface MemberStateChange {
  nodeId: string;
  previous: NodeState | null;
  state: NodeState;
  incarnation: number;
}

/** Everything a MeshNode reports. Subscribe with node.on(type, handler). */
export interface MeshEvents extends Record<string, unknown> {
  /** A member appeared, or came back (Active after Unreachable/Left/unknown). */
  'member-joined': MemberStateChange;
  /** Any member state change, this node's own included. */
  'member-state': MemberStateChange;
  /** A member said goodbye. */
  'member-left': MemberStateChange;
  /** An Unreachable or Left member was forgotten after the reap time. */
  'member-reaped': { nodeId: string };
  /** This node is in the cluster (its state went Joining → Active). */
  joined: { incarnation: number };
  /**
   * This node is still Joining `strandedAfterMs` (default 10 s) after start(): no seed
   * answered, or it was given none (join() not called yet, e.g. a signaling server it cannot
   * reach). Emitted once; `joined` follows if it gets in later. `seeds` says, for each address
   * join() was given, why it has not served: the last dial failure, `no answer yet`, or that
   * no transport of this node can dial it. With no `stranded` listener the node emits it as
   * an `error` (context `joining the cluster`), so it reaches the console at least.
   */
  stranded: { waitedMs: number; reason: string; seeds: Array<{ address: string; error: string }> };
  /** This node suspected a member after a failed probe. */
  suspected: { nodeId: string; incarnation: number };
  /** This node refuted a suspicion (or an old goodbye) about itself. */
  refuted: { incarnation: number; by: string };
  /** Another process uses this node's identity. */
  'identity-conflict': { incarnation: number };
  'link-up': { nodeId: string; transport: string };
  'link-down': { nodeId: string; reason: string };
  /**
   * An entry of the replicated state changed here: a write of this node (no `from`) or a
   * newer version from neighbour `from` (delta gossip or anti-entropy).
   */
  'state-changed': { table: StateTable; origin: string; key: string; deleted: boolean; from?: string };
  /** Anti-entropy with `peer` found `subtrees` of the state differing and sent our `entries` there. */
  repairing: { peer: string; subtrees: number; entries: number };
  /** Something failed that the node survived (storage write, a throwing handler). */
  error: { error: unknown; context: string };
}
