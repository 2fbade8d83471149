/**
 * A simulated cluster: N MeshNodes on a SimNetwork, sharing one claim verifier and one id
 * interner (memory), with crash / restart / partition helpers and a ClusterObserver.
 */
import { NodeIdentity } from '../identity/node-identity.ts';
import { type SignatureVerifier, strictVerifier } from '../identity/verifier.ts';
import type { HeartbeatConfig } from '../membership/config.ts';
import { IdInterner } from '../membership/interner.ts';
import { NodeState } from '../membership/node-state.ts';
import { MeshNode, type MeshNodeOptions } from '../node/mesh-node.ts';
import { messaging } from '../node/messaging-service.ts';
import { hashRing } from '../node/ring-service.ts';
import { ClaimVerifier, SignedVerifier } from '../node/signed-verifier.ts';
import { entryKind } from '../node/state-replica.ts';
import { replicatedState } from '../node/state-service.ts';
import type { StateEntry } from '../state/entry.ts';
import { MemoryStorage } from '../storage/memory.ts';
import type { SimHost } from './host.ts';
import { SimNetwork, type SimNetworkOptions } from './network.ts';
import { ClusterObserver } from './observer.ts';

export interface SimClusterOptions {
  nodes: number;
  seed: number | string;
  network?: Omit<SimNetworkOptions, 'seed'>;
  heartbeat?: Partial<HeartbeatConfig>;
  maxLinks?: number;
  minLinks?: number;
  cluster?: string;
  /** Node i joins at i/n of this window (0: all at once). Default 0. */
  joinWindowMs?: number;
  /**
   * Start as a cluster whose joins are long over: every node adopts every other node's
   * signed alive claim at time 0 (nothing is gossiped for them) and is Active at once, then
   * forms its links from that view. For steady-state measurements at sizes where simulating
   * the join burst (n claims, each crossing every link) would take hours. Ignores joinWindowMs
   * and seeds: the nodes start the cluster together, so a node cut off later reconnects
   * through the members it knows, not through a seed.
   */
  preconverged?: boolean;
  /** Node indices used as seeds. Default [0]. */
  seeds?: number[];
  /** Wall-clock offset (skew) of each node's host, ms, by index. Default 0. */
  clockOffsetsMs?: number[];
  /** Use these identities (in order) instead of deriving them from the seed. */
  identities?: NodeIdentity[];
  /**
   * Checks every signature (claims, entries, acks, messages; handshakes unless trusted).
   * Default: the pure-JavaScript strict verifier. Long sweeps pass a faster one with the
   * same verdicts.
   */
  verifier?: SignatureVerifier;
  /** Extra MeshNode options per node (admission policy, tokens, messaging limits…). */
  nodeOptions?: (index: number, identity: NodeIdentity) => Partial<MeshNodeOptions>;
}

export interface SimNode {
  readonly index: number;
  readonly host: SimHost;
  readonly identity: NodeIdentity;
  readonly storage: MemoryStorage;
  node: MeshNode;
}

export class SimCluster {
  readonly net: SimNetwork;
  readonly nodes: SimNode[] = [];
  readonly observer: ClusterObserver;
  readonly claims: ClaimVerifier;
  /** Public keys of every simulated identity: the shared entry verifier finds signers here. */
  readonly #keys = new Map<string, Uint8Array>();
  readonly entries: SignedVerifier<StateEntry>;
  readonly interner = new IdInterner();
  readonly #opts: SimClusterOptions;
  readonly #verifier: SignatureVerifier;

