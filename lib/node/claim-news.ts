/**
 * Join news along the broadcast tree (issue 13): an alive claim that introduces a member is
 * pushed once to the node's eager links (one `news` frame per link and batch) and announced
 * to its lazy ones, instead of being gossiped λ·log n times to random neighbours. Each is
 * held a while to answer grafts. The membership core decides what is news (treeNews): every
 * claim that changed its view; all but introductions (refutations, accusations, goodbyes)
 * are gossiped as well, as SWIM does.
 */
import { HeldMessages } from '../broadcast/held.ts';
import { messageId } from '../broadcast/ids.ts';
import { BroadcastKind } from '../broadcast/metrics.ts';
import type { BroadcastTree } from '../broadcast/tree.ts';
import type { Claim } from '../membership/claims.ts';
import type { Env } from '../time/types.ts';
import type { WireClaim } from '../wire/claims.ts';
import type { MessageOf } from '../wire/messages.ts';

/** Claims per `news` frame (the wire allows this many). */
const PER_FRAME = 64;
/** News held to answer grafts: at most this many, for at most this long. */
const HELD = 4_096;
const HELD_MS = 60_000;

/** Tree ids of claims (a hash each), by claim: a claim is spread by every node it reaches. */
const claimIds = new WeakMap<WireClaim, Uint8Array>();

function claimId(wire: WireClaim): Uint8Array {
  let id = claimIds.get(wire);
  if (id === undefined) {
    id = messageId(wire.s);
    claimIds.set(wire, id);
  }
  return id;
}

export class ClaimNews {
  readonly #tree: BroadcastTree;
  readonly #held: HeldMessages<WireClaim>;
  readonly #send: (to: string, msg: MessageOf<'news'>) => void;
  /** The peer whose `news` frame is being applied (news from it came along the tree). */
  #arriving: string | undefined;

  constructor(tree: BroadcastTree, env: Env, send: (to: string, msg: MessageOf<'news'>) => void) {
    this.#tree = tree;
    this.#send = send;
    this.#held = new HeldMessages({
      max: HELD,
      maxAgeMs: HELD_MS,
      now: () => env.clock.now(),
      send: (peer, wire) => send(peer, { type: 'news', g: [wire] }),
    });
    tree.channel(BroadcastKind.Claim, this.#held);
  }

  /**
   * Claims that introduced members here (received from `from`, in a `news` frame or any
   * other way: a probe's piggyback, an exchange): on to the tree.
   */
  spread(claims: readonly Claim[], from: string | undefined): void {
    const out = new Map<string, WireClaim[]>();
    const edge = from !== undefined && from === this.#arriving;
    for (const c of claims) {
      const id = claimId(c.wire);
      this.#held.hold(id, c.wire);
      for (const peer of this.#tree.spread(BroadcastKind.Claim, id, from, c.size, edge)) {
        const list = out.get(peer) ?? [];
        list.push(c.wire);
        out.set(peer, list);
      }
    }
    for (const [peer, wires] of out)
      for (let i = 0; i < wires.length; i += PER_FRAME)
        this.#send(peer, { type: 'news', g: wires.slice(i, i + PER_FRAME) });
  }

  /** Claims that introduced members here late (they waited for the quota): announced, not pushed (BroadcastTree.announceLate). */
  announce(claims: readonly Claim[], from: string | undefined): void {
    for (const c of claims) {
      const id = claimId(c.wire);
      this.#held.hold(id, c.wire);
      this.#tree.announceLate(BroadcastKind.Claim, id, from);
    }
  }

  /**
   * Claims kept, not pushed: they answer grafts, and a link that comes up while they are
   * recent is told of them (see BroadcastTree.linkUp).
   */
  keep(claims: readonly Claim[]): void {
    for (const c of claims) this.#held.hold(claimId(c.wire), c.wire);
  }

  /**
   * Applies a `news` frame from `from`: `apply` merges its `taken` claims (verified, within
   * quota) and says how many were new here. The rest were copies: one redundant transfer
   * towards pruning the link.
   */
  onFrame(from: string, taken: number, apply: () => number): void {
    this.#arriving = from;
    let applied: number;
    try {
      applied = apply();
    } finally {
      this.#arriving = undefined;
    }
    if (applied < taken) this.#tree.duplicate(BroadcastKind.Claim, from, taken - applied);
  }
}
