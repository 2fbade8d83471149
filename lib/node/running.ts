/**
 * What a started node runs, built in one piece at start(): the membership core and the
 * services the node was built with (state replica, messenger), wired to the frame boundary,
 * the link manager and the node's events. Before start() a MeshNode has none of it, after
 * start() all of it; a service is absent only when the node was built without it. Core
 * outputs reach the application here, after the core handled its input.
 */
import { BroadcastTree } from '../broadcast/tree.ts';
import type { Admission } from '../identity/admission.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import { NodeState } from '../membership/node-state.ts';
import { Membership, type MembershipEvent } from '../membership/swim.ts';
import type { ConsistentHashRing } from '../ring/consistent-hash-ring.ts';
import type { Env } from '../time/types.ts';
import type { Link, Transport, TransportContext } from '../transport/types.ts';
import type { FrameBoundary } from './boundary.ts';
import { ClaimNews } from './claim-news.ts';
import { MeshNodeError } from './errors.ts';
import type { MeshEvents } from './events.ts';
import type { LinkMaintenance } from './link-maintenance.ts';
import type { LinkManager } from './link-manager.ts';
import type { Messenger, TopicHandlers } from './messaging.ts';
import type { MeshNodeOptions } from './options.ts';
import type { NodePersistence } from './persistence.ts';
import type { ServiceContext } from './service-context.ts';
import type { StateReplica } from './state-replica.ts';

/** The parts a MeshNode has from construction on, which the running cores are wired to. */
export interface NodeParts {
  readonly identity: NodeIdentity;
  readonly env: Env;
  readonly opts: MeshNodeOptions;
  readonly verifier: SignatureVerifier;
  readonly links: LinkManager;
  readonly boundary: FrameBoundary;
  readonly admission: Admission;
  readonly persistence: NodePersistence;
  readonly maintenance: LinkMaintenance;
  readonly ring: ConsistentHashRing | undefined;
  /** Subscriptions and responders (present when the node has messaging). */
  readonly handlers: TopicHandlers | undefined;
  readonly transports: readonly Transport[];
  /** Emits an application event (a throwing handler becomes an `error` event). */
  emit<K extends keyof MeshEvents>(type: K, payload: MeshEvents[K]): void;
  failed(error: unknown, context: string): void;
  /** This node's join exchange completed. */
  joined(incarnation: number): void;
}

export class RunningNode {
  readonly membership: Membership;
  readonly messenger: Messenger | undefined;
  readonly replica: StateReplica | undefined;
  /** Which links carry broadcasts in full and which only announce them (lib/broadcast/tree.ts). */
  readonly tree: BroadcastTree;
  /** Join news on the tree (claim-news.ts). */
  readonly news: ClaimNews;
  /** What each transport was started with; the token in them is renewed by setToken. */
  readonly transportContexts: TransportContext[] = [];
  readonly #p: NodeParts;

  constructor(p: NodeParts, incarnation: number, hlcNotBefore: number | undefined) {
    this.#p = p;
    const { identity, env, opts, links, admission } = p;
    const admits = (key: Uint8Array) => admission.check(key) === undefined;
    const core = new Membership({
      signer: identity,
      env,
      send: (to, cls, msg) => p.boundary.send(to, cls, msg),
      event: (e) => this.#onMembershipEvent(e),
      heartbeat: opts.heartbeat ?? {},
      incarnation,
      meta: opts.meta ?? {},
      ...(opts.token ? { token: opts.token } : {}),
      addrs: p.transports.flatMap((t) => t.localAddresses(identity.nodeId)).slice(0, 4),
      ...(opts.interner ? { interner: opts.interner } : {}),
      treeNews: true,
    });
    this.membership = core;
    this.tree = new BroadcastTree(
      { env, send: (to, msg) => p.boundary.send(to, 'stream', msg) },
      opts.broadcastTree ?? {},
    );
    this.news = new ClaimNews(this.tree, env, (to, msg) => p.boundary.send(to, 'stream', msg));
    const ctx: ServiceContext = {
      identity,
      env,
      verifier: p.verifier,
      wireLimits: opts.wireLimits,
      epoch: incarnation,
      links,
      membership: core,
      tree: this.tree,
      admits,
      send: (to, cls, msg) => p.boundary.send(to, cls, msg),
      emit: p.emit,
    };
    this.messenger = p.handlers && opts.messaging?.create(ctx, p.handlers);
    this.replica = opts.state?.create(
      ctx,
      {
        ...(hlcNotBefore === undefined ? {} : { hlcNotBefore }),
        onHlcReserve: (until) => p.persistence.reserveHlc(until),
      },
      opts.entryVerifier,
    );
    p.boundary.bind(this);
  }

  /** Starts the transports, then the cores' timers and link maintenance. */
  start(): void {
    const p = this.#p;
    const boot = p.env.random.bytes(8);
    for (const t of p.transports) {
      const ctx: TransportContext = {
        ...(this.messenger ? { relay: this.messenger.relay } : {}),
        identity: p.identity,
        cluster: p.opts.cluster,
        verifier: p.verifier,
        scheduler: p.env.scheduler,
        random: p.env.random,
        timeoutMs: p.opts.handshakeTimeoutMs ?? 10_000,
        ...(p.opts.token ? { token: p.opts.token } : {}),
        boot,
        admit: (peer, token) => p.admission.check(peer.publicKey, token),
      };
      this.transportContexts.push(ctx);
      t.start(ctx, {
        link: (link, dialed) => this.#accept(link, dialed),
        dialFailed: (address, error) => p.maintenance.dialFailed(address, error),
        error: (error, context) => p.failed(error, context),
        nearby: (nodeId, address) => p.maintenance.nearby(nodeId, address),
      });
    }
    this.resume();
    p.maintenance.start(this.membership);
  }

