/**
 * The fork proofs a chain host keeps, advertises and fetches (chain-service.ts): by chain id
 * and author key, since a chain id does not name its author (it hashes the author's key with
 * the chain's name) and an impostor can sign two inconsistent heads for any id under its own
 * key. Proofs of hosted chains are advertised (`chain-fork.<id>`, naming the author); those
 * others advertise are fetched, a few at a time, one advertiser asked for one proof at most
 * once a minute.
 */
import type { ChainLog } from '../chain/chain-log.ts';
import { decodeForkProof, encodeForkProof } from '../chain/codec.ts';
import { isChainId } from '../chain/entry.ts';
import { ChainError } from '../chain/errors.ts';
import { type ForkProof, verifyForkProof } from '../chain/fork.ts';
import type { SignatureVerifier } from '../identity/verifier.ts';
import { ServiceHealth } from '../state/values.ts';
import { setBounded } from '../util/bounded-map.ts';
import { equalBytes, fromHex, toHex } from '../util/bytes.ts';
import type { ChainEvents, ChainNode } from './chain-node.ts';

export const CHAIN_FORK_TOPIC = 'weftmesh.chain.fork';
export const CHAIN_FORK_GET_TOPIC = 'weftmesh.chain.fork-get';
const FORK_PREFIX = 'chain-fork.';
const proofKey = (chainId: string, author: Uint8Array) => `${chainId}/${toHex(author)}`;
const AUTHOR_HEX = /^[0-9a-f]{64}$/;
/** Fork proofs fetched at once (one at most from each advertiser: one that never answers holds one slot). */
const PROOF_FETCHES = 4;
/** One advertiser is asked for one proof at most this often (a proof evicted here, or a peer that does not answer). */
const PROOF_RETRY_MS = 60_000;
/** (proof, advertiser) pairs remembered for PROOF_RETRY_MS. */
const PROOF_TRIES = 4_096;

export class ForkProofs {
  readonly #node: ChainNode;
  /** The host's logs, by chain id (read only here). */
  readonly #logs: ReadonlyMap<string, ChainLog>;
  readonly #verifier: SignatureVerifier;
  readonly #max: number;
  readonly #onFork: (e: ChainEvents['fork']) => void;
  /** Proofs by `<chain id>/<author key hex>`, in arrival order. */
  readonly #proofs = new Map<string, ForkProof>();
  /** Fork advertisements made. */
  readonly #advertised = new Set<string>();
  /** Proof keys being fetched, and from whom. */
  readonly #fetching = new Map<string, string>();
  /** Until when an advertiser is not asked again for a proof (`<key>@<node id>`), oldest first. */
  readonly #tried = new Map<string, number>();

  constructor(
    node: ChainNode,
    logs: ReadonlyMap<string, ChainLog>,
    opts: { verifier: SignatureVerifier; maxProofs: number; onFork: (e: ChainEvents['fork']) => void },
  ) {
    this.#node = node;
    this.#logs = logs;
    this.#verifier = opts.verifier;
    this.#max = opts.maxProofs;
    this.#onFork = opts.onFork;
    node.respond(CHAIN_FORK_GET_TOPIC, (data) => {
      // Asked by chain id and author key: a proof under another key proves nothing to the asker.
      const proof = data.length === 64 ? this.get(toHex(data.subarray(0, 32)), data.subarray(32)) : undefined;
      if (!proof) throw new ChainError('unknown-chain', 'no fork proof for that chain and author');
      return encodeForkProof(proof);
    });
    node.subscribe(CHAIN_FORK_TOPIC, (msg) => void this.receive(msg.data, msg.from));
  }

  /** The proof under `author`'s key for `chainId`. */
  get(chainId: string, author: Uint8Array): ForkProof | undefined {
    return this.#proofs.get(proofKey(chainId, author));
  }

  /** The proof of a hosted chain, under its author's key. */
  hosted(log: ChainLog): ForkProof | undefined {
    return this.get(log.chainId, log.author);
  }

