export type { MeshNodeOptions } from './options.ts';

/**
 * MeshNode: the public façade. It wires an identity, an environment, one or more
 * transports, the link manager and the membership core together, and it is the boundary
 * where every frame is decoded and every claim verified before a core sees it.
 */

import { Admission } from '../identity/admission.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import { Domain } from '../identity/signed.ts';
import { fastVerifier, type MaybePromise } from '../identity/verifier.ts';
import type { Claim } from '../membership/claims.ts';
import type { MembershipMetrics } from '../membership/metrics.ts';
import { isReachable, NodeState, StateCode } from '../membership/node-state.ts';
import { probeAckPayload } from '../membership/prober.ts';
import { type MemberInfo, Membership, type MembershipEvent } from '../membership/swim.ts';
import { ConsistentHashRing } from '../ring/consistent-hash-ring.ts';
import type { StateEntry } from '../state/entry.ts';
import type { DistributedProcessTable } from '../state/process-table.ts';
import type { ClusterServiceRegistry } from '../state/service-registry.ts';
import type { ProcessFields, ServiceFields } from '../state/values.ts';
import { MemoryStorage } from '../storage/memory.ts';
import type { Storage } from '../storage/types.ts';
import { realEnv } from '../time/real.ts';
import type { Env, TimerId } from '../time/types.ts';
import type { DeliveryClass, Link, Transport, TransportContext } from '../transport/types.ts';
import { fromHex, toHex } from '../util/bytes.ts';
import { Emitter } from '../util/emitter.ts';
import { RateLimiter } from '../util/rate-limit.ts';
import type { WireClaim } from '../wire/claims.ts';
import { decodeMessage, encodeMessage } from '../wire/codec.ts';
import type { StateTable } from '../wire/entries.ts';
import { WireError } from '../wire/errors.ts';
import type { Message, MessageOf } from '../wire/messages.ts';
import { DEFAULT_DIAL_POLICY } from './dial-policy.ts';
import type { MeshEvents } from './events.ts';
import { type DialTarget, dialTargetOf, LinkManager, type LinkPolicy } from './link-manager.ts';
import {
  type AppMessage,
  emptyMessagingMetrics,
  type MessagingMetrics,
  Messenger,
  type Responder,
  TopicHandlers,
} from './messaging.ts';
import { checkMeshNodeOptions, type MeshNodeOptions } from './options.ts';
import { ClaimVerifier } from './signed-verifier.ts';
import { StateReplica, type StateReplicaMetrics } from './state-replica.ts';

export interface MeshMetrics extends MembershipMetrics {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Frames dropped at decode, total and by WireError code. */
  framesRejected: number;
  framesRejectedBy: Record<string, number>;
  /** Claims dropped at the boundary (bad body, bad signature, not admitted). */
  claimsRejected: number;
  links: number;
  members: number;
  localHealth: number;
  messaging: MessagingMetrics;
  state: StateReplicaMetrics;
}

const INCARNATION_KEY = 'incarnation';
const HLC_KEY = 'hlc';
const MAINTAIN_INTERVAL_MS = 1_000;
const KEEPALIVE = encodeMessage({ type: 'keepalive' });
const BYE = encodeMessage({ type: 'bye' });
/**
 * Errors of a runtime refusing a dial outright (Deno without --allow-net: NotCapable, or
 * PermissionDenied before Deno 2; a browser's mixed-content or CSP rule: SecurityError).
 * Every retry fails the same way, so each address's first refusal is reported as an error.
 */
const REFUSED_BY_RUNTIME = new Set(['NotCapable', 'PermissionDenied', 'SecurityError']);

