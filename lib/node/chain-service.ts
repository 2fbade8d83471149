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
  decodeSyncRequest,
  decodeSyncResponse,
  encodeSyncRequest,
  encodeSyncResponse,
} from '../chain/codec.ts';
import { ChainError } from '../chain/errors.ts';
import type { ForkProof } from '../chain/fork.ts';
import { type ChainAsk, pullChain } from '../chain/pull.ts';
import { type ChainStorage, MemoryChainStorage } from '../chain/storage.ts';
import { type ChainSyncRequest, type ChainSyncResponse, serveParts } from '../chain/sync.ts';
import { fastVerifier, type SignatureVerifier } from '../identity/verifier.ts';
import type { ServiceAdvertisement } from '../state/service-registry.ts';
import { ServiceHealth } from '../state/values.ts';
import { setBounded } from '../util/bounded-map.ts';
import { toHex } from '../util/bytes.ts';
import { Emitter } from '../util/emitter.ts';
import { RateLimiter } from '../util/rate-limit.ts';
import { MAX_APP_BYTES } from '../wire/messages.ts';
import type { ChainEvents, ChainNode } from './chain-node.ts';
import { ForkProofs } from './chain-proofs.ts';
import { atLeast, check, positive } from './option-checks.ts';

export type { ChainEvents, ChainNode } from './chain-node.ts';
export { CHAIN_FORK_GET_TOPIC, CHAIN_FORK_TOPIC } from './chain-proofs.ts';

export const CHAIN_SYNC_TOPIC = 'weftmesh.chain.sync';
/** Entries per sync answer are cut to about this many bytes (messages carry at most 48 KiB; a proof and a head add < 3 KiB). */
const ANSWER_BYTES = 40 * 1024;
/**
 * Largest entry payload the service can serve: an answer carries at least one entry, and all
 * of it must fit one message (48 KiB) with the answer's head, signed tree head and proof
 * (< 1.6 KiB for any chain of fewer than 2³² entries). A hosted log refuses larger appends.
 */
export const SERVED_PAYLOAD_BYTES = MAX_APP_BYTES - 2 * 1024;

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
   * Answers (~40 KiB each) in flight at once per pull, each for the entries after the previous
   * one's end: what a catch-up moves per round trip, and what waits in memory (~2.6 MiB at
   * most by default). Default 64.
   */
  pullWindow?: number;
  /**
   * Answers one sync request brings from a peer that streams them (MeshNode.requestStream;
   * every node of this version does, and says so in its chain advertisement): a pull then
   * keeps ⌈pullWindow / pullParts⌉ requests in flight. 1: one answer per request, as to a
   * peer that does not stream. Default 16 (at most 16: what a node serves per request).
   */
  pullParts?: number;
  /**
   * Sync requests per second to one peer (burst ×4). A peer takes at most
   * `messaging.perOriginRate` messages a second from this node (default 200, burst ×4) and
   * drops the rest, which would cost a request timeout each: a long catch-up keeps under it.
   * Default 150.
   */
  pullRate?: number;
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
  atLeast(options.pullParts, 1, 'chains.pullParts');
  if (options.pullParts !== undefined)
    check(options.pullParts <= SERVE_PARTS, 'chains.pullParts', `must be at most ${SERVE_PARTS}`);
  positive(options.pullRate, 'chains.pullRate');
  const frozen = Object.freeze({ ...options });
  return { options: frozen, create: (node) => new ChainHost(node, frozen) };
}

const serviceName = (chainId: string) => `chain.${chainId}`;
/** Answers served per streamed sync request at most (advertised as `p`). */
export const SERVE_PARTS = 16;
/**
 * A pull gives its peer this long, then looks at what the peer delivered: a peer that answers
 * (slowly, or an entry at a time) cannot hold a chain's pulls for longer.
 */
