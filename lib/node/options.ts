/**
 * What a MeshNode is built from, and the checks that turn a bad setting into a ConfigError
 * at construction — naming the field — rather than odd behaviour later.
 */
import type { TreeOptions } from '../broadcast/tree.ts';
import type { BroadcastChannelTransportOptions } from '../broadcast-channel/transport.ts';
import type { ConsensusService } from '../consensus/service.ts';
import type { AdmissionPolicy } from '../identity/admission.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import { type HeartbeatConfig, heartbeatConfig } from '../membership/config.ts';
import type { IdInterner } from '../membership/interner.ts';
import type { StateEntry } from '../state/entry.ts';
import type { Storage } from '../storage/types.ts';
import type { Env } from '../time/types.ts';
import type { Transport } from '../transport/types.ts';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '../wire/codec.ts';
import { CLUSTER_NAME } from '../wire/fields.ts';
import type { ChainService } from './chain-service.ts';
import type { DialPolicy } from './dial-policy.ts';
import type { MessagingService } from './messaging-service.ts';
import { atLeast, check, positive } from './option-checks.ts';
import type { RingService } from './ring-service.ts';
import type { ClaimVerifier, SignedVerifier } from './signed-verifier.ts';
import type { StateService } from './state-service.ts';
import { addsBroadcastChannel } from './zero-config.ts';

export interface MeshNodeOptions {
  identity: NodeIdentity;
  /** Cluster name; links to nodes of other clusters are refused. */
  cluster: string;
  /**
   * How the node links to others: one transport or several (WebRTC, WebSocket, …). Optional
   * in a browser: with none, the node links to the other contexts of its origin over
   * BroadcastChannel and joins them by itself at start() (see `broadcastChannel`).
   */
  transport?: Transport | Transport[];
  /**
   * The BroadcastChannel transport the node adds for itself (weftmesh/broadcast-channel): links
   * to tabs and workers of the same origin and browser profile without network or server, used
   * in preference to any other link to them. Default: on in browsers (pages, dedicated and
   * shared workers), off elsewhere. `false` turns it off; `true` or its options turn it on
   * anywhere the runtime has BroadcastChannel.
   */
  broadcastChannel?: boolean | BroadcastChannelTransportOptions;
  heartbeat?: Partial<HeartbeatConfig>;
  /** Application metadata carried in this node's alive claim (≤ 16 entries). */
  meta?: Record<string, string>;
  /** Clock, timers, randomness. Default: the real ones. */
  env?: Env;
  /** Where the incarnation survives restarts. Default: in memory. */
  storage?: Storage;
  /** Signature verification. Default: node:crypto where the runtime hands it out, else WebCrypto where present, else pure JavaScript (fastVerifier). */
  verifier?: SignatureVerifier;
  /** Share one claim verifier (memo) between nodes of a simulation. */
  claimVerifier?: ClaimVerifier;
  /** Share one id interner between nodes of a simulation. */
  interner?: IdInterner;
  /** Direct links: hard cap (default 24) and the count the node dials up to (default ⌈max/2⌉). */
  maxLinks?: number;
  minLinks?: number;
  /** A link that receives nothing for this long is replaced; quiet links send keepalives. Default 30,000 ms. */
  linkIdleTimeoutMs?: number;
  /**
   * When addresses are dialled. Any key can sign a claim advertising any address, so each
   * endpoint (host:port) is dialled one at a time, backs off exponentially after failures
   * (1 s doubling to 60 s, ×0.5–1.5 jitter), and an endpoint taken from claims is given up
   * after 5 failures in a row — for 10 minutes, or until a member that advertised it does so
   * in a fresher claim (one more attempt). See DialPolicy.
   */
  dialing?: Partial<DialPolicy>;
  /**
   * Who may be in the cluster: open (default), an allow-list of public keys, or membership
   * tokens signed by a cluster admin key. Enforced at every link handshake, on every signed
   * claim and on relayed messages — the signaling server is not trusted to do it.
   */
  admission?: AdmissionPolicy;
  /** This node's membership token (clusters with token admission). */
  token?: Uint8Array;
  /** Claims accepted per signer per second (burst ×10): one validly signed node cannot flood. Default 50. */
  claimsPerSignerPerSecond?: number;
  wireLimits?: Partial<WireLimits>;
  /** Link handshake deadline, ms. Default 10,000. */
  handshakeTimeoutMs?: number;
  /** Still Joining this long after start(): the node says so (the `stranded` event). Default 10,000 ms. */
  strandedAfterMs?: number;
  /** After leave(), keep gossiping this long before closing links. Default 1,000 ms. */
  leaveDrainMs?: number;
  /**
   * The epidemic broadcast tree that carries broadcasts, state changes and join news
   * (Plumtree; docs/ARCHITECTURE.md): when a link is pruned from the tree, how long an
   * announced message may take before it is asked for, how announcements are batched and
   * bounded. The defaults suit clusters of a few to thousands of nodes.
   */
  broadcastTree?: TreeOptions;
  /**
   * Application messaging (send, request, broadcast; the relay of peer-assisted WebRTC
   * signaling): `messaging()` or `messaging({ …limits })`. Without it those calls throw a
   * MeshNodeError (`no-messaging`) and the node's bundle leaves that code out.
   */
  messaging?: MessagingService;
  /**
   * Replicated state (process table, service registry): `replicatedState()` or
   * `replicatedState({ …settings })`. Without it state calls throw a MeshNodeError
   * (`no-state`) and the node's bundle leaves that code out. Every node of a cluster should
   * run the same services.
   */
  state?: StateService;
  /** Share one state-entry verifier (memo) between nodes of a simulation. */
  entryVerifier?: SignedVerifier<StateEntry>;
  /**
   * The consistent hash ring of Active members (`node.ring`, `assignPid()`): `hashRing()` or
   * `hashRing({ virtualNodes })`. Without it those throw a MeshNodeError (`no-ring`).
   */
  ring?: RingService;
  /**
   * Chains (`node.chains`): hosted chain logs advertised in the gossip state, pulled from
   * peers and served over messaging, fork proofs spread to every node: `chains()`. Needs
   * `messaging()` and `replicatedState()`. Without it `node.chains` throws a MeshNodeError
   * (`no-chains`). See docs/CHAIN.md.
   */
  chains?: ChainService;
  /**
   * Raft consensus (`node.consensus`: propose, read, status), built at start():
   * `consensus({ voters })` from `weftmesh/consensus`. Needs `messaging()`. Without it
   * `node.consensus` throws a MeshNodeError (`no-consensus`). See docs/CONSENSUS.md.
   */
  consensus?: ConsensusService;
}

