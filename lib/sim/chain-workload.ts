/**
 * Chains for simulations (`weftmesh sim --chains N --entries M [--fork]`): N authors, each
 * hosting its chain of M entries on one node, and every other node following every chain
 * through the chains service. With `fork`, the first chain's author also writes a second
 * history from a copy of its storage on a node of the other half of the cluster (a partition
 * hides it for a while when the run has one). Judged by when every live node held every
 * chain, which nodes hold a valid fork proof, and whether any node accepted an invalid entry.
 */
import { ChainLog } from '../chain/chain-log.ts';
import { MemoryChainStorage } from '../chain/storage.ts';
import { NodeIdentity } from '../identity/node-identity.ts';
import { strictVerifier } from '../identity/verifier.ts';
import { type ChainService, chains } from '../node/chain-service.ts';
import { SeededRandom } from '../time/random.ts';
import type { SimCluster } from './cluster.ts';

export interface ChainWorkloadOptions {
  chains: number;
  entries: number;
  fork: boolean;
  seed: number | string;
}

export interface ChainReport {
  chains: number;
  entries: number;
  /** First time every live node held every chain in full (null: never). */
  syncedAtMs: number | null;
  /** All traffic per node per simulated second from the chains' start until synced (or the end). */
  bytesPerNodePerSec: number;
  /** Nodes holding a valid fork proof of the forked chain (0 without --fork). */
  forksDetectedBy: number;
  /** Hosted chain copies that do not verify (must be 0). */
  invalidAccepted: number;
}

/** The service every node runs when a scenario has chains. */
export function chainService(): ChainService {
  return chains({ verifier: strictVerifier, pullIntervalMs: 500 });
}

export class ChainWorkload {
  readonly #c: SimCluster;
  readonly #o: ChainWorkloadOptions;
  readonly #logs: ChainLog[] = [];
  #startedAt = 0;
  #startBytes = 0;
  #syncedAt: number | undefined;
  #syncedBytes = 0;

  constructor(c: SimCluster, o: ChainWorkloadOptions) {
    this.#c = c;
    this.#o = o;
  }

  /** Authors write their chains; every node follows each. */
  async start(): Promise<void> {
    const c = this.#c;
    const random = new SeededRandom(`${this.#o.seed}/chains`);
    this.#startedAt = c.now;
    this.#startBytes = c.net.totalTraffic().bytesOut;
    const n = c.nodes.length;
    for (let k = 0; k < this.#o.chains; k++) {
      const identity = NodeIdentity.fromSecretKey(random.bytes(32));
      const home = c.nodes[k % n]!;
      const storage = new MemoryChainStorage();
      const log = await ChainLog.open({
        identity,
        name: `sim-${k}`,
        storage,
        create: true,
        verifier: strictVerifier,
        clock: home.node.env.clock,
      });
      for (let i = 0; i < this.#o.entries; i += 100)
        await log.appendBatch(
          Array.from({ length: Math.min(100, this.#o.entries - i) }, (_, j) =>
            random.bytes(64 + ((i + j) % 192)),
          ),
        );
      home.node.chains.host(log);
      this.#logs.push(log);
      for (const other of c.nodes)
        if (other !== home) await other.node.chains.follow(log.chainId, identity.publicKey);
      if (k === 0 && this.#o.fork && n > 1) {
        const copy = new MemoryChainStorage();
        const stored = (await storage.load(log.chainId))!;
        await copy.append(log.chainId, stored.entries, stored.head);
        const away = c.nodes[Math.floor(n / 2)]!;
        const second = await ChainLog.open({
          identity,
          name: 'sim-0',
          storage: copy,
          verifier: strictVerifier,
          clock: away.node.env.clock,
        });
        await log.appendBatch(['one history']);
        await second.appendBatch(['another', 'history']);
        away.node.chains.host(second);
      }
    }
  }

  /** Called after each simulation step. */
  observe(): void {
    if (this.#syncedAt !== undefined) return;
    const c = this.#c;
    const done = c
      .live()
      .every((i) =>
        this.#logs.every((log) => (c.nodes[i]!.node.chains.get(log.chainId)?.length ?? 0) >= this.#o.entries),
      );
    if (done) {
      this.#syncedAt = c.now;
      this.#syncedBytes = c.net.totalTraffic().bytesOut;
    }
  }

  async report(durationMs: number): Promise<ChainReport> {
    const c = this.#c;
    const live = c.live();
    const end = this.#syncedAt ?? durationMs;
    const bytes =
      (this.#syncedAt === undefined ? c.net.totalTraffic().bytesOut : this.#syncedBytes) - this.#startBytes;
    const seconds = Math.max(0.001, (end - this.#startedAt) / 1000);
    let invalid = 0;
    for (const i of live)
      for (const log of this.#logs) {
        const copy = c.nodes[i]!.node.chains.get(log.chainId);
        if (copy && !(await copy.verifyIntegrity())) invalid++;
      }
    const forked = this.#o.fork ? this.#logs[0] : undefined;
    return {
      chains: this.#o.chains,
      entries: this.#o.entries,
      syncedAtMs: this.#syncedAt === undefined ? null : Math.round(this.#syncedAt),
      bytesPerNodePerSec: Math.round(bytes / Math.max(1, live.length) / seconds),
      forksDetectedBy:
        forked === undefined
          ? 0
          : live.filter((i) => c.nodes[i]!.node.chains.forkProof(forked.chainId, forked.author)).length,
      invalidAccepted: invalid,
    };
  }
}