const PULL_SLICE_MS = 10_000;
/** Below this many answer bytes a second over a slice, the peer is passed over while others advertise the chain. */
const SLOW_PEER_BYTES_PER_S = 32 * 1024;
/** How long a slow peer is passed over (for that chain). */
const SLOW_PEER_MS = 5 * 60_000;
/** (chain, peer) pairs remembered as slow. */
const SLOW_PEERS = 1_024;

/** The chains a node hosts, and what it knows of forks. */
export class ChainHost {
  readonly #node: ChainNode;
  readonly #verifier: SignatureVerifier;
  readonly #intervalMs: number;
  readonly #window: number;
  readonly #parts: number;
  readonly #pace: RateLimiter;
  readonly #pauseMs: number;
  readonly #storage: ChainStorage;
  readonly #logs = new Map<string, ChainLog>();
  readonly #proofs: ForkProofs;
  readonly #pulling = new Set<string>();
  readonly #advertised = new Map<string, string>();
  /** Until when a peer is passed over for a chain's pulls (`<chain id>/<node id>`), oldest first. */
  readonly #slow = new Map<string, number>();
  readonly #events = new Emitter<ChainEvents>();
  #timer: number | undefined;
  #closed = false;

  /** @internal Built by MeshNode from `chains()`. */
  constructor(node: ChainNode, options: ChainsOptions) {
    this.#node = node;
    this.#verifier = options.verifier ?? fastVerifier;
    this.#intervalMs = options.pullIntervalMs ?? 1_000;
    this.#window = options.pullWindow ?? 64;
    this.#parts = options.pullParts ?? SERVE_PARTS;
    const rate = options.pullRate ?? 150;
    this.#pace = new RateLimiter(rate, rate * 4, () => node.env.clock.now());
    this.#pauseMs = Math.max(1, 1000 / rate);
    this.#storage = options.storage ?? new MemoryChainStorage();
    node.respondStream(CHAIN_SYNC_TOPIC, (data, _from, maxParts) => this.#serve(data, maxParts));
    this.#proofs = new ForkProofs(node, this.#logs, {
      verifier: this.#verifier,
      maxProofs: options.maxProofs ?? 1_024,
      onFork: (e) => this.#events.emit('fork', e),
    });
    this.#schedule();
  }

  on<K extends keyof ChainEvents>(type: K, fn: (payload: ChainEvents[K]) => void): () => void {
    return this.#events.on(type, fn);
  }

  /** Hosts a log (the node's own chain or a replica): advertised, served, kept in sync. */
  host(log: ChainLog): ChainLog {
    log.limitPayload(
      SERVED_PAYLOAD_BYTES,
      `the chains service serves entries of at most ${SERVED_PAYLOAD_BYTES} payload bytes (one message each)`,
    );
    this.#logs.set(log.chainId, log);
    const proof = this.#proofs.hosted(log);
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

  /** Ids of the hosted chains proven forked (by a proof under the chain's author key). */
  forked(): string[] {
    return [...this.#logs.values()].filter((log) => this.#proofs.hosted(log)).map((log) => log.chainId);
  }

  /**
   * The proof that `chainId` forked under `author`'s key (default: the hosted chain's author;
   * for a chain not hosted here, `author` is needed: this node does not know whose it is).
   */
  forkProof(chainId: string, author?: Uint8Array): ForkProof | undefined {
    const key = author ?? this.#logs.get(chainId)?.author;
    return key && this.#proofs.get(chainId, key);
  }

  /**
   * Every valid proof held, for hosted chains and others. A chain id does not name its author
   * (it is a hash of the author's key and the chain's name), so a proof for a chain not hosted
   * here shows only that the key it names signed two inconsistent heads under that id:
   * check `proof.author` is the author you expect.
   */
  forkProofs(): ForkProof[] {
    return this.#proofs.all();
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
    this.#proofs.spread();
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
        metadata: { n: String(size), h: hash, p: String(SERVE_PARTS) },
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
    const now = this.#node.env.clock.now();
    const quick = candidates.filter((id) => now >= (this.#slow.get(`${log.chainId}/${id}`) ?? -Infinity));
    const from = quick.length > 0 ? quick : candidates;
    const peer = from[this.#node.env.random.int(from.length)]!;
    this.#pulling.add(log.chainId);
    // Streamed answers come over a link only (a relayed ask gets one answer per request).
    const streams = this.#node.links().includes(peer) && ads.find((ad) => ad.nodeId === peer)?.metadata.p;
    const parts = streams ? Math.min(this.#parts, advertisedParts(streams)) : 1;
    void this.#pull(log, peer, parts).finally(() => this.#pulling.delete(log.chainId));
  }

  /**
   * Pulls from `peer` in slices of PULL_SLICE_MS: after a slice that did not finish, a peer that
   * delivered at least SLOW_PEER_BYTES_PER_S goes on; a slower one is passed over for this
   * chain while others advertise it (a hostile replica answering an entry at a time, just
   * before each request would time out, would otherwise hold the chain's pulls for hours).
   */
  async #pull(log: ChainLog, peer: string, parts: number): Promise<void> {
    const clock = this.#node.env.clock;
    let bytes = 0;
    const decode = (answer: Uint8Array) => {
      bytes += answer.length;
      return decodeSyncResponse(answer);
    };
    const ask = (req: ChainSyncRequest, n: number): ReturnType<ChainAsk> => {
      if (n === 1)
        return this.#paced(peer)
          .then(() => this.#node.request(peer, CHAIN_SYNC_TOPIC, encodeSyncRequest(req)))
          .then(decode);
      // Sent now (not when read), so that the window's requests are all in flight at once.
      const asked = this.#paced(peer).then(() =>
        this.#node.requestStream(peer, CHAIN_SYNC_TOPIC, encodeSyncRequest(req), { maxParts: n }),
      );
      asked.catch(() => {}); // read (and rethrown) by the iteration, if it comes
      const answers: AsyncIterator<ChainSyncResponse> = {
        next: async () => {
          const r = await (await asked).next();
          return r.done ? r : { done: false, value: decode(r.value) };
        },
        // The pull stopped reading: the stream is told (its later parts are not kept).
        return: async () => {
          void asked.then((s) => s.return?.()).catch(() => {});
          return { done: true, value: undefined };
        },
      };
      return { [Symbol.asyncIterator]: () => answers };
    };
    try {
      for (;;) {
        const start = clock.now();
        bytes = 0;
        const r = await pullChain(log, ask, {
          verifier: this.#verifier,
          window: Math.ceil(this.#window / parts),
          parts,
          stop: () => clock.now() - start >= PULL_SLICE_MS,
        });
        if (r.appended > 0)
          this.#events.emit('synced', { chainId: log.chainId, appended: r.appended, from: peer });
        if (r.forked) this.#proofs.adopt(r.forked, undefined, true);
        this.#advertise(log);
        if (!r.stopped || this.#closed) return;
        const seconds = Math.max(1, clock.now() - start) / 1000;
        if (bytes / seconds < SLOW_PEER_BYTES_PER_S) {
          setBounded(this.#slow, `${log.chainId}/${peer}`, clock.now() + SLOW_PEER_MS, SLOW_PEERS);
          return;
        }
      }
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

  /** Answers a sync request in up to `maxParts` answers (at most SERVE_PARTS), each read as the link has room. */
  *#serve(data: Uint8Array, maxParts: number): Generator<Uint8Array> {
    const req = decodeSyncRequest(data);
    const log = this.#logs.get(req.chainId);
    if (!log) throw new ChainError('unknown-chain', `chain ${req.chainId.slice(0, 8)} not hosted here`);
    const serve = (r: ChainSyncRequest) => log.serveSync(r, { maxBytes: ANSWER_BYTES });
    for (const res of serveParts(serve, req, Math.min(maxParts, SERVE_PARTS))) yield encodeSyncResponse(res);
  }
}

/** The answers per request a chain advertisement says its node streams (1: it does not). */
function advertisedParts(p: string): number {
  const n = Number(p);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, SERVE_PARTS) : 1;
}