function encodeU32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export class MeshNode {
  readonly identity: NodeIdentity;
  readonly cluster: string;
  readonly env: Env;
  readonly #events = new Emitter<MeshEvents>();
  readonly #opts: MeshNodeOptions;
  readonly #transports: Transport[];
  /** What each transport was started with; the token in them is renewed by setToken. */
  readonly #transportContexts: TransportContext[] = [];
  readonly #storage: Storage;
  readonly #claims: ClaimVerifier;
  readonly #admission: Admission;
  readonly #claimQuota: RateLimiter;
  readonly #links: LinkManager;
  readonly #traffic = {
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    framesRejected: 0,
    claimsRejected: 0,
  };
  readonly #rejectedBy: Record<string, number> = {};
  #membership: Membership | undefined;
  #messenger: Messenger | undefined;
  /** Subscriptions and responders, registered at any time (before start() too). */
  readonly #handlers = new TopicHandlers();
  /** Addresses whose dial the runtime refused, reported once each (REFUSED_BY_RUNTIME). */
  readonly #refused = new Set<string>();
  #replica: StateReplica | undefined;
  readonly ring: ConsistentHashRing;
  #seeds: string[] = [];
  /** Why each seed's last dial failed (keys: current seeds only). */
  readonly #seedFailures = new Map<string, string>();
  /** When start() finished, and whether being stranded in Joining was reported (MeshEvents.stranded). */
  #startedAt = 0;
  #strandedReported = false;
  #joinWaiters: Array<() => void> = [];
  #maintainTimer: TimerId | undefined;
  #lastHeal: number;
  #state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  #frozen = false;

  constructor(opts: MeshNodeOptions) {
    this.#opts = checkMeshNodeOptions(opts);
    this.identity = opts.identity;
    this.cluster = opts.cluster;
    this.env = opts.env ?? realEnv();
    this.#transports = Array.isArray(opts.transport) ? opts.transport : [opts.transport];
    this.#storage = opts.storage ?? new MemoryStorage();
    this.#claims = opts.claimVerifier ?? new ClaimVerifier(opts.verifier ?? fastVerifier);
    this.#admission = new Admission(opts.admission ?? { mode: 'open' }, opts.cluster, () =>
      this.env.clock.wallNow(),
    );
    const rate = opts.claimsPerSignerPerSecond ?? 50;
    this.#claimQuota = new RateLimiter(rate, rate * 10, () => this.env.clock.now());
    const maxLinks = opts.maxLinks ?? 24;
    const policy: LinkPolicy = {
      maxLinks,
      minLinks: Math.min(maxLinks, opts.minLinks ?? Math.ceil(maxLinks / 2)),
      idleTimeoutMs: opts.linkIdleTimeoutMs ?? 30_000,
    };
    this.#links = new LinkManager({
      env: this.env,
      selfId: this.identity.nodeId,
      transports: this.#transports,
      policy,
      dialing: { ...DEFAULT_DIAL_POLICY, ...(opts.dialing ?? {}) },
      onUp: (link, transient) => this.#linkUp(link, transient),
      onDown: (id, reason, expected) => this.#linkDown(id, reason, expected),
      onFrame: (id, cls, frame, link) => this.#onFrame(id, cls, frame, link),
      isNewcomer: (id) => {
        const core = this.#membership;
        const i = core?.table.ids.lookup(id);
        return i === undefined || !isReachable(core!.table.state(i));
      },
      peerDegree: (id) => this.#membership?.neighboursOf(id)?.size,
      keepalive: (link) => {
        if (!this.#frozen) link.send(KEEPALIVE);
      },
      bye: (link) => {
        if (!this.#frozen) link.send(BYE);
      },
    });
    this.#lastHeal = this.env.clock.now();
    this.ring = new ConsistentHashRing({ virtualNodes: opts.ringVirtualNodes ?? 128 });
  }

  get nodeId(): string {
    return this.identity.nodeId;
  }

  /** This node's own state (Joining until a join exchange completed). */
  get state(): NodeState {
    return this.#membership?.selfState ?? NodeState.Joining;
  }

  get incarnation(): number {
    return this.#core().incarnation;
  }

  on<K extends keyof MeshEvents>(type: K, fn: (payload: MeshEvents[K]) => void): () => void {
    return this.#events.on(type, fn);
  }

  off<K extends keyof MeshEvents>(type: K, fn: (payload: MeshEvents[K]) => void): void {
    this.#events.off(type, fn);
  }

  /**
   * Loads the persisted incarnation and starts the transports and protocol timers. The new
   * incarnation exceeds every earlier one: max(stored + 1, wall-clock seconds).
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`start() called on a ${this.#state} node`);
    this.#state = 'starting';
    const stored = await this.#storage.get(INCARNATION_KEY);
    const previous = stored?.length === 4 ? new DataView(stored.buffer, stored.byteOffset).getUint32(0) : 0;
    const incarnation = Math.min(
      0xfffffff0,
      Math.max(previous + 1, Math.floor(this.env.clock.wallNow() / 1000)),
    );
    await this.#persistIncarnation(incarnation);
    if (this.#state !== 'starting') return;
    this.#membership = new Membership({
      signer: this.identity,
      env: this.env,
      send: (to, cls, msg) => this.#send(to, cls, msg),
      event: (e) => this.#onMembershipEvent(e),
      heartbeat: this.#opts.heartbeat ?? {},
      incarnation,
      meta: this.#opts.meta ?? {},
      ...(this.#opts.token ? { token: this.#opts.token } : {}),
      addrs: this.#transports.flatMap((t) => t.localAddresses(this.nodeId)).slice(0, 4),
      ...(this.#opts.interner ? { interner: this.#opts.interner } : {}),
    });
    const core = this.#membership;
    this.#messenger = new Messenger(
      {
        identity: this.identity,
        env: this.env,
        verifier: this.#opts.verifier ?? fastVerifier,
        wireLimits: this.#opts.wireLimits,
        epoch: incarnation,
        link: (id) => this.#links.get(id),
        peers: () => this.#links.peers(),
        neighboursOf: (id) => core.neighboursOf(id),
        admits: (key) => this.#admission.check(key) === undefined,
        isReachable: (id) => {
          const i = core.table.ids.lookup(id);
          return i !== undefined && isReachable(core.table.state(i));
        },
      },
      this.#opts.messaging ?? {},
      this.#handlers,
    );
    const hlc = await this.#storage.get(HLC_KEY).catch(() => undefined);
    this.#replica = new StateReplica(
      {
        identity: this.identity,
        env: this.env,
        verifier: this.#opts.verifier ?? fastVerifier,
        send: (peer, msg) => this.#send(peer, 'stream', msg),
        peers: () => this.#links.peers(),
        memberKey: (id) => core.member(id)?.publicKey,
        isReachable: (id) => {
          const i = core.table.ids.lookup(id);
          return i !== undefined && isReachable(core.table.state(i));
        },
        admits: (key) => this.#admission.check(key) === undefined,
        setLowWaterMark: (wall) => core.setLowWaterMark(wall),
        changed: (e, from) =>
          this.#events.emit('state-changed', {
            table: e.table,
            origin: e.origin,
            key: e.key,
            deleted: e.value === undefined,
            ...(from === undefined ? {} : { from }),
          }),
        repairing: (peer, subtrees, entries) => this.#events.emit('repairing', { peer, subtrees, entries }),
      },
      {
        ...(this.#opts.state ?? {}),
        ...(hlc?.length === 8
          ? { hlcNotBefore: new DataView(hlc.buffer, hlc.byteOffset).getFloat64(0) }
          : {}),
        onHlcReserve: (until) => {
          const b = new Uint8Array(8);
          new DataView(b.buffer).setFloat64(0, until);
          this.#storage
            .set(HLC_KEY, b)
            .catch((error) => this.#events.emit('error', { error, context: 'persisting the HLC' }));
        },
      },
      this.#opts.entryVerifier,
    );
    for (const t of this.#transports) {
      const ctx: TransportContext = {
        relay: this.#messenger.relay,
        identity: this.identity,
        cluster: this.cluster,
        verifier: this.#opts.verifier ?? fastVerifier,
        scheduler: this.env.scheduler,
        random: this.env.random,
        timeoutMs: this.#opts.handshakeTimeoutMs ?? 10_000,
        ...(this.#opts.token ? { token: this.#opts.token } : {}),
        admit: (peer, token) => this.#admission.check(peer.publicKey, token),
      };
      this.#transportContexts.push(ctx);
      t.start(ctx, {
        link: (link, dialed) => {
          if (dialed !== undefined) this.#links.dialEnded(dialed, false);
          // A completed handshake proves the peer reachable (see Membership.memberToCheck).
          const id = link.peer.nodeId;
          this.#membership?.vouch(id);
          const replacing = this.#links.get(id) !== undefined;
          this.#links.accept(link);
          // A link that replaced another (both ends dialled at once, a seed redialled) brings no
          // link-up, and a join exchange in flight on the old one is lost: a joiner asks again.
          const core = this.#membership;
          if (replacing && this.#links.get(id) === link && core?.selfState === NodeState.Joining)
            core.exchangeWith(id);
        },
        dialFailed: (address, error) => {
          if (REFUSED_BY_RUNTIME.has(error.name) && !this.#refused.has(address)) {
            if (this.#refused.size >= 256) this.#refused.clear();
            this.#refused.add(address);
            this.#events.emit('error', { error, context: `dialling ${address}: refused by the runtime` });
          }
          this.#links.dialEnded(address, true);
          if (this.#seeds.includes(address)) this.#seedFailures.set(address, error.message);
        },
        error: (error, context) => this.#events.emit('error', { error, context }),
      });
    }
    this.#membership.start();
    this.#replica.start();
    this.#state = 'running';
    this.#startedAt = this.env.clock.now();
    this.#scheduleMaintain();
  }

  /**
   * Joins the cluster through seed addresses (none: this node starts a new cluster).
   * Resolves once a join exchange completed; keeps retrying seeds with backoff until then.
   */
  join(seeds: string[] = []): Promise<void> {
    const core = this.#core();
    this.#seeds = [...seeds];
    this.#seedFailures.clear();
    if (seeds.length === 0) core.bootstrap();
    if (core.selfState !== NodeState.Joining) return Promise.resolve();
    for (const s of seeds) this.#links.dial(s);
    return new Promise((resolve) => this.#joinWaiters.push(resolve));
  }

  /** Dials a node at `address` (any transport that can) and keeps the link if it is admitted. */
  /** Whether a transport of this node can dial `address` (e.g. `ws://…`, `webrtc:<id>`). */
  canDial(address: string): boolean {
    return this.#links.canDialAny([address]);
  }

  connect(address: string, expectNodeId?: string): void {
    if (this.#state !== 'running') throw new Error('MeshNode: start() before connect()');
    this.#links.dial(address, expectNodeId, true);
  }

  /** Closes the direct link to `nodeId`, if any (the node may dial a replacement later). */
  disconnect(nodeId: string, reason = 'disconnected by the application'): void {
    this.#links.close(nodeId, reason);
  }

  /** The signed claims this node holds about the cluster, its own first (as a full exchange carries them). */
  claims(): WireClaim[] {
    return this.#core()
      .claims()
      .map((c) => c.wire);
  }

  /**
   * Takes claims as news every member already has: verifies and admits them as if they had
   * arrived from a peer, applies them, and does not gossip them on. A simulator uses it to
   * start from a converged cluster, to measure steady state without simulating every join.
   * Resolves with how many were accepted: verified, admitted and within their signer's rate
   * quota (the rest count as rejected claims).
   */
  async adoptClaims(wires: readonly WireClaim[]): Promise<number> {
    const core = this.#core();
    const claims = await Promise.all(this.#verifyClaims(wires));
    if (this.#state === 'closed') return 0;
    const good = this.#screen(claims);
    core.applyClaims(good, undefined, false);
    return good.length;
  }

  /** Every member this node knows, itself included. */
  members(): MemberInfo[] {
    return this.#membership?.members() ?? [];
  }

  member(nodeId: string): MemberInfo | undefined {
    return this.#membership?.member(nodeId);
  }

  /** Node ids of the current direct links. */
  links(): string[] {
    return this.#links.peers();
  }

  /**
   * Renews this node's membership token (token admission): announced at once in a new alive
   * claim, and presented at every later link handshake. Renew before the old one expires:
   * members drop a node whose token has expired.
   */
  setToken(token: Uint8Array): void {
    const core = this.#core();
    for (const ctx of this.#transportContexts) ctx.token = token;
    core.setToken(token);
  }

  /** Re-announces this node with new metadata (raises its incarnation). */
  setMeta(meta: Record<string, string>): void {
    this.#core().setMeta(meta);
  }

  metrics(): MeshMetrics {
    const m = this.#membership;
    return {
      ...(m?.metrics ?? ({} as MembershipMetrics)),
      ...this.#traffic,
      framesRejectedBy: { ...this.#rejectedBy },
      links: this.#links.size,
      members: m?.table.size ?? 0,
      localHealth: m?.localHealth ?? 0,
      messaging: { ...(this.#messenger?.metrics ?? emptyMessagingMetrics()) },
      state: this.#replica?.metrics() ?? emptyStateMetrics(),
    };
  }

  // ---- replicated state ----

  /**
   * Advertises (or updates) a process of this node. The write is applied locally at once,
   * signed and gossiped; the returned entry is the version written (its receipt).
   */
  advertiseProcess(pid: string, fields: ProcessFields): StateEntry {
    return this.#stateReplica().advertiseProcess(pid, fields);
  }

  /** Removes a process advertisement of this node (a tombstone). */
  removeProcess(pid: string): StateEntry {
    return this.#stateReplica().removeProcess(pid);
  }

  /** Advertises (or updates) this node's instance of a service. */
  advertiseService(serviceName: string, fields: ServiceFields): StateEntry {
    return this.#stateReplica().advertiseService(serviceName, fields);
  }

  /** Withdraws this node's instance of a service (a tombstone). */
  withdrawService(serviceName: string): StateEntry {
    return this.#stateReplica().withdrawService(serviceName);
  }

  /**
   * The replica's current version of one register, tombstones and entries of unreachable
   * origins included (the queries hide those): for inspection, tests and tooling.
   */
  stateEntry(table: StateTable, origin: string, key: string): StateEntry | undefined {
    return this.#stateReplica().state.get(table, origin, key);
  }

  /** The distributed process table (queries see reachable nodes only). */
  get processes(): DistributedProcessTable {
    return this.#stateReplica().processes;
  }

  /** The cluster service registry. */
  get services(): ClusterServiceRegistry {
    return this.#stateReplica().services;
  }

  /** Merkle root of this replica's state (equal roots: equal state). */
  stateRoot(): Uint8Array {
    return this.#stateReplica().root();
  }

  /**
   * A fresh process id and the node that owns it on the consistent hash ring of Active
   * members. Advisory: during membership churn two nodes may briefly disagree on the owner.
   */
  assignPid(): { pid: string; owner: string | undefined } {
    const pid = toHex(this.env.random.bytes(8));
    return { pid, owner: this.ring.ownerOf(pid) };
  }

  /** Sends `data` on `topic` to one node: over a direct link, or relayed through the mesh. */
  send(to: string, topic: string, data: Uint8Array): Promise<void> {
    return this.#messaging().send(to, topic, data);
  }

  /** Sends a request on `topic` and resolves with the reply (rejects on timeout or remote error). */
  request(to: string, topic: string, data: Uint8Array, timeoutMs?: number): Promise<Uint8Array> {
    return this.#messaging().request(to, topic, data, timeoutMs);
  }

  /** Answers requests on `topic` (one responder per topic); may be called before start(). */
  respond(topic: string, responder: Responder): () => void {
    return this.#handlers.respond(topic, responder);
  }

  /** Sends `data` on `topic` to every node (flooded over the links, signed). */
  broadcast(topic: string, data: Uint8Array): void {
    this.#messaging().broadcast(topic, data);
  }

  /** Messages on `topic`, sent to this node or broadcast; may be called before start(). */
  subscribe(topic: string, handler: (msg: AppMessage) => void): () => void {
    return this.#handlers.subscribe(topic, handler);
  }

  /**
   * Leaves gracefully: a signed goodbye is gossiped for `leaveDrainMs`, then links close.
   * Resolves when the node is closed.
   */
  leave(): Promise<void> {
    if (this.#state !== 'running') return Promise.resolve(this.close());
    this.#core().leave();
    return new Promise((resolve) => {
      this.env.scheduler.setTimer(this.#opts.leaveDrainMs ?? 1_000, () => {
        this.close();
        resolve();
      });
    });
  }

  /**
   * Freezes this node as a hung process would be: it stops probing, gossiping and
   * answering, and drops what it receives, while its links stay open. The others suspect
   * it, then declare it Unreachable. `unfreeze()` resumes it: it learns it was suspected
   * and refutes with a higher incarnation. For demonstrations and failure drills.
   */
  freeze(): void {
    if (this.#state !== 'running' || this.#frozen) return;
    this.#frozen = true;
    this.#membership?.stop();
    this.#replica?.stop();
  }

  unfreeze(): void {
    if (this.#state !== 'running' || !this.#frozen) return;
    this.#frozen = false;
    this.#membership?.start();
    this.#replica?.start();
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  /** The link set `nodeId` last reported (known for this node's neighbours only). */
  neighboursOf(nodeId: string): string[] | undefined {
    if (nodeId === this.nodeId) return this.links();
    const set = this.#membership?.neighboursOf(nodeId);
    return set ? [...set] : undefined;
  }

  /** Stops at once, without a goodbye (peers will detect it as failed). */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#maintainTimer !== undefined) this.env.scheduler.cancelTimer(this.#maintainTimer);
    this.#membership?.stop();
    this.#replica?.stop();
    this.#messenger?.close();
    this.#links.closeAll('node closed');
    for (const t of this.#transports) t.close();
  }

  // ---- internals ----

  #messaging(): Messenger {
    if (!this.#messenger || this.#state === 'closed') throw new Error('MeshNode: not running');
    return this.#messenger;
  }

  #stateReplica(): StateReplica {
    if (!this.#replica) throw new Error('MeshNode: call start() first');
    return this.#replica;
  }

  #core(): Membership {
    if (!this.#membership) throw new Error('MeshNode: call start() first');
    return this.#membership;
  }

  async #persistIncarnation(incarnation: number): Promise<void> {
    try {
      await this.#storage.set(INCARNATION_KEY, encodeU32(incarnation));
    } catch (error) {
      this.#events.emit('error', { error, context: 'persisting the incarnation' });
    }
  }

  #emit<K extends keyof MeshEvents>(type: K, payload: MeshEvents[K]): void {
    this.#events.emit(type, payload, (error) => {
      if (type !== 'error') this.#events.emit('error', { error, context: `a ${String(type)} handler` });
    });
  }

  #onMembershipEvent(e: MembershipEvent): void {
    switch (e.type) {
      case 'alive':
        this.#replica?.memberAlive(e.nodeId, e.lowWaterMark);
        return;
      case 'state': {
        if (e.state === NodeState.Active) this.ring.add(e.nodeId);
        else this.ring.remove(e.nodeId);
        const change = { nodeId: e.nodeId, previous: e.previous, state: e.state, incarnation: e.incarnation };
        this.#emit('member-state', change);
        if (e.nodeId === this.nodeId) {
          if (e.state === NodeState.Active && e.previous === NodeState.Joining) this.#joined(e.incarnation);
          return;
        }
        const back =
          e.previous === null || e.previous === NodeState.Unreachable || e.previous === NodeState.Left;
        if (e.state === NodeState.Active && back) this.#emit('member-joined', change);
        if (e.state === NodeState.Left) this.#emit('member-left', change);
        return;
      }
      case 'reaped':
        this.#replica?.memberReaped(e.nodeId);
        this.#emit('member-reaped', { nodeId: e.nodeId });
        return;
      case 'suspected':
        this.#emit('suspected', { nodeId: e.nodeId, incarnation: e.incarnation });
        return;
      case 'refuted':
        this.#emit('refuted', { incarnation: e.incarnation, by: e.by });
        return;
      case 'incarnation':
        void this.#persistIncarnation(e.incarnation);
        return;
      case 'identity-conflict':
        this.#emit('identity-conflict', { incarnation: e.incarnation });
        return;
      case 'incarnation-exhausted':
        this.#events.emit('error', {
          error: new Error(`incarnation ${e.incarnation} is the last one: restart with a new identity`),
          context: 'refuting a claim about this node',
        });
        return;
      case 'exchanged':
        this.#links.release(e.nodeId);
        return;
    }
  }

  #joined(incarnation: number): void {
    const waiters = this.#joinWaiters;
    this.#joinWaiters = [];
    for (const w of waiters) w();
    this.#emit('joined', { incarnation });
  }

  #linkUp(link: Link, transient: boolean): void {
    const core = this.#membership;
    if (!core) return;
    const id = link.peer.nodeId;
    // A transient link (this node is full) only carries the newcomer's join exchange.
    if (transient) return;
    core.linkUp(id);
    this.#replica?.linkUp(id, link.initiator);
    this.#emit('link-up', { nodeId: id, transport: link.transport });
    // Exchange state when joining, when this is our only link (we were cut off), or when we
    // dialled a peer that is news to us (healing after a partition). The dialler starts it.
    const i = core.table.ids.lookup(id);
    const known = i !== undefined && isReachable(core.table.state(i));
    const isolated = this.#links.size === 1;
    if (core.selfState === NodeState.Joining || (link.initiator && (!known || isolated)))
      core.exchangeWith(id);
  }

  #linkDown(nodeId: string, reason: string, expected: boolean): void {
    this.#membership?.linkDown(nodeId, !expected);
    if (!expected) this.#redial(nodeId);
    this.#replica?.linkDown(nodeId);
    this.#emit('link-down', { nodeId, reason });
  }

  #send(to: string, cls: DeliveryClass, msg: Message): number {
    const link = this.#links.get(to);
    if (!link || this.#frozen) return 0;
    let frame: Uint8Array;
    try {
      frame = encodeMessage(msg, this.#opts.wireLimits);
    } catch (error) {
      this.#events.emit('error', { error, context: `encoding a ${msg.type} message` });
      return 0;
    }
    this.#traffic.messagesOut++;
    this.#traffic.bytesOut += frame.length;
    this.#links.sent(to);
    if (cls === 'datagram') link.sendDatagram(frame);
    else link.send(frame);
    return frame.length;
  }

  #reject(code: string): void {
    this.#traffic.framesRejected++;
    this.#rejectedBy[code] = (this.#rejectedBy[code] ?? 0) + 1;
  }

  #onFrame(from: string, cls: DeliveryClass, frame: Uint8Array, link: Link): void {
    const core = this.#membership;
    if (!core || this.#state === 'closed' || this.#frozen) return;
    this.#traffic.messagesIn++;
    this.#traffic.bytesIn += frame.length;
    let msg: Message;
    try {
      msg = decodeMessage(frame, this.#opts.wireLimits);
    } catch (e) {
      this.#reject(e instanceof WireError ? e.code : 'malformed');
      return;
    }
    switch (msg.type) {
      case 'ack':
        // An ack relayed by a witness counts only with its target's signature (see prober.ts).
        this.#withProbeAck(from, msg, () => core.onMessage(from, cls, msg));
        if (msg.g) this.#withClaims(from, msg.g, () => {});
        return;
      case 'ping':
      case 'ping-req':
      case 'nack':
        // Probes are answered before their piggybacked claims are verified: never delay an ack.
        core.onMessage(from, cls, msg);
        if ('g' in msg && msg.g) this.#withClaims(from, msg.g, () => {});
        return;
      case 'gossip':
        this.#withClaims(from, msg.g, () => {});
        return;
      case 'claims':
        this.#withClaims(from, msg.claims, () => core.onMessage(from, cls, msg));
        return;
      case 'digest':
        core.onMessage(from, cls, msg, link);
        return;
      case 'want':
      case 'neighbours':
        core.onMessage(from, cls, msg);
        return;
      case 'keepalive':
        return;
      case 'bye':
        this.#links.farewell(link);
        return;
      case 'state-delta':
        this.#replica?.onDelta(from, msg.entries);
        return;
      case 'tree':
        this.#replica?.onTree(from, msg);
        return;
      case 'app':
        this.#messenger?.onApp(from, msg);
        return;
      case 'broadcast':
        this.#messenger?.onBroadcast(from, msg);
        return;
      default:
        this.#reject('unexpected-type');
    }
  }

  /**
   * Runs `then` for an ack that is its sender's own, or that names another target and
   * carries that member's valid signature over (nonce, target, this node); drops the rest.
   */
  #withProbeAck(from: string, msg: MessageOf<'ack'>, then: () => void): void {
    if (!msg.t || toHex(msg.t) === from) {
      then();
      return;
    }
    const target = toHex(msg.t);
    const key = this.#membership?.member(target)?.publicKey;
    if (!key || !msg.n || !msg.sig) {
      this.#reject('unsigned-ack');
      return;
    }
    // Verify only what would settle a waiting probe: junk, repeats and late copies (an
    // honest witness answering after the probe ended) cost a lookup and are dropped quietly.
    if (this.#membership!.ackFor(msg.seq, target, msg.n) !== 'wait') return;
    const payload = probeAckPayload(msg.n, msg.t, fromHex(this.nodeId));
    const done = (valid: boolean) => {
      if (this.#state === 'closed') return;
      if (valid) then();
      else this.#reject('bad-ack-signature');
    };
    const ok = (this.#opts.verifier ?? fastVerifier).verify(key, Domain.ProbeAck, payload, msg.sig);
    if (typeof ok === 'boolean') done(ok);
    else void ok.then(done, () => done(false));
  }

  /** Verifies claims at the boundary, applies the good ones, then runs `then`. */
  #withClaims(from: string, wires: WireClaim[], then: () => void): void {
    const results = this.#verifyClaims(wires);
    const finish = (claims: Array<Claim | null>) => {
      if (this.#state === 'closed') return;
      this.#membership!.applyClaims(this.#screen(claims), from);
      then();
    };
    if (results.every((r) => !(r instanceof Promise))) finish(results as Array<Claim | null>);
    else
      void Promise.all(results)
        .then(finish)
        .catch((error) => this.#events.emit('error', { error, context: 'applying membership claims' }));
  }

  #verifyClaims(wires: readonly WireClaim[]): Array<MaybePromise<Claim | null>> {
    const admit = (c: Claim) => this.#admission.check(c.signerKey, c.token) === undefined;
    return wires.map((w) => this.#claims.verify(w, admit));
  }

  /** The verified claims within their signers' rate quota; the rest count as rejected. */
  #screen(claims: Array<Claim | null>): Claim[] {
    const good = claims.filter((c): c is Claim => c !== null && this.#claimQuota.take(c.signer));
    this.#traffic.claimsRejected += claims.length - good.length;
    return good;
  }

  /**
   * A link closed without a goodbye: dial the member again at once. If it is alive (the
   * goodbye was lost, the connection failed) the link is back before the lost-link check
   * ends, so it is not suspected; if it crashed, the dial fails and changes nothing.
   */
  #redial(nodeId: string): void {
    const core = this.#membership;
    if (!core || this.#state !== 'running' || this.#frozen) return;
    const i = core.table.ids.lookup(nodeId);
    if (i === undefined || core.table.state(i) !== StateCode.Active) return;
    const alive = core.table.aliveClaim(i);
    if (alive) this.#links.dialMember(dialTargetOf(alive));
  }

  #scheduleMaintain(): void {
    const delay = MAINTAIN_INTERVAL_MS * (0.5 + this.env.random.next());
    this.#maintainTimer = this.env.scheduler.setTimer(delay, () => {
      this.#maintainTimer = undefined;
      if (this.#state !== 'running') return;
      if (!this.#frozen) this.#maintain();
      this.#scheduleMaintain();
    });
  }

  /** Keeps enough links, retries seeds while joining, and re-contacts lost members now and then. */
  #maintain(): void {
    const core = this.#core();
    if (core.selfState === NodeState.Left) return;
    if (this.#links.wantsMore()) {
      const candidates = [];
      for (const i of core.table.known()) {
        if (i === core.selfIndex || core.table.state(i) !== StateCode.Active) continue;
        const alive = core.table.aliveClaim(i);
        if (alive) candidates.push(dialTargetOf(alive));
      }
      this.#links.fill(candidates);
    }
    this.#links.checkIdle();
    this.#checkReachability(core);
    this.#checkStranded(core);
    if (this.#admission.policy.mode === 'token') this.#enforceExpiry(core);
    // Joining or cut off: keep trying the seeds without backing off.
    const stranded = core.selfState === NodeState.Joining || this.#links.size === 0;
    if (stranded) for (const s of this.#seeds) this.#links.dial(s, undefined, true);
    const now = this.env.clock.now();
    if (now - this.#lastHeal >= core.config.reconnectIntervalMs) {
      this.#lastHeal = now;
      this.#heal(core);
    }
  }

  /**
   * Dials a member nobody seems to link to (Membership.memberToCheck): a completed handshake
   * vouches for it, silence gets it suspected. A member whose addresses only another kind of
   * node can dial (a browser's `webrtc:` address seen from a WebSocket-only process) is left
   * to those nodes; one that advertises nothing any transport knows is left to its check.
   */
  #checkReachability(core: Membership): void {
    const check = core.memberToCheck();
    if (!check) return;
    if (!this.#links.canDialAny(check.addrs) && check.addrs.some(isKnownAddress)) core.vouch(check.nodeId);
    else this.#links.dialMember(check);
  }

  /** Still Joining strandedAfterMs after start(): says so, once, and why (MeshEvents.stranded). */
  #checkStranded(core: Membership): void {
    if (this.#strandedReported || core.selfState !== NodeState.Joining) return;
    const waitedMs = this.env.clock.now() - this.#startedAt;
    if (waitedMs < (this.#opts.strandedAfterMs ?? 10_000)) return;
    this.#strandedReported = true;
    const seeds = this.#seeds.map((address) => ({
      address,
      error:
        this.#seedFailures.get(address) ??
        (this.canDial(address) ? 'no answer yet' : 'no transport of this node dials it'),
    }));
    const shown = seeds.slice(0, 4).map((s) => `${s.address} (${s.error})`);
    if (seeds.length > 4) shown.push(`${seeds.length - 4} more`);
    const reason =
      this.#links.size > 0
        ? `linked to ${this.#links.size} node(s), but no join exchange has completed`
        : seeds.length === 0
          ? 'no seeds to join through (join() was not called with any yet) and no node has linked to this one'
          : `no seed answered: ${shown.join(', ')}`;
    if (this.#events.listenerCount('stranded') > 0) this.#emit('stranded', { waitedMs, reason, seeds });
    else
      this.#events.emit('error', {
        error: new Error(`still Joining after ${Math.round(waitedMs / 1000)} s: ${reason}`),
        context: 'joining the cluster',
      });
  }

  /**
   * Token clusters: a member whose token expired is let go at once — links closed, removed
   * from membership (and so from the ring and queries), its state entries dropped; the
   * boundary refuses its claims, messages and entries from then on (Admission.check).
   */
  #enforceExpiry(core: Membership): void {
    for (const id of this.#links.peers()) {
      const link = this.#links.get(id);
      if (link && this.#admission.expired(link.peer.publicKey))
        this.#links.close(id, 'membership token expired');
    }
    for (const m of core.members()) {
      if (m.nodeId !== this.nodeId && this.#admission.expired(m.publicKey)) core.expel(m.nodeId);
    }
  }

  /**
   * Serf-style reconnect: dial one random Unreachable or recently reaped member (it may be
   * alive on the other side of a healed partition), and rarely a seed that is not linked.
   */
  #heal(core: Membership): void {
    const lost: DialTarget[] = core.recentlyReaped();
    for (const i of core.table.known()) {
      if (core.table.state(i) === StateCode.Unreachable) {
        const alive = core.table.aliveClaim(i);
        if (alive) lost.push(dialTargetOf(alive));
      }
    }
    if (lost.length > 0) {
      this.#links.dialMember(lost[this.env.random.int(lost.length)]!);
    }
    // About one node of the cluster per interval contacts a seed.
    if (this.#seeds.length > 0 && this.env.random.next() < 1 / Math.max(1, core.table.size)) {
      this.#links.dial(this.#seeds[this.env.random.int(this.#seeds.length)]!);
    }
  }
}

function emptyStateMetrics(): StateReplicaMetrics {
  return {
    entries: 0,
    bytes: 0,
    tombstones: 0,
    merged: 0,
    ignored: 0,
    voided: 0,
    refusedFull: 0,
    evicted: 0,
    rejected: 0,
    throttled: 0,
    deltasSent: 0,
    antiEntropySessions: 0,
    antiEntropyHashes: 0,
    antiEntropyEntries: 0,
    antiEntropyThrottled: 0,
    restamped: 0,
    bytesSent: 0,
  };
}

/** Address schemes some weftmesh transport can dial (sim memory, WebSocket, WebRTC). */
function isKnownAddress(address: string): boolean {
  return /^(mem:|wss?:\/\/|webrtc:)/.test(address);
}
