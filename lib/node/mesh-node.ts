export type { MeshNodeOptions } from './options.ts';

/**
 * MeshNode: the public façade. It owns an identity, an environment, the transports and
 * the link manager from construction; start() builds the running cores in one piece
 * (RunningNode); the frame boundary (FrameBoundary), link maintenance (LinkMaintenance) and
 * persistence (NodePersistence) are modules of their own. Methods here check the node's
 * phase and delegate.
 */
import {
  BroadcastKind,
  type BroadcastMetrics,
  broadcastMetrics,
  emptyTreeMetrics,
  type TreeLinks,
} from '../broadcast/metrics.ts';
import type { MeshConsensus } from '../consensus/mesh.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import type { MembershipMetrics } from '../membership/metrics.ts';
import { NodeState } from '../membership/node-state.ts';
import type { MemberInfo } from '../membership/swim.ts';
import type { ConsistentHashRing } from '../ring/consistent-hash-ring.ts';
import type { StateEntry } from '../state/entry.ts';
import type { DistributedProcessTable } from '../state/process-table.ts';
import type { ClusterServiceRegistry } from '../state/service-registry.ts';
import type { ProcessFields, ServiceFields } from '../state/values.ts';
import { realEnv } from '../time/real.ts';
import type { Env } from '../time/types.ts';
import { toHex } from '../util/bytes.ts';
import { Emitter } from '../util/emitter.ts';
import type { WireClaim } from '../wire/claims.ts';
import type { StateTable } from '../wire/entries.ts';
import type { RequestStreamOptions, StreamResponder } from './answer-stream.ts';
import type { Traffic } from './boundary.ts';
import type { ChainHost } from './chain-service.ts';
import { MeshNodeError } from './errors.ts';
import type { MeshEvents } from './events.ts';
import type { Stranded } from './link-maintenance.ts';
import {
  type AppMessage,
  emptyMessagingMetrics,
  type MessagingMetrics,
  type Messenger,
  type Responder,
  type TopicHandlers,
} from './messaging.ts';
import { checkMeshNodeOptions, type MeshNodeOptions } from './options.ts';
import { nodeParts } from './parts.ts';
import { type NodeParts, RunningNode } from './running.ts';
import { emptyStateMetrics, type StateReplica, type StateReplicaMetrics } from './state-replica.ts';

export interface MeshMetrics extends MembershipMetrics, Traffic {
  links: number;
  /** Dials in flight (they count towards minLinks). */
  pendingDials: number;
  /** Dials a transport never ended, taken as failed after 60 s (a transport bug if not 0). */
  dialsStuck: number;
  members: number;
  localHealth: number;
  messaging: MessagingMetrics;
  state: StateReplicaMetrics;
  /** The broadcast tree: eager and lazy links, deliveries and copies per kind, grafts, prunes. */
  broadcast: BroadcastMetrics;
}

export class MeshNode {
  readonly identity: NodeIdentity;
  readonly cluster: string;
  readonly env: Env;
  readonly #events = new Emitter<MeshEvents>();
  readonly #opts: MeshNodeOptions;
  /** What the node has from construction on (links, boundary, maintenance, persistence…). */
  readonly #parts: NodeParts;
  /** The running cores: present from the end of start() on. */
  #run: RunningNode | undefined;
  #phase: 'new' | 'starting' | 'running' | 'closed' = 'new';
  #frozen = false;
  #joinWaiters: Array<() => void> = [];
  /** Hosted chains (a node built with `chains: chains()`). */
  readonly #chains: ChainHost | undefined;
  /** Raft (a node built with `consensus: consensus(…)`): present from the end of start() on. */
  #consensus: MeshConsensus | undefined;

