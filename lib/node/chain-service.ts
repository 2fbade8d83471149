/**
 * Chains as a service a MeshNode is built with (`chains: chains()`): the node hosts chain
 * logs (`node.chains.host(log)`), advertises each one's head in the gossip state (a service
 * entry `chain.<id>` with the length and head hash), pulls from peers that advertise more
 * (or another head at its length) over messaging, serves any peer's pull, and spreads fork
 * proofs to every node: broadcast when found, and fetched from a peer that advertises one
 * (so nodes cut off at the time get it after a heal). Built only on the node's public API
 * (messaging and the service registry), so it needs `messaging()` and `replicatedState()`.
 */
import { ChainLog } from '../chain/chain-log.ts';
import {
  decodeForkProof,
  decodeSyncRequest,
  decodeSyncResponse,
  encodeForkProof,
  encodeSyncRequest,
  encodeSyncResponse,
} from '../chain/codec.ts';
import { ChainError } from '../chain/errors.ts';
import { type ForkProof, verifyForkProof } from '../chain/fork.ts';
import { pullChain } from '../chain/pull.ts';
import { type ChainStorage, MemoryChainStorage } from '../chain/storage.ts';
import type { ChainSyncRequest } from '../chain/sync.ts';
import { fastVerifier, type SignatureVerifier } from '../identity/verifier.ts';
import type { ServiceAdvertisement } from '../state/service-registry.ts';
import { type ServiceFields, ServiceHealth } from '../state/values.ts';
import type { Env } from '../time/types.ts';
import { concatBytes, equalBytes, fromHex, toHex } from '../util/bytes.ts';
import { Emitter } from '../util/emitter.ts';
import { RateLimiter } from '../util/rate-limit.ts';
import type { AppMessage, Responder } from './messaging.ts';
import { atLeast, positive } from './option-checks.ts';

export const CHAIN_SYNC_TOPIC = 'weftmesh.chain.sync';
export const CHAIN_FORK_TOPIC = 'weftmesh.chain.fork';
export const CHAIN_FORK_GET_TOPIC = 'weftmesh.chain.fork-get';
/** Entries per sync answer are cut to about this many bytes (messages carry at most 48 KiB; a proof and a head add < 3 KiB). */
const ANSWER_BYTES = 40 * 1024;

export interface ChainsOptions {
  /** Checks tree heads and fork proofs. Default: WebCrypto where present, else pure JavaScript. */
  verifier?: SignatureVerifier;
  /** How often hosted chains look for peers ahead of them. Default 1,000 ms. */
  pullIntervalMs?: number;
  /** Where `follow` keeps the replicas it makes (one store for all of them). Default: a MemoryChainStorage. */
  storage?: ChainStorage;
  /** Fork proofs kept for chains this node does not host (oldest dropped first). Default 1,024. */
  maxProofs?: number;
  /**
   * Sync requests in flight at once per pull (each for the entries after the previous one's
   * end): a catch-up moves about this many answers (~40 KiB each) per round trip. Default 16.
   */
  pullWindow?: number;
  /**
   * Sync requests per second to one peer (burst ×4). A peer takes at most
   * `messaging.perOriginRate` messages a second from this node (default 200, burst ×4) and
   * drops the rest, which would cost a request timeout each: a long catch-up keeps under it.
   * Default 150.
   */
  pullRate?: number;
}

export type ChainEvents = {
  /** A chain was proven forked (by this node, or by a proof another node sent). */
  fork: { chainId: string; proof: ForkProof; from: string | undefined };
  /** Entries pulled into a hosted chain. */
  synced: { chainId: string; appended: number; from: string };
  /** A pull failed (a peer's bad answer, a dropped request). */
  'sync-error': { chainId: string; from: string; error: unknown };
};

