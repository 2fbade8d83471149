/**
 * Accusations signed by a member this node holds Unreachable: they carry no weight (only a
 * reachable member may accuse), yet they may be true. At a partition's heal, a member of the
 * other side answers an exchange with its side's declaration of a member that really died
 * (signed by itself) before its refutation of our declaration of it has arrived; dropped
 * here, that declaration never came again and this side kept the dead member Active (seed
 * sweep, seed 301 with refutations along the tree). So such an accusation is held for a
 * while and weighed again if its signer refutes: exactly as if the signer had sent it after
 * its refutation, which it may do any time. Bounded: a few per signer (the latest per
 * subject), a few signers (the oldest dropped), each for at most `ttlMs`.
 */

import { setBounded } from '../util/bounded-map.ts';
import type { Claim } from './claims.ts';

const PER_SIGNER = 8;
const SIGNERS = 64;

interface Held {
  claim: Claim;
  until: number;
}

export class HeldAccusations {
  readonly #now: () => number;
  readonly #ttlMs: number;
  /** Signer → subject → its latest accusation held. */
  readonly #bySigner = new Map<string, Map<string, Held>>();

  constructor(now: () => number, ttlMs: number) {
    this.#now = now;
    this.#ttlMs = ttlMs;
  }

  hold(c: Claim): void {
    let held = this.#bySigner.get(c.signer);
    if (!held) {
      if (this.#bySigner.size >= SIGNERS) this.#bySigner.delete(this.#bySigner.keys().next().value!);
      held = new Map();
      this.#bySigner.set(c.signer, held);
    }
    const old = held.get(c.subject);
    if (old && old.claim.incarnation > c.incarnation) return;
    setBounded(held, c.subject, { claim: c, until: this.#now() + this.#ttlMs }, PER_SIGNER);
  }

  /** The unexpired accusations `signer` made, forgotten here. */
  take(signer: string): Claim[] {
    const held = this.#bySigner.get(signer);
    if (!held) return [];
    this.#bySigner.delete(signer);
    const now = this.#now();
    return [...held.values()].filter((h) => h.until > now).map((h) => h.claim);
  }
}