/** Alive claims carry at most this many metadata entries (see wire/claims.ts metaField). */
export const MAX_META_ENTRIES = 16;
const META_KEY = /^[A-Za-z0-9._-]{1,32}$/;
/** Below this a node could not send its own state entries. */
const MIN_FRAME_BYTES = 16 * 1024;

/** Throws ConfigError for the first setting out of range; returns the options unchanged. */
export function checkMeshNodeOptions(o: MeshNodeOptions): MeshNodeOptions {
  check(typeof o.identity?.nodeId === 'string', 'identity', 'must be a NodeIdentity');
  check(
    typeof o.cluster === 'string' && CLUSTER_NAME.test(o.cluster),
    'cluster',
    'must be 1..64 characters of [A-Za-z0-9._-]',
  );
  const transports = Array.isArray(o.transport) ? o.transport : o.transport ? [o.transport] : [];
  check(
    transports.every((t) => t != null),
    'transport',
    'holds no transport',
  );
  check(
    transports.length > 0 || addsBroadcastChannel(o),
    'transport',
    'is required (outside browsers there is no BroadcastChannel to use by default)',
  );
  const heartbeat = heartbeatConfig(o.heartbeat);
  const meta = Object.entries(o.meta ?? {});
  check(meta.length <= MAX_META_ENTRIES, 'meta', `holds at most ${MAX_META_ENTRIES} entries`);
  for (const [k, v] of meta) {
    check(META_KEY.test(k), `meta key ${JSON.stringify(k)}`, 'must be 1..32 characters of [A-Za-z0-9._-]');
    check(
      typeof v === 'string' && v.length <= 256,
      `meta.${k}`,
      'must be a string of at most 256 characters',
    );
  }
  // A chain is advertised in the gossip state and pulled over messaging: without them a
  // follower would wait for heads that are never announced, with nothing to say why.
  if (o.chains !== undefined)
    check(
      o.messaging !== undefined && o.state !== undefined,
      'chains',
      'needs messaging: messaging() and state: replicatedState()',
    );
  atLeast(o.maxLinks, 1, 'maxLinks');
  atLeast(o.minLinks, 0, 'minLinks');
  check((o.minLinks ?? 0) <= (o.maxLinks ?? 24), 'minLinks', 'must not exceed maxLinks');
  positive(o.linkIdleTimeoutMs, 'linkIdleTimeoutMs');
  positive(o.dialing?.backoffBaseMs, 'dialing.backoffBaseMs');
  positive(o.dialing?.backoffMaxMs, 'dialing.backoffMaxMs');
  atLeast(o.dialing?.maxFailures, 1, 'dialing.maxFailures');
  positive(o.dialing?.cooldownMs, 'dialing.cooldownMs');
  positive(o.dialing?.newEndpointsPerMinute, 'dialing.newEndpointsPerMinute');
  positive(o.claimsPerSignerPerSecond, 'claimsPerSignerPerSecond');
  positive(o.handshakeTimeoutMs, 'handshakeTimeoutMs');
  positive(o.strandedAfterMs, 'strandedAfterMs');
  const tree = o.broadcastTree;
  atLeast(tree?.pruneAfter, 1, 'broadcastTree.pruneAfter');
  positive(tree?.graftAfterMs, 'broadcastTree.graftAfterMs');
  positive(tree?.announceIntervalMs, 'broadcastTree.announceIntervalMs');
  atLeast(tree?.maxQueuedAnnouncements, 1, 'broadcastTree.maxQueuedAnnouncements');
  atLeast(tree?.maxMissing, 1, 'broadcastTree.maxMissing');
  positive(tree?.graftsPerSecond, 'broadcastTree.graftsPerSecond');
  positive(tree?.dontWantBytes, 'broadcastTree.dontWantBytes');
  atLeast(tree?.recentOnLinkUp, 0, 'broadcastTree.recentOnLinkUp');
  if (tree?.recentOnLinkUpMs !== undefined)
    check(
      Number.isFinite(tree.recentOnLinkUpMs) && tree.recentOnLinkUpMs >= 0,
      'broadcastTree.recentOnLinkUpMs',
      'must be ≥ 0',
    );
  if (o.leaveDrainMs !== undefined)
    check(Number.isFinite(o.leaveDrainMs) && o.leaveDrainMs >= 0, 'leaveDrainMs', 'must be ≥ 0');
  // Frames the node itself sends: datagrams up to heartbeat.maxDatagramBytes, state entries
  // of a few KiB, application messages up to messaging.maxMessageBytes.
  atLeast(o.wireLimits?.maxFrameBytes, MIN_FRAME_BYTES, 'wireLimits.maxFrameBytes');
  const frame = o.wireLimits?.maxFrameBytes ?? DEFAULT_WIRE_LIMITS.maxFrameBytes;
  check(
    heartbeat.maxDatagramBytes + 256 <= frame,
    'heartbeat.maxDatagramBytes',
    'must leave room in wireLimits.maxFrameBytes',
  );
  atLeast(o.wireLimits?.maxDepth, 4, 'wireLimits.maxDepth');
  atLeast(o.wireLimits?.maxItems, 16, 'wireLimits.maxItems');
  check(o.consensus === undefined || o.messaging !== undefined, 'consensus', 'needs messaging: messaging()');
  // The services checked their own settings; what depends on the frame limit is checked here.
  const maxMessageBytes = o.messaging?.options.maxMessageBytes;
  if (maxMessageBytes !== undefined)
    check(
      maxMessageBytes + 1024 <= frame,
      'messaging.maxMessageBytes',
      'must leave room in wireLimits.maxFrameBytes',
    );
  return o;
}
