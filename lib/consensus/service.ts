/**
 * Consensus as a service a MeshNode is built with (`consensus: consensus()` or
 * `consensus({ voters })`, with
 * `messaging: messaging()`): at start() the node builds a MeshConsensus over its own
 * messaging and Env, reached as `node.consensus`, and closes it with the node. The node
 * names this service by type only, so an application that does not import
 * `weftmesh/consensus` ships no Raft.
 */
import { atLeast, check, positive } from '../node/option-checks.ts';
import type { Env } from '../time/types.ts';
import { type ConsensusMessenger, MeshConsensus, type MeshConsensusOptions } from './mesh.ts';
import type { MemberView } from './voters.ts';

/** What the service uses of a MeshNode: its messaging, membership view, freeze state and Env. */
export interface ConsensusNode extends ConsensusMessenger {
  readonly env: Env;
  members(): readonly MemberView[];
  readonly frozen: boolean;
}

/** MeshConsensus's settings; the node supplies the messenger and the Env. */
export type ConsensusOptions = Omit<MeshConsensusOptions, 'messenger' | 'env'>;

export interface ConsensusService {
  readonly options: Readonly<ConsensusOptions>;
  /** The node's MeshConsensus, built and started at the node's start(). @internal */
  create(node: ConsensusNode): MeshConsensus;
}

/**
 * The consensus service with these settings; throws ConfigError for one out of range.
 * `voters` are the founding voters' node ids (empty for a node the leader will add);
 * without `voters`, they are chosen automatically from stable members (`voterCount`,
 * `stableMs`; docs/CONSENSUS.md).
 */
export function consensus(options: ConsensusOptions = {}): ConsensusService {
  const given = options?.voters;
  const voters: readonly unknown[] = Array.isArray(given) ? given : [];
  check(
    given === undefined || (Array.isArray(given) && voters.every((v) => typeof v === 'string' && v !== '')),
    'consensus.voters',
    'must be an array of node ids',
  );
  check(
    options.voterCount === undefined || options.voterCount === 3 || options.voterCount === 5,
    'consensus.voterCount',
    'must be 3 or 5',
  );
  positive(options.stableMs, 'consensus.stableMs');
  check(new Set(voters).size === voters.length, 'consensus.voters', 'must not name a node twice');
  positive(options.tickMs, 'consensus.tickMs');
  positive(options.timeoutMs, 'consensus.timeoutMs');
  atLeast(options.compactEvery, 1, 'consensus.compactEvery');
  const raft = options.raft ?? {};
  atLeast(raft.heartbeatTicks, 1, 'consensus.raft.heartbeatTicks');
  atLeast(raft.electionTicks, 2, 'consensus.raft.electionTicks');
  check(
    (raft.heartbeatTicks ?? 1) < (raft.electionTicks ?? 10),
    'consensus.raft.heartbeatTicks',
    'must be less than consensus.raft.electionTicks',
  );
  const frozen = Object.freeze({ ...options });
  return {
    options: frozen,
    create: (node) => {
      const mesh = new MeshConsensus({ ...frozen, messenger: node, env: node.env });
      mesh.start();
      return mesh;
    },
  };
}