/** The part of a MeshNode the chain host uses (its public API). */
export interface ChainNode {
  readonly env: Env;
  request(to: string, topic: string, data: Uint8Array, timeoutMs?: number): Promise<Uint8Array>;
  respond(topic: string, responder: Responder): () => void;
  broadcast(topic: string, data: Uint8Array): void;
  subscribe(topic: string, handler: (msg: AppMessage) => void): () => void;
  advertiseService(serviceName: string, fields: ServiceFields): unknown;
  readonly services: { resolveAll(serviceName: string): ServiceAdvertisement[]; names(): string[] };
}

export interface ChainService {
  readonly options: Readonly<ChainsOptions>;
  /** The node's chain host, built at its construction. @internal */
  create(node: ChainNode): ChainHost;
}

/** The chains service with these settings; throws ConfigError for one out of range. */
export function chains(options: ChainsOptions = {}): ChainService {
  positive(options.pullIntervalMs, 'chains.pullIntervalMs');
  atLeast(options.maxProofs, 1, 'chains.maxProofs');
  atLeast(options.pullWindow, 1, 'chains.pullWindow');
  positive(options.pullRate, 'chains.pullRate');
  const frozen = Object.freeze({ ...options });
  return { options: frozen, create: (node) => new ChainHost(node, frozen) };
}

const serviceName = (chainId: string) => `chain.${chainId}`;
const FORK_PREFIX = 'chain-fork.';
const proofKey = (chainId: string, author: Uint8Array) => `${chainId}/${toHex(author)}`;

/** The chains a node hosts, and what it knows of forks. */
export class ChainHost {
  readonly #node: ChainNode;
  readonly #verifier: SignatureVerifier;
  readonly #intervalMs: number;
  readonly #maxProofs: number;
  readonly #window: number;
  readonly #pace: RateLimiter;
  readonly #pauseMs: number;
  readonly #storage: ChainStorage;
  readonly #logs = new Map<string, ChainLog>();
  /**
   * Fork proofs by chain id and author key (`<id>/<key hex>`), in arrival order. Keyed by the
   * author too: an impostor's valid-looking proof under its own key for someone's chain id
   * must not stand in for (or block) a real one.
   */
  readonly #proofs = new Map<string, ForkProof>();
  readonly #pulling = new Set<string>();
  readonly #advertised = new Map<string, string>();
  readonly #fetching = new Set<string>();
  readonly #events = new Emitter<ChainEvents>();
  #timer: number | undefined;
  #closed = false;

