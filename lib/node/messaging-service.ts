/**
 * Messaging as a service a MeshNode is built with (`messaging: messaging()`): send, request,
 * broadcast, and the relay WebRTC uses for peer-assisted signaling. A node built without it
 * carries none of that code and refuses those calls with a MeshNodeError (`no-messaging`).
 */

import { type MessagingOptions, Messenger, type MessengerHost, TopicHandlers } from './messaging.ts';
import { atLeast, positive } from './option-checks.ts';
import type { ServiceContext } from './service-context.ts';

export interface MessagingService {
  readonly options: Readonly<MessagingOptions>;
  /**
   * A node's subscriptions and responders: made at its construction, so they may be
   * registered before start().
   * @internal
   */
  topics(): TopicHandlers;
  /** The node's messenger, built at start(). @internal */
  create(ctx: ServiceContext, handlers: TopicHandlers): Messenger;
}

/** The messaging service with these limits; throws ConfigError for one out of range. */
export function messaging(options: MessagingOptions = {}): MessagingService {
  const m = options;
  atLeast(m.maxMessageBytes, 1, 'messaging.maxMessageBytes');
  atLeast(m.maxHops, 1, 'messaging.maxHops');
  positive(m.requestTimeoutMs, 'messaging.requestTimeoutMs');
  positive(m.sendTimeoutMs, 'messaging.sendTimeoutMs');
  positive(m.highWaterMark, 'messaging.highWaterMark');
  positive(m.perOriginRate, 'messaging.perOriginRate');
  positive(m.perLinkRate, 'messaging.perLinkRate');
  atLeast(m.maxOrigins, 1, 'messaging.maxOrigins');
  const frozen = Object.freeze({ ...options });
  return {
    options: frozen,
    topics: () => new TopicHandlers(),
    create: (ctx, handlers) => new Messenger(messengerHost(ctx), frozen, handlers),
  };
}

function messengerHost(ctx: ServiceContext): MessengerHost {
  const { links, membership } = ctx;
  return {
    identity: ctx.identity,
    env: ctx.env,
    verifier: ctx.verifier,
    wireLimits: ctx.wireLimits,
    epoch: ctx.epoch,
    link: (id) => links.get(id),
    peers: () => links.peers(),
    neighboursOf: (id) => membership.neighboursOf(id),
    admits: (key) => ctx.admits(key),
    isReachable: (id) => membership.isReachable(id),
    tree: ctx.tree,
  };
}