  /** The cores' timers run (again): after start, or an unfreeze. */
  resume(): void {
    this.membership.start();
    this.replica?.start();
  }

  /** The cores' timers stop (a freeze, or closing); links and transports are the node's to close. */
  pause(): void {
    this.membership.stop();
    this.replica?.stop();
  }

  close(): void {
    this.#p.maintenance.stop();
    this.pause();
    this.tree.stop();
    this.messenger?.close();
  }

  linkUp(link: Link, transient: boolean): void {
    const p = this.#p;
    const core = this.membership;
    const id = link.peer.nodeId;
    // A newcomer dialled us: its membership goes out now (Membership.welcome), a round trip
    // before its digest could ask for it. (Dialling a newcomer, a welcome gains nothing: its
    // end came up a hop before ours, and the answer to its digest reaches it when a welcome
    // from here would.)
    if (!link.initiator) core.welcome(id);
    // A transient link (this node is full) only carries the newcomer's join exchange.
    if (transient) return;
    // Exchange state when joining, or when we dialled a peer that is news to us (healing after
    // a partition); a node that had no link catches up by itself (Membership.linkUp).
    const exchange = core.selfState === NodeState.Joining || (link.initiator && !core.isReachable(id));
    core.linkUp(id, exchange);
    this.tree.linkUp(id);
    this.replica?.linkUp(id, link.initiator);
    p.emit('link-up', { nodeId: id, transport: link.transport });
    if (exchange) core.exchangeWith(id);
  }

  linkDown(nodeId: string, reason: string, expected: boolean): void {
    this.membership.linkDown(nodeId, !expected);
    this.tree.linkDown(nodeId);
    if (!expected) this.#p.maintenance.redial(nodeId);
    if (this.#p.links.size === 0) this.#p.maintenance.cutOff();
    this.replica?.linkDown(nodeId);
    this.#p.emit('link-down', { nodeId, reason });
  }

  /** A transport completed a handshake (`dialed`: the address this node dialled, if it did). */
  #accept(link: Link, dialed: string | undefined): void {
    const { links } = this.#p;
    if (dialed !== undefined) links.dialEnded(dialed, 'linked');
    // A completed handshake proves the peer reachable (see Membership.memberToCheck).
    const id = link.peer.nodeId;
    this.membership.vouch(id);
    const replacing = links.get(id) !== undefined;
    links.accept(link);
    // A link that replaced another (both ends dialled at once, a seed redialled) brings no
    // link-up, and a join exchange in flight on the old one is lost: a joiner asks again.
    if (replacing && links.get(id) === link && this.membership.selfState === NodeState.Joining)
      this.membership.exchangeWith(id);
  }

  #onMembershipEvent(e: MembershipEvent): void {
    const p = this.#p;
    switch (e.type) {
      case 'news':
        if (e.quiet) this.news.keep(e.claims);
        else if (e.late) this.news.announce(e.claims, e.from);
        else this.news.spread(e.claims, e.from);
        return;
      case 'alive':
        this.replica?.memberAlive(e.nodeId, e.lowWaterMark);
        return;
      case 'state': {
        if (e.state === NodeState.Active) p.ring?.add(e.nodeId);
        else p.ring?.remove(e.nodeId);
        const change = { nodeId: e.nodeId, previous: e.previous, state: e.state, incarnation: e.incarnation };
        p.emit('member-state', change);
        if (e.nodeId === p.identity.nodeId) {
          if (e.state === NodeState.Active && e.previous === NodeState.Joining) {
            p.maintenance.joined();
            p.joined(e.incarnation);
          }
          return;
        }
        const back =
          e.previous === null || e.previous === NodeState.Unreachable || e.previous === NodeState.Left;
        if (e.state === NodeState.Active && back) p.emit('member-joined', change);
        if (e.state === NodeState.Left) p.emit('member-left', change);
        return;
      }
      case 'reaped':
        this.replica?.memberReaped(e.nodeId);
        p.emit('member-reaped', { nodeId: e.nodeId });
        return;
      case 'suspected':
        p.emit('suspected', { nodeId: e.nodeId, incarnation: e.incarnation });
        return;
      case 'refuted':
        p.emit('refuted', { incarnation: e.incarnation, by: e.by });
        return;
      case 'incarnation':
        void p.persistence.saveIncarnation(e.incarnation);
        return;
      case 'identity-conflict':
        p.emit('identity-conflict', { incarnation: e.incarnation });
        return;
      case 'incarnation-exhausted':
        p.failed(
          new MeshNodeError(
            'incarnation-exhausted',
            `incarnation ${e.incarnation} is the last one: restart with a new identity`,
          ),
          'refuting a claim about this node',
        );
        return;
      case 'exchanged':
        p.links.release(e.nodeId);
        return;
      case 'back':
        this.tree.announceRecent(e.nodeId, e.unheardMs);
        return;
    }
  }
}