  /** @internal Built by MeshNode from `chains()`. */
  constructor(node: ChainNode, options: ChainsOptions) {
    this.#node = node;
    this.#verifier = options.verifier ?? fastVerifier;
    this.#intervalMs = options.pullIntervalMs ?? 1_000;
    this.#maxProofs = options.maxProofs ?? 1_024;
    this.#window = options.pullWindow ?? 16;
    const rate = options.pullRate ?? 150;
    this.#pace = new RateLimiter(rate, rate * 4, () => node.env.clock.now());
    this.#pauseMs = Math.max(1, 1000 / rate);
    this.#storage = options.storage ?? new MemoryChainStorage();
    node.respond(CHAIN_SYNC_TOPIC, (data) => this.#serve(data));
    node.respond(CHAIN_FORK_GET_TOPIC, (data) => {
      const proof =
        data.length === 64
          ? this.#proofs.get(`${toHex(data.subarray(0, 32))}/${toHex(data.subarray(32))}`)
          : this.#proofFor(toHex(data));
      if (!proof) throw new ChainError('unknown-chain', 'no fork proof for that chain');
      return encodeForkProof(proof);
    });
    node.subscribe(CHAIN_FORK_TOPIC, (msg) => void this.#receiveProof(msg.data, msg.from));
    this.#schedule();
  }

  on<K extends keyof ChainEvents>(type: K, fn: (payload: ChainEvents[K]) => void): () => void {
    return this.#events.on(type, fn);
  }

  /** Hosts a log (the node's own chain or a replica): advertised, served, kept in sync. */
  host(log: ChainLog): ChainLog {
    this.#logs.set(log.chainId, log);
    const proof = this.#proofs.get(proofKey(log.chainId, log.author));
    if (proof) log.markForked(proof);
    return log;
  }

  /** A replica of someone's chain (in the service's storage, continuing what it holds), hosted. */
  async follow(chainId: string, author: Uint8Array): Promise<ChainLog> {
    const known = this.#logs.get(chainId);
    if (known) return known;
    return this.host(
      await ChainLog.replica({ chainId, author, verifier: this.#verifier, storage: this.#storage }),
    );
  }

  get(chainId: string): ChainLog | undefined {
    return this.#logs.get(chainId);
  }

  /** Chain ids this node holds a valid fork proof for. */
  forked(): string[] {
    return [...new Set([...this.#proofs.values()].map((p) => p.chainId))].filter((id) => this.#proofFor(id));
  }

  /** The proof that a chain is forked: for a hosted chain, one under its author's key. */
  forkProof(chainId: string): ForkProof | undefined {
    return this.#proofFor(chainId);
  }

  #proofFor(chainId: string): ForkProof | undefined {
    const log = this.#logs.get(chainId);
    if (log) return this.#proofs.get(proofKey(chainId, log.author));
    for (const p of this.#proofs.values()) if (p.chainId === chainId) return p;
    return undefined;
  }

  /** Stops pulling (the node closes). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#node.env.scheduler.cancelTimer(this.#timer);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#node.env.scheduler.setTimer(this.#intervalMs, () => {
      this.#tick();
      this.#schedule();
    });
  }

  #tick(): void {
    for (const log of this.#logs.values()) {
      this.#advertise(log);
      this.#syncWithPeers(log);
    }
    this.#spreadProofs();
  }

  /** Advertises every proof held, and fetches those others advertise (how a node cut off during the broadcast gets them). */
  #spreadProofs(): void {
    try {
      for (const { chainId } of this.#proofs.values()) {
        if (this.#advertised.get(FORK_PREFIX + chainId)) continue;
        this.#node.advertiseService(FORK_PREFIX + chainId, {
          endpoint: '',
          health: ServiceHealth.Healthy,
          metadata: {},
        });
        this.#advertised.set(FORK_PREFIX + chainId, '1');
      }
      for (const name of this.#node.services.names()) {
        const chainId = name.slice(FORK_PREFIX.length);
        if (!name.startsWith(FORK_PREFIX) || this.#proofFor(chainId) || this.#fetching.has(chainId)) continue;
        const ads = this.#node.services.resolveAll(name);
        if (ads.length === 0) continue;
        this.#fetching.add(chainId);
        void this.#fetchProof(chainId, ads[this.#node.env.random.int(ads.length)]!.nodeId).finally(() =>
          this.#fetching.delete(chainId),
        );
      }
    } catch {
      // Not started yet (or closed): the next tick does it.
    }
  }

  /** The head in the gossip state, when it changed. */
  #advertise(log: ChainLog): void {
    const head = log.treeHead();
    const size = head?.size ?? 0;
    const hash = size > 0 ? toHex(log.get(size - 1)!.hash) : '';
    const key = `${size}/${hash}`;
    if (this.#advertised.get(log.chainId) === key) return;
    try {
      this.#node.advertiseService(serviceName(log.chainId), {
        endpoint: '',
        health: ServiceHealth.Healthy,
        metadata: { n: String(size), h: hash },
      });
      this.#advertised.set(log.chainId, key);
    } catch {
      // Not started yet (or closed): the next tick advertises.
    }
  }

  #syncWithPeers(log: ChainLog): void {
    let ads: ServiceAdvertisement[];
    try {
      ads = this.#node.services.resolveAll(serviceName(log.chainId));
    } catch {
      return; // not started
    }
    if (this.#pulling.has(log.chainId)) return;
    const mine = log.treeHead()?.size ?? 0;
    const myHash = mine > 0 ? toHex(log.get(mine - 1)!.hash) : '';
    const candidates: string[] = [];
    for (const ad of ads) {
      const n = Number(ad.metadata.n);
      if (!Number.isInteger(n)) continue;
      // Ahead of this log, or another head at its length (a fork to find).
      if (n > mine || (n === mine && n > 0 && ad.metadata.h !== myHash)) candidates.push(ad.nodeId);
      log.noteRemoteSize(n);
    }
    if (candidates.length === 0 || log.forkProof) return;
    const peer = candidates[this.#node.env.random.int(candidates.length)]!;
    this.#pulling.add(log.chainId);
    void this.#pull(log, peer).finally(() => this.#pulling.delete(log.chainId));
  }

  async #pull(log: ChainLog, peer: string): Promise<void> {
    const ask = async (req: ChainSyncRequest) => {
      await this.#paced(peer);
      return decodeSyncResponse(await this.#node.request(peer, CHAIN_SYNC_TOPIC, encodeSyncRequest(req)));
    };
    try {
      const r = await pullChain(log, ask, { verifier: this.#verifier, window: this.#window });
      if (r.appended > 0)
        this.#events.emit('synced', { chainId: log.chainId, appended: r.appended, from: peer });
      if (r.forked) this.#adopt(r.forked, undefined, true);
      this.#advertise(log);
    } catch (error) {
      if (this.#closed) return; // the node closed under the pull: nothing to report
      this.#events.emit('sync-error', { chainId: log.chainId, from: peer, error });
    }
  }

  /** Resolves once a request to `peer` keeps within pullRate (rejects once the host closed). */
  async #paced(peer: string): Promise<void> {
    while (!this.#pace.take(peer)) {
      if (this.#closed) throw new ChainError('closed', 'the chain host closed');
      await new Promise<void>((resolve) => this.#node.env.scheduler.setTimer(this.#pauseMs, resolve));
    }
  }

  #serve(data: Uint8Array): Uint8Array {
    const req = decodeSyncRequest(data);
    const log = this.#logs.get(req.chainId);
    if (!log) throw new ChainError('unknown-chain', `chain ${req.chainId.slice(0, 8)} not hosted here`);
    return encodeSyncResponse(log.serveSync(req, { maxBytes: ANSWER_BYTES }));
  }

  async #fetchProof(chainId: string, peer: string): Promise<void> {
    try {
      // For a hosted chain, ask for a proof under its author's key (not just any).
      const author = this.#logs.get(chainId)?.author;
      const ask = author ? concatBytes(fromHex(chainId), author) : fromHex(chainId);
      await this.#receiveProof(await this.#node.request(peer, CHAIN_FORK_GET_TOPIC, ask), peer);
    } catch {
      // The peer no longer has it or is gone: another advertiser will do.
    }
  }

  async #receiveProof(bytes: Uint8Array, from: string): Promise<void> {
    let proof: ForkProof;
    try {
      proof = decodeForkProof(bytes);
    } catch {
      return; // hostile or broken: dropped
    }
    if (this.#proofs.has(proofKey(proof.chainId, proof.author))) return;
    const log = this.#logs.get(proof.chainId);
    if (log && !equalBytes(log.author, proof.author)) return; // someone else's key: proves nothing here
    if (!(await verifyForkProof(proof, this.#verifier))) return;
    this.#adopt(proof, from, false);
  }

  #adopt(proof: ForkProof, from: string | undefined, found: boolean): void {
    const key = proofKey(proof.chainId, proof.author);
    if (this.#proofs.has(key)) return;
    if (this.#proofs.size >= this.#maxProofs) {
      const oldest = [...this.#proofs].find(([, p]) => !this.#logs.has(p.chainId))?.[0];
      if (oldest !== undefined) this.#proofs.delete(oldest);
    }
    this.#proofs.set(key, proof);
    const log = this.#logs.get(proof.chainId);
    if (log && equalBytes(log.author, proof.author)) log.markForked(proof);
    if (found) {
      try {
        this.#node.broadcast(CHAIN_FORK_TOPIC, encodeForkProof(proof));
      } catch {
        // not running: peers fetch it from the advertisement
      }
    }
    this.#events.emit('fork', { chainId: proof.chainId, proof, from });
  }
}