  all(): ForkProof[] {
    return [...this.#proofs.values()];
  }

  /**
   * Advertises the proofs of hosted chains (naming the author), and fetches proofs others
   * advertise: how a node cut off during the broadcast gets them. Only hosted chains are
   * advertised, so what peers' proofs make this node write to the gossip state is bounded by
   * what it hosts; every node that hosts a forked chain holds its proof, so every proof stays
   * advertised while a host of the chain is up.
   */
  spread(): void {
    try {
      for (const log of this.#logs.values()) {
        const name = FORK_PREFIX + log.chainId;
        if (this.#advertised.has(name) || !this.hosted(log)) continue;
        this.#node.advertiseService(name, {
          endpoint: '',
          health: ServiceHealth.Healthy,
          metadata: { a: toHex(log.author) },
        });
        this.#advertised.add(name);
      }
      this.#fetchAdvertised();
    } catch {
      // Not started yet (or closed): the next tick does it.
    }
  }

  /**
   * Fetches advertised proofs this node lacks: at most PROOF_FETCHES at once and one from each
   * advertiser, each (proof, advertiser) pair at most once a minute, pairs never asked first
   * (an advertiser's silent names cannot keep the rest waiting).
   */
  #fetchAdvertised(): void {
    if (this.#fetching.size >= PROOF_FETCHES) return;
    const now = this.#node.env.clock.now();
    const fresh: Array<{ key: string; peer: string }> = [];
    const again: Array<{ key: string; peer: string }> = [];
    for (const name of this.#node.services.names()) {
      const chainId = name.slice(FORK_PREFIX.length);
      if (!name.startsWith(FORK_PREFIX) || !isChainId(chainId)) continue;
      const hosted = this.#logs.get(chainId);
      for (const ad of this.#node.services.resolveAll(name)) {
        const author = ad.metadata.a;
        if (author === undefined || !AUTHOR_HEX.test(author)) continue;
        // For a hosted chain only its author's proof means anything here.
        if (hosted && toHex(hosted.author) !== author) continue;
        const key = `${chainId}/${author}`; // proofKey's form, from the advertised hex
        if (this.#proofs.has(key) || this.#fetching.has(key)) continue;
        const until = this.#tried.get(`${key}@${ad.nodeId}`);
        if (until === undefined) fresh.push({ key, peer: ad.nodeId });
        else if (now >= until) again.push({ key, peer: ad.nodeId });
      }
    }
    const busy = new Set(this.#fetching.values());
    for (const { key, peer } of [...fresh, ...again]) {
      if (this.#fetching.size >= PROOF_FETCHES) return;
      if (busy.has(peer) || this.#fetching.has(key)) continue;
      busy.add(peer);
      setBounded(this.#tried, `${key}@${peer}`, now + PROOF_RETRY_MS, PROOF_TRIES);
      this.#fetching.set(key, peer);
      void this.#fetchProof(fromHex(key.replace('/', '')), peer).finally(() => this.#fetching.delete(key));
    }
  }

  /** Asks `peer` for the proof under `ask` (chain id and author key, 64 bytes). */
  async #fetchProof(ask: Uint8Array, peer: string): Promise<void> {
    try {
      await this.receive(await this.#node.request(peer, CHAIN_FORK_GET_TOPIC, ask), peer);
    } catch {
      // The peer no longer has it or is gone: another advertiser will do.
    }
  }

  /** A proof a peer sent (broadcast, or answered to a fetch): kept if it holds and means something here. */
  async receive(bytes: Uint8Array, from: string): Promise<void> {
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
    this.adopt(proof, from, false);
  }

  adopt(proof: ForkProof, from: string | undefined, found: boolean): void {
    const key = proofKey(proof.chainId, proof.author);
    if (this.#proofs.has(key)) return;
    if (this.#proofs.size >= this.#max) {
      // The oldest proof that is not a hosted chain's own (an impostor's for a hosted chain id goes too).
      const oldest = [...this.#proofs].find(([k, p]) => {
        const log = this.#logs.get(p.chainId);
        return !log || k !== proofKey(log.chainId, log.author);
      })?.[0];
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
    this.#onFork({ chainId: proof.chainId, proof, from });
  }
}