  private constructor(opts: SimClusterOptions) {
    this.#opts = opts;
    this.#verifier = opts.verifier ?? strictVerifier;
    this.claims = new ClaimVerifier(this.#verifier, 1 << 22);
    this.entries = new SignedVerifier(
      this.#verifier,
      entryKind((id) => this.#keys.get(id)),
      1 << 22,
    );
    this.net = new SimNetwork({ ...(opts.network ?? {}), seed: opts.seed });
    this.observer = new ClusterObserver(() => this.net.now);
  }

  static async create(opts: SimClusterOptions): Promise<SimCluster> {
    const c = new SimCluster(opts);
    for (let i = 0; i < opts.nodes; i++) {
      const host = c.net.addHost({ clockOffsetMs: opts.clockOffsetsMs?.[i] ?? 0 });
      const derived = NodeIdentity.fromSecretKey(host.env.random.bytes(32));
      const identity = opts.identities?.[i] ?? derived;
      const entry: SimNode = {
        index: i,
        host,
        identity,
        storage: new MemoryStorage(),
        node: undefined as never,
      };
      c.nodes.push(entry);
      c.#keys.set(identity.nodeId, identity.publicKey);
      c.observer.add(i, identity.nodeId);
    }
    // Before the simulation starts no node can have heard of another.
    for (const entry of c.nodes) await c.#boot(entry, false);
    c.observer.arm();
    if (opts.preconverged) {
      const everyone = c.nodes.map((e) => e.node.claims()[0]!);
      for (const e of c.nodes) {
        await e.node.adoptClaims(everyone);
        void e.node.join([]);
      }
      return c;
    }
    const seeds = (opts.seeds ?? [0]).map((i) => c.nodes[i]!.host.url);
    const window = opts.joinWindowMs ?? 0;
    for (const entry of c.nodes) {
      const isSeed = (opts.seeds ?? [0]).includes(entry.index);
      const at = (window * entry.index) / opts.nodes;
      c.net.scheduler.setTimer(at, () => {
        void entry.node.join(
          isSeed && entry.index === (opts.seeds ?? [0])[0] ? [] : seeds.filter((s) => s !== entry.host.url),
        );
      });
    }
    return c;
  }

  /** Nodes that said they were stranded (MeshNode's `stranded`: still Joining 10 s after start). */
  readonly stranded = new Set<number>();

  get seedUrls(): string[] {
    return (this.#opts.seeds ?? [0]).map((i) => this.nodes[i]!.host.url);
  }

  runFor(ms: number): void {
    this.net.runFor(ms);
  }

  get now(): number {
    return this.net.now;
  }

  /** How live node `o` sees node `m` (undefined: unknown). */
  viewOf(o: number, m: number): NodeState | undefined {
    return this.nodes[o]!.node.member(this.nodes[m]!.identity.nodeId)?.state;
  }

  /**
   * Crashes node i without a goodbye. `reset`: its connections are reset, so its neighbours
   * see their links to it close at once (a killed process's TCP connections); otherwise
   * they notice only by silence.
   */
  crash(i: number, { reset = false }: { reset?: boolean } = {}): void {
    const entry = this.nodes[i]!;
    if (!entry.host.up) return;
    this.observer.down(i, (o) => this.viewOf(o, i), true);
    entry.host.crash(reset);
  }

  /** Restarts a crashed node with the same identity and storage; it rejoins through the seeds. */
  async restart(i: number): Promise<void> {
    const entry = this.nodes[i]!;
    if (entry.host.up) return;
    entry.host.restart();
    await this.#boot(entry, true);
    void entry.node.join(this.seedUrls.filter((s) => s !== entry.host.url));
  }

  /** Graceful leave of node i; resolves when it closed (run the network meanwhile). */
  leave(i: number): Promise<void> {
    const entry = this.nodes[i]!;
    this.observer.down(i, (o) => this.viewOf(o, i), false);
    return entry.node.leave();
  }

  partition(groups: number[][]): void {
    this.net.partition(groups.map((g) => g.map((i) => this.nodes[i]!.host)));
  }

  heal(): void {
    this.net.heal();
  }

  /** Indices of live nodes. */
  live(): number[] {
    return this.nodes.filter((n) => this.observer.isLive(n.index)).map((n) => n.index);
  }

  /** Starts a node on its host; `known`: other nodes may know it already (a restart). */
  async #boot(entry: SimNode, known: boolean): Promise<void> {
    const o = this.#opts;
    const node = new MeshNode({
      state: replicatedState(),
      messaging: messaging(),
      ring: hashRing(),
      identity: entry.identity,
      cluster: o.cluster ?? 'sim',
      transport: entry.host.transport(),
      env: entry.host.env,
      storage: entry.storage,
      verifier: this.#verifier,
      claimVerifier: this.claims,
      entryVerifier: this.entries,
      interner: this.interner,
      ...(o.heartbeat ? { heartbeat: o.heartbeat } : {}),
      ...(o.maxLinks !== undefined ? { maxLinks: o.maxLinks } : {}),
      ...(o.minLinks !== undefined ? { minLinks: o.minLinks } : {}),
      ...(o.nodeOptions ? o.nodeOptions(entry.index, entry.identity) : {}),
    });
    entry.node = node;
    const i = entry.index;
    node.on('member-state', (e) => this.observer.state(i, e.nodeId, e.previous, e.state));
    node.on('suspected', (e) => this.observer.suspected(e.nodeId));
    // Counted, not written to the console: a run where thousands are stranded is a result.
    node.on('stranded', () => this.stranded.add(i));
    await node.start();
    let active = 0;
    for (const m of node.members()) {
      const j = this.observer.indexOf(m.nodeId);
      if (j !== undefined && j !== i && this.observer.isLive(j) && m.state === NodeState.Active) active++;
    }
    this.observer.up(i, known ? (o) => this.viewOf(o, i) : undefined, active);
  }
}