  constructor(opts: MeshNodeOptions) {
    this.#opts = checkMeshNodeOptions(opts);
    this.identity = opts.identity;
    this.cluster = opts.cluster;
    this.env = opts.env ?? realEnv();
    this.#parts = nodeParts(opts, this.env, {
      run: () => this.#run,
      frozen: () => this.#frozen,
      closed: () => this.#phase === 'closed',
      emit: (type, payload) => this.#emit(type, payload),
      failed: (error, context) => this.#events.emit('error', { error, context }),
      stranded: (s) => this.#stranded(s),
      joined: (incarnation) => this.#joined(incarnation),
    });
    this.#chains = opts.chains?.create(this);
  }

  /**
   * The consistent hash ring of Active members (kept from construction on), or a
   * MeshNodeError (`no-ring`) for a node built without `ring: hashRing()`.
   */
  get ring(): ConsistentHashRing {
    if (!this.#parts.ring)
      throw new MeshNodeError('no-ring', 'MeshNode: built without a hash ring (pass ring: hashRing())');
    return this.#parts.ring;
  }

  /**
   * The chains this node hosts (kept from construction on), or a MeshNodeError (`no-chains`)
   * for a node built without `chains: chains()`.
   */
  get chains(): ChainHost {
    if (!this.#chains)
      throw new MeshNodeError('no-chains', 'MeshNode: built without chains (pass chains: chains())');
    return this.#chains;
  }

  /**
   * This node's Raft consensus (propose, read, status), or a MeshNodeError: `not-started`
   * before start(), `no-consensus` for a node built without `consensus: consensus(…)`.
   */
  get consensus(): MeshConsensus {
    this.#running();
    if (!this.#consensus)
      throw new MeshNodeError(
        'no-consensus',
        'MeshNode: built without consensus (pass consensus: consensus({ voters }) from weftmesh/consensus)',
      );
    return this.#consensus;
  }

  get nodeId(): string {
    return this.identity.nodeId;
  }

  /** This node's own state (Joining until a join exchange completed). */
  get state(): NodeState {
    return this.#run?.membership.selfState ?? NodeState.Joining;
  }

  get incarnation(): number {
    return this.#running().membership.incarnation;
  }

  /** Handlers may be registered at any time, before start() too; one that throws becomes an `error` event. */
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
    if (this.#phase !== 'new')
      throw new MeshNodeError('already-started', `start() called on a ${this.#phase} node`);
    this.#phase = 'starting';
    const incarnation = await this.#parts.persistence.startIncarnation(this.env.clock.wallNow());
    const hlcNotBefore = await this.#parts.persistence.hlcNotBefore();
    if (this.#phase !== 'starting') return;
    const run = new RunningNode(this.#parts, incarnation, hlcNotBefore);
    this.#run = run;
    run.start();
    this.#phase = 'running';
    this.#consensus = this.#opts.consensus?.create(this);
  }

  /**
   * Joins the cluster through seed addresses (none: this node starts a new cluster).
   * Resolves once a join exchange completed; keeps retrying seeds with backoff until then.
   */
  join(seeds: string[] = []): Promise<void> {
    const core = this.#running().membership;
    this.#parts.maintenance.setSeeds(seeds);
    if (seeds.length === 0) core.bootstrap();
    if (core.selfState !== NodeState.Joining) return Promise.resolve();
    for (const s of seeds) this.#parts.links.dial(s);
    return new Promise((resolve) => this.#joinWaiters.push(resolve));
  }

  /** Whether a transport of this node can dial `address` (e.g. `ws://…`, `webrtc:<id>`). */
  canDial(address: string): boolean {
    return this.#parts.links.canDialAny([address]);
  }

  /** Dials a node at `address` (any transport that can) and keeps the link if it is admitted. */
  connect(address: string, expectNodeId?: string): void {
    this.#live();
    this.#parts.links.dial(address, expectNodeId, true);
  }

  /** Closes the direct link to `nodeId`, if any (the node may dial a replacement later). */
  disconnect(nodeId: string, reason = 'disconnected by the application'): void {
    this.#parts.links.close(nodeId, reason);
  }

  /** The signed claims this node holds about the cluster, its own first (as a full exchange carries them). */
  claims(): WireClaim[] {
    return this.#running()
      .membership.claims()
      .map((c) => c.wire);
  }

  /**
   * Takes claims as news every member already has: verifies and admits them as if they had
   * arrived from a peer, applies them, and does not gossip them on. A simulator uses it to
   * start from a converged cluster, to measure steady state without simulating every join.
   * Resolves with how many were accepted: verified, admitted and within their signer's rate
   * quota (the rest count as rejected claims).
   */
  adoptClaims(wires: readonly WireClaim[]): Promise<number> {
    this.#running();
    return this.#parts.boundary.adopt(wires);
  }

  /** Every member this node knows, itself included. */
  members(): MemberInfo[] {
    return this.#run?.membership.members() ?? [];
  }

  member(nodeId: string): MemberInfo | undefined {
    return this.#run?.membership.member(nodeId);
  }

  /** Node ids of the current direct links. */
  links(): string[] {
    return this.#parts.links.peers();
  }

  /** The link set `nodeId` last reported (known for this node's neighbours only). */
  neighboursOf(nodeId: string): string[] | undefined {
    if (nodeId === this.nodeId) return this.links();
    const set = this.#run?.membership.neighboursOf(nodeId);
    return set ? [...set] : undefined;
  }

  /**
   * This node's links as each kind of broadcast's tree holds them (membership news, state
   * entries, application broadcasts): `eager` ones carry it in full (tree edges), `lazy` ones
   * only announce it. For diagnostics: which links the trees use.
   */
  treeLinks(): TreeLinks {
    const tree = this.#run?.tree;
    const shape = (k: BroadcastKind) => tree?.shape(k) ?? { eager: [], lazy: [] };
    return {
      claims: shape(BroadcastKind.Claim),
      entries: shape(BroadcastKind.Entry),
      app: shape(BroadcastKind.App),
    };
  }

  /**
   * Renews this node's membership token (token admission): announced at once in a new alive
   * claim, and presented at every later link handshake. Renew before the old one expires:
   * members drop a node whose token has expired.
   */
  setToken(token: Uint8Array): void {
    const run = this.#running();
    for (const ctx of run.transportContexts) ctx.token = token;
    run.membership.setToken(token);
  }

  /** Re-announces this node with new metadata (raises its incarnation). */
  setMeta(meta: Record<string, string>): void {
    this.#running().membership.setMeta(meta);
  }

  metrics(): MeshMetrics {
    const run = this.#run;
    return {
      ...(run?.membership.metrics ?? ({} as MembershipMetrics)),
      ...this.#parts.boundary.traffic,
      framesRejectedBy: { ...this.#parts.boundary.traffic.framesRejectedBy },
      links: this.#parts.links.size,
      pendingDials: this.#parts.links.pendingDials,
      dialsStuck: this.#parts.links.dialsStuck,
      members: run?.membership.size ?? 0,
      localHealth: run?.membership.localHealth ?? 0,
      messaging: { ...(run?.messenger?.metrics ?? emptyMessagingMetrics()) },
      state: run?.replica?.metrics() ?? emptyStateMetrics(),
      broadcast: broadcastMetrics(run?.tree.metrics ?? emptyTreeMetrics(), this.treeLinks(), {
        applied: run?.membership.metrics.claimsApplied ?? 0,
        ignored: run?.membership.metrics.claimsIgnored ?? 0,
      }),
    };
  }

  // ---- replicated state ----

  /**
   * Advertises (or updates) a process of this node. The write is applied locally at once,
   * signed and gossiped; the returned entry is the version written (its receipt).
   */
  advertiseProcess(pid: string, fields: ProcessFields): StateEntry {
    return this.#replica().advertiseProcess(pid, fields);
  }

  /** Removes a process advertisement of this node (a tombstone). */
  removeProcess(pid: string): StateEntry {
    return this.#replica().removeProcess(pid);
  }

  /** Advertises (or updates) this node's instance of a service. */
  advertiseService(serviceName: string, fields: ServiceFields): StateEntry {
    return this.#replica().advertiseService(serviceName, fields);
  }

  /** Withdraws this node's instance of a service (a tombstone). */
  withdrawService(serviceName: string): StateEntry {
    return this.#replica().withdrawService(serviceName);
  }

  /**
   * The replica's current version of one register, tombstones and entries of unreachable
   * origins included (the queries hide those): for inspection, tests and tooling.
   */
  stateEntry(table: StateTable, origin: string, key: string): StateEntry | undefined {
    return this.#replica().state.get(table, origin, key);
  }

  /** The distributed process table (queries see reachable nodes only). */
  get processes(): DistributedProcessTable {
    return this.#replica().processes;
  }

  /** The cluster service registry. */
  get services(): ClusterServiceRegistry {
    return this.#replica().services;
  }

  /** Merkle root of this replica's state (equal roots: equal state). */
  stateRoot(): Uint8Array {
    return this.#replica().root();
  }

  /**
   * A fresh process id and the node that owns it on the consistent hash ring of Active
   * members. Advisory: during membership churn two nodes may briefly disagree on the owner.
   */
  assignPid(): { pid: string; owner: string | undefined } {
    const ring = this.ring;
    const pid = toHex(this.env.random.bytes(8));
    return { pid, owner: ring.ownerOf(pid) };
  }

  // ---- messaging ----

  /** Sends `data` on `topic` to one node: over a direct link, or relayed through the mesh. */
  send(to: string, topic: string, data: Uint8Array): Promise<void> {
    return settled(() => this.#messenger().send(to, topic, data));
  }

  /** Sends a request on `topic` and resolves with the reply (rejects on timeout or remote error). */
  request(to: string, topic: string, data: Uint8Array, timeoutMs?: number): Promise<Uint8Array> {
    return settled(() => this.#messenger().request(to, topic, data, timeoutMs));
  }

  /** Answers requests on `topic` (one responder per topic); may be called before start(). */
  respond(topic: string, responder: Responder): () => void {
    return this.#topics().respond(topic, responder);
  }

  /**
   * Sends a request answered in up to `maxParts` messages (default 16, at most 64), each up
   * to messaging's maxMessageBytes: for bulk transfers, one request per many answers. Read the
   * parts in order with `for await`; `timeoutMs` bounds the wait for each part; an error (no
   * route, timeout, the responder's) ends the iteration after the parts that came before it.
   * The node asked answers with `respondStream` (a plain `respond` answers with one part).
   */
  requestStream(
    to: string,
    topic: string,
    data: Uint8Array,
    opts?: RequestStreamOptions,
  ): AsyncIterableIterator<Uint8Array> {
    try {
      return this.#messenger().requestStream(to, topic, data, opts);
    } catch (error) {
      // Not running, no messaging, a bad topic or count: the iteration reports it.
      return {
        next: () => Promise.reject(error),
        [Symbol.asyncIterator]() {
          return this;
        },
      };
    }
  }

  /**
   * Answers requestStream()s on `topic`: `responder` yields the parts (sync or async), at most
   * the count asked (passed to it); each is sent once the link has room. It also answers plain
   * request()s, with its first part. One responder per topic; may be called before start().
   */
  respondStream(topic: string, responder: StreamResponder): () => void {
    return this.#topics().respondStream(topic, responder);
  }

  /** Sends `data` on `topic` to every node (flooded over the links, signed). */
  broadcast(topic: string, data: Uint8Array): void {
    this.#messenger().broadcast(topic, data);
  }

  /** Messages on `topic`, sent to this node or broadcast; may be called before start(). */
  subscribe(topic: string, handler: (msg: AppMessage) => void): () => void {
    return this.#topics().subscribe(topic, handler);
  }

  // ---- lifecycle ----

  /**
   * Leaves gracefully: a signed goodbye is gossiped for `leaveDrainMs`, then links close.
   * Resolves when the node is closed.
   */
  leave(): Promise<void> {
    const run = this.#run;
    if (this.#phase !== 'running' || !run) return Promise.resolve(this.close());
    run.membership.leave();
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
    if (this.#phase !== 'running' || this.#frozen) return;
    this.#frozen = true;
    this.#run?.pause();
  }

  unfreeze(): void {
    if (this.#phase !== 'running' || !this.#frozen) return;
    this.#frozen = false;
    this.#run?.resume();
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  /** Stops at once, without a goodbye (peers will detect it as failed). */
  close(): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#chains?.close();
    this.#consensus?.close();
    this.#run?.close();
    this.#parts.links.closeAll('node closed');
    for (const t of this.#parts.transports) t.close();
  }

  // ---- internals ----

  /** The cores (kept after close() for queries), or a MeshNodeError before start(). */
  #running(): RunningNode {
    if (!this.#run) throw new MeshNodeError('not-started', 'MeshNode: call start() first');
    return this.#run;
  }

  /** The cores of a node that is running now: what sends or dials needs. */
  #live(): RunningNode {
    if (this.#phase === 'closed') throw new MeshNodeError('closed', 'MeshNode: the node is closed');
    return this.#running();
  }

  /** Subscriptions and responders (kept from construction on), or a MeshNodeError without messaging. */
  #topics(): TopicHandlers {
    if (!this.#parts.handlers)
      throw new MeshNodeError(
        'no-messaging',
        'MeshNode: built without messaging (pass messaging: messaging())',
      );
    return this.#parts.handlers;
  }

  /** The state replica, or a MeshNodeError: not started, or built without `state: replicatedState()`. */
  #replica(): StateReplica {
    const replica = this.#running().replica;
    if (!replica)
      throw new MeshNodeError(
        'no-state',
        'MeshNode: built without replicated state (pass state: replicatedState())',
      );
    return replica;
  }

  /** The messenger of a running node, or a MeshNodeError: not started, closed, or built without `messaging: messaging()`. */
  #messenger(): Messenger {
    const messenger = this.#live().messenger;
    if (!messenger)
      throw new MeshNodeError(
        'no-messaging',
        'MeshNode: built without messaging (pass messaging: messaging())',
      );
    return messenger;
  }

  #emit<K extends keyof MeshEvents>(type: K, payload: MeshEvents[K]): void {
    this.#events.emit(type, payload, (error) => {
      if (type !== 'error') this.#events.emit('error', { error, context: `a ${String(type)} handler` });
    });
  }

  #joined(incarnation: number): void {
    const waiters = this.#joinWaiters;
    this.#joinWaiters = [];
    for (const w of waiters) w();
    this.#emit('joined', { incarnation });
  }

  /** Reported as `stranded`, or as an `error` when nobody listens for that (nothing fails silently). */
  #stranded(s: Stranded): void {
    if (this.#events.listenerCount('stranded') > 0) this.#emit('stranded', s);
    else
      this.#events.emit('error', {
        error: new MeshNodeError(
          'stranded',
          `still Joining after ${Math.round(s.waitedMs / 1000)} s: ${s.reason}`,
        ),
        context: 'joining the cluster',
      });
  }
}

/** An async call's refusal (not started, closed, no messaging) as a rejection, not a throw. */
function settled<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error);
  }
}
