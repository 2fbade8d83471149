/**
 * The parts a MeshNode has from construction on — admission, persistence, the link manager,
 * the frame boundary, link maintenance, and the handlers and ring of the services it was
 * built with — wired to the node through a few hooks. start() hands this record to
 * RunningNode, which builds the cores on it.
 */
import { Admission } from '../identity/admission.ts';
import { fastVerifier } from '../identity/verifier.ts';
import { MemoryStorage } from '../storage/memory.ts';
import type { Env } from '../time/types.ts';
import { RateLimiter } from '../util/rate-limit.ts';
import { encodeMessage } from '../wire/codec.ts';
import { FrameBoundary } from './boundary.ts';
import { DEFAULT_DIAL_POLICY } from './dial-policy.ts';
import type { MeshEvents } from './events.ts';
import { LinkMaintenance, type Stranded } from './link-maintenance.ts';
import { LinkManager } from './link-manager.ts';
import type { MeshNodeOptions } from './options.ts';
import { NodePersistence } from './persistence.ts';
import type { NodeParts, RunningNode } from './running.ts';
import { ClaimVerifier } from './signed-verifier.ts';
import { joinsByItself, nodeTransports } from './zero-config.ts';

const KEEPALIVE = encodeMessage({ type: 'keepalive' });
const BYE = encodeMessage({ type: 'bye' });
const UNLINK = encodeMessage({ type: 'unlink' });

/** What the parts need of the node that owns them. */
export interface PartsHooks {
  /** The running cores, once start() built them. */
  run(): RunningNode | undefined;
  frozen(): boolean;
  closed(): boolean;
  emit<K extends keyof MeshEvents>(type: K, payload: MeshEvents[K]): void;
  failed(error: unknown, context: string): void;
  stranded(report: Stranded): void;
  joined(incarnation: number): void;
}

export function nodeParts(opts: MeshNodeOptions, env: Env, hooks: PartsHooks): NodeParts {
  const { identity } = opts;
  const transports = nodeTransports(opts);
  const verifier = opts.verifier ?? fastVerifier;
  const admission = new Admission(opts.admission ?? { mode: 'open' }, opts.cluster, () =>
    env.clock.wallNow(),
  );
  const maxLinks = opts.maxLinks ?? 24;
  const links: LinkManager = new LinkManager({
    env,
    selfId: identity.nodeId,
    transports,
    policy: {
      maxLinks,
      minLinks: Math.min(maxLinks, opts.minLinks ?? Math.ceil(maxLinks / 2)),
      idleTimeoutMs: opts.linkIdleTimeoutMs ?? 30_000,
    },
    dialing: { ...DEFAULT_DIAL_POLICY, ...(opts.dialing ?? {}) },
    onUp: (link, transient) => hooks.run()?.linkUp(link, transient),
    onDown: (id, reason, expected) => hooks.run()?.linkDown(id, reason, expected),
    onFrame: (id, cls, frame, link) => boundary.onFrame(id, cls, frame, link),
    isNewcomer: (id) => !hooks.run()?.membership.isReachable(id),
    peerDegree: (id) => hooks.run()?.membership.neighboursOf(id)?.size,
    keepalive: (link) => {
      if (!hooks.frozen()) link.send(KEEPALIVE);
    },
    bye: (link) => {
      if (!hooks.frozen()) link.send(BYE);
    },
    unlink: (link) => {
      if (!hooks.frozen()) link.send(UNLINK);
    },
  });
  const rate = opts.claimsPerSignerPerSecond ?? 50;
  const boundary = new FrameBoundary({
    selfId: identity.nodeId,
    links,
    verifier,
    claims: opts.claimVerifier ?? new ClaimVerifier(verifier),
    admission,
    claimQuota: new RateLimiter(rate, rate * 10, () => env.clock.now()),
    wireLimits: opts.wireLimits,
    frozen: hooks.frozen,
    closed: hooks.closed,
    failed: hooks.failed,
  });
  const maintenance = new LinkMaintenance({
    env,
    links,
    admission,
    strandedAfterMs: opts.strandedAfterMs ?? 10_000,
    joinsByItself: joinsByItself(opts),
    frozen: hooks.frozen,
    stranded: hooks.stranded,
    failed: hooks.failed,
  });
  return {
    identity,
    env,
    opts,
    verifier,
    links,
    boundary,
    admission,
    persistence: new NodePersistence(opts.storage ?? new MemoryStorage(), hooks.failed),
    maintenance,
    ring: opts.ring?.create(),
    handlers: opts.messaging?.topics(),
    transports,
    emit: hooks.emit,
    failed: hooks.failed,
    joined: hooks.joined,
  };
}
