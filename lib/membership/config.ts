/**
 * Failure-detector and dissemination settings. The first four are SWIM's classic knobs with
 * the defaults of the design; the rest tune Lifeguard, gossip and repair, and bound what a
 * node takes in (members, newcomers).
 */
export interface HeartbeatConfig {
  /** Time between probes of one member (before local-health scaling). Default 1000. */
  probeIntervalMs: number;
  /** Wait for a direct ack before asking witnesses (before local-health scaling). Default 500. */
  pingTimeoutMs: number;
  /** Time from first suspicion to Unreachable, unless refuted. Default 5000. */
  suspectTimeoutMs: number;
  /** Witnesses asked to probe indirectly (ping-req). Default 3. */
  indirectWitnesses: number;
  /** λ: each update is retransmitted λ·⌈log₂(n+1)⌉ times. Default 4. */
  retransmitMult: number;
  /** Gossip tick. Default 200. */
  gossipIntervalMs: number;
  /** Neighbours gossiped to per tick. Default 3. */
  gossipFanout: number;
  /** Full-state exchange with a random neighbour; grows with ⌈log₂(n/32)⌉ above 32 members. Default 30,000. */
  pushPullIntervalMs: number;
  /** Unreachable and Left members are forgotten after this long. Default 60,000. */
  reapAfterMs: number;
  /** Lifeguard local health awareness: slow or lossy nodes stretch their own timeouts. Default true. */
  lifeguard: boolean;
  /** Cap of the local-health multiplier (timeouts grow up to (1 + this) ×). Default 8. */
  maxLocalHealth: number;
  /**
   * Lifeguard dynamic suspicion: start at `suspectTimeoutMs × maxMultiplier` and shrink
   * towards `suspectTimeoutMs` as independent accusers confirm. Never below suspectTimeoutMs.
   * Default off (fixed timeout).
   */
  dynamicSuspicion: false | { maxMultiplier: number };
  /** Piggyback budget of one datagram (ping, ack, gossip), bytes. Default 1200. */
  maxDatagramBytes: number;
  /** Pending updates kept for retransmission; the most-sent are dropped beyond it (push-pull repairs). Default 1024. */
  maxQueueDepth: number;
  /** How often to re-contact a recently reaped member or a seed that is not linked. Default 10,000. */
  reconnectIntervalMs: number;
  /** Recently reaped members remembered for healing. Default 256. */
  recentlyReapedLimit: number;
  /**
   * An Active member with no sign of being reachable for this long — no link to it, no
   * neighbour reporting a link to it, no completed handshake — is checked: the node dials it
   * (see Membership.memberToCheck) and suspects it if that brings no link, so members nobody
   * can reach (ghosts) are suspected, declared Unreachable and reaped. Default 60,000.
   */
  ghostTimeoutMs: number;
  /**
   * Members (any state) this node keeps; alive claims of new members beyond it are refused.
   * Bounds the member table and the id interner. Default 100,000.
   */
  maxMembers: number;
  /**
   * New members (identities not in the table) accepted per minute from gossip and exchanges,
   * in all (token bucket, burst of one minute's worth). Not applied while this node is
   * joining (its join exchange brings the whole cluster). Default 1,200.
   */
  newMembersPerMinute: number;
  /** The same, per link the first claim of a new member arrived over. Default 300. */
  newMembersPerLinkPerMinute: number;
}

export const DEFAULT_HEARTBEAT: Readonly<HeartbeatConfig> = Object.freeze({
  probeIntervalMs: 1000,
  pingTimeoutMs: 500,
  suspectTimeoutMs: 5000,
  indirectWitnesses: 3,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipFanout: 3,
  pushPullIntervalMs: 30_000,
  reapAfterMs: 60_000,
  lifeguard: true,
  maxLocalHealth: 8,
  dynamicSuspicion: false,
  maxDatagramBytes: 1200,
  maxQueueDepth: 1024,
  reconnectIntervalMs: 10_000,
  recentlyReapedLimit: 256,
  ghostTimeoutMs: 60_000,
  maxMembers: 100_000,
  newMembersPerMinute: 1_200,
  newMembersPerLinkPerMinute: 300,
});

/** Why a setting was refused (`ConfigError.code`). */
export type ConfigErrorCode =
  /** A setting out of its range, of the wrong type, or at odds with another; `option` names it. */
  'invalid-option';

/** A bad setting (node options, heartbeat config, a service's limits), thrown where it is given. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code: ConfigErrorCode = 'invalid-option';
  /** The offending setting ('heartbeat.pingTimeoutMs', 'maxLinks', …), when the thrower names it. */
  readonly option: string | undefined;
  constructor(message: string, option?: string) {
    super(message);
    this.option = option;
  }
}

/** Fills defaults and checks ranges; throws ConfigError with the offending field. */
export function heartbeatConfig(partial: Partial<HeartbeatConfig> = {}): HeartbeatConfig {
  const c = { ...DEFAULT_HEARTBEAT, ...partial };
  const positive: Array<keyof HeartbeatConfig> = [
    'probeIntervalMs',
    'pingTimeoutMs',
    'suspectTimeoutMs',
    'gossipIntervalMs',
    'pushPullIntervalMs',
    'reapAfterMs',
    'reconnectIntervalMs',
    'ghostTimeoutMs',
    'newMembersPerMinute',
    'newMembersPerLinkPerMinute',
  ];
  for (const k of positive) {
    if (!(typeof c[k] === 'number' && Number.isFinite(c[k]) && (c[k] as number) > 0)) {
      throw new ConfigError(`heartbeat.${k} must be a positive number`, `heartbeat.${k}`);
    }
  }
  const counts: Array<[keyof HeartbeatConfig, number]> = [
    ['indirectWitnesses', 0],
    ['retransmitMult', 1],
    ['gossipFanout', 1],
    ['maxLocalHealth', 0],
    ['maxQueueDepth', 16],
    ['recentlyReapedLimit', 0],
    ['maxDatagramBytes', 256],
    ['maxMembers', 2],
  ];
  for (const [k, min] of counts) {
    if (!(Number.isInteger(c[k]) && (c[k] as number) >= min))
      throw new ConfigError(`heartbeat.${k} must be an integer ≥ ${min}`, `heartbeat.${k}`);
  }
  if (c.pingTimeoutMs >= c.probeIntervalMs)
    throw new ConfigError('heartbeat.pingTimeoutMs must be below probeIntervalMs', 'heartbeat.pingTimeoutMs');
  if (c.dynamicSuspicion && !(c.dynamicSuspicion.maxMultiplier >= 1)) {
    throw new ConfigError(
      'heartbeat.dynamicSuspicion.maxMultiplier must be ≥ 1',
      'heartbeat.dynamicSuspicion.maxMultiplier',
    );
  }
  return c;
}

/** memberlist's push-pull scaling: the interval grows with ⌈log₂(n)−log₂(32)⌉+1 above 32 members. */
export function pushPullInterval(baseMs: number, members: number): number {
  if (members <= 32) return baseMs;
  return baseMs * (Math.ceil(Math.log2(members) - Math.log2(32)) + 1);
}
