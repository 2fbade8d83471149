/**
 * Replicated state as a service a MeshNode is built with (`state: replicatedState()`): the
 * process table, the service registry, delta gossip and Merkle anti-entropy. A node built
 * without it carries none of that code — bundlers drop it — and refuses state calls with a
 * MeshNodeError (`no-state`).
 */
import type { StateEntry } from '../state/entry.ts';
import { atLeast, positive } from './option-checks.ts';
import type { ServiceContext } from './service-context.ts';
import type { SignedVerifier } from './signed-verifier.ts';
import { type StateHost, type StateOptions, StateReplica } from './state-replica.ts';

/** Persistence of the HLC reservation, which the node provides. */
export type StatePersistence = Pick<StateOptions, 'hlcNotBefore' | 'onHlcReserve'>;

export interface StateService {
  readonly options: Readonly<StateOptions>;
  /** The node's replica, built at start(). @internal */
  create(
    ctx: ServiceContext,
    persistence: StatePersistence,
    shared?: SignedVerifier<StateEntry>,
  ): StateReplica;
}

/** The replicated-state service with these settings; throws ConfigError for one out of range. */
export function replicatedState(options: StateOptions = {}): StateService {
  const s = options;
  positive(s.gossipIntervalMs, 'state.gossipIntervalMs');
  positive(s.antiEntropyIntervalMs, 'state.antiEntropyIntervalMs');
  positive(s.tombstoneLifetimeMs, 'state.tombstoneLifetimeMs');
  positive(s.maxSkewMs, 'state.maxSkewMs');
  atLeast(s.maxEntriesPerOrigin, 1, 'state.maxEntriesPerOrigin');
  positive(s.writesPerOriginPerSecond, 'state.writesPerOriginPerSecond');
  positive(s.maxDriftMs, 'state.maxDriftMs');
  atLeast(s.maxEntries, 1, 'state.maxEntries');
  atLeast(s.maxBytes, 1, 'state.maxBytes');
  positive(s.antiEntropyBytesPerSecond, 'state.antiEntropyBytesPerSecond');
  const frozen = Object.freeze({ ...options });
  return {
    options: frozen,
    create: (ctx, persistence, shared) =>
      new StateReplica(stateHost(ctx), { ...frozen, ...persistence }, shared),
  };
}

function stateHost(ctx: ServiceContext): StateHost {
  const { links, membership } = ctx;
  return {
    identity: ctx.identity,
    env: ctx.env,
    verifier: ctx.verifier,
    send: (peer, msg) => ctx.send(peer, 'stream', msg),
    peers: () => links.peers(),
    memberKey: (id) => membership.member(id)?.publicKey,
    isReachable: (id) => membership.isReachable(id),
    admits: (key) => ctx.admits(key),
    setLowWaterMark: (wall) => membership.setLowWaterMark(wall),
    changed: (e, from) =>
      ctx.emit('state-changed', {
        table: e.table,
        origin: e.origin,
        key: e.key,
        deleted: e.value === undefined,
        ...(from === undefined ? {} : { from }),
      }),
    repairing: (peer, subtrees, entries) => ctx.emit('repairing', { peer, subtrees, entries }),
    tree: ctx.tree,
  };
}
