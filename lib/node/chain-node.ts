/** What the chain host needs of a MeshNode, and the events it emits (chain-service.ts, chain-proofs.ts). */
import type { ForkProof } from '../chain/fork.ts';
import type { ServiceAdvertisement } from '../state/service-registry.ts';
import type { ServiceFields } from '../state/values.ts';
import type { Env } from '../time/types.ts';
import type { RequestStreamOptions, StreamResponder } from './answer-stream.ts';
import type { AppMessage, Responder } from './messaging.ts';

export type ChainEvents = {
  /**
   * A valid fork proof was found here or received: for a hosted chain, under its author's key;
   * for another chain, under the key the proof names (check `proof.author`, see forkProofs()).
   */
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
  requestStream(
    to: string,
    topic: string,
    data: Uint8Array,
    opts?: RequestStreamOptions,
  ): AsyncIterableIterator<Uint8Array>;
  respondStream(topic: string, responder: StreamResponder): () => void;
  broadcast(topic: string, data: Uint8Array): void;
  links(): string[];
  subscribe(topic: string, handler: (msg: AppMessage) => void): () => void;
  advertiseService(serviceName: string, fields: ServiceFields): unknown;
  readonly services: { resolveAll(serviceName: string): ServiceAdvertisement[]; names(): string[] };
}
