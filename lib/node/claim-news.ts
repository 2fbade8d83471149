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
import type { Env, TimerId } from '../time/types.ts';
import { RateLimiter } from '../util/rate-limit.ts';
import type { WireClaim } from '../wire/claims.ts';
import type { MessageOf } from '../wire/messages.ts';

/** Claims per `news` frame (the wire allows this many). */
const PER_FRAME = 64;
/** News held to answer grafts: at most this many, for at most this long. */
const HELD = 4_096;
const HELD_MS = 60_000;
/**
 * A link that was sent news within this long gets the next at the end of it, gathered into
 * one frame: a lone claim leaves at once, a join burst's stream of them in a few frames (1,000
 * nodes joining at once sent 7.5 news frames per node per second over a 60 s run, ~3 claims
 * each).
 */
const GATHER_MS = 20;
/**
 * Bytes of held claims one link's grafts may have re-sent a second (burst ×4): grafts are
 * limited in ids, and a claim is up to ~1.1 KB, so asking for the same ones over and over
 * would otherwise stream ~0.5 MB/s for 4 KB/s of grafts. A join burst's repair asks far less.
 */
const GRAFT_BYTES_PER_SECOND = 64 * 1024;
/** Links remembered with their last news time before the idle ones are forgotten. */
const GATHER_PEERS = 256;

interface Gathering {
  /** When news last went to the link. */
  sentAt: number;
  waiting: WireClaim[];
  timer: TimerId | undefined;
}

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
  readonly #env: Env;
  readonly #gathering = new Map<string, Gathering>();
  readonly #graftBytes: RateLimiter;
  /** Held claims a graft asked for that its link's byte budget did not cover. */
  graftsThrottled = 0;
  /** The peer whose `news` frame is being applied (news from it came along the tree). */
  #arriving: string | undefined;

  constructor(tree: BroadcastTree, env: Env, send: (to: string, msg: MessageOf<'news'>) => void) {
    this.#tree = tree;
    this.#send = send;
    this.#env = env;
    this.#graftBytes = new RateLimiter(GRAFT_BYTES_PER_SECOND, GRAFT_BYTES_PER_SECOND * 4, () =>
      env.clock.now(),
    );
    this.#held = new HeldMessages({
      kind: BroadcastKind.Claim,
      max: HELD,
      maxAgeMs: HELD_MS,
      now: () => env.clock.now(),
      send: (peer, wire) => {
        if (this.#graftBytes.take(peer, wire.b.length + wire.s.length))
          send(peer, { type: 'news', g: [wire] });
        else this.graftsThrottled++;
      },
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
    for (const [peer, wires] of out) this.#push(peer, wires);
  }

  /** News for one link: now, or gathered until GATHER_MS after the last (see GATHER_MS). */
  #push(peer: string, wires: WireClaim[]): void {
    const now = this.#env.clock.now();
    let g = this.#gathering.get(peer);
    if (!g || (g.timer === undefined && now - g.sentAt >= GATHER_MS)) {
      if (!g && this.#gathering.size >= GATHER_PEERS) this.#forgetIdle(now);
      g = { sentAt: now, waiting: [], timer: undefined };
      this.#gathering.set(peer, g);
      this.#frames(peer, wires);
      return;
    }
    g.waiting.push(...wires);
    g.timer ??= this.#env.scheduler.setTimer(Math.max(0, g.sentAt + GATHER_MS - now), () => {
      const waiting = g.waiting;
      g.waiting = [];
      g.timer = undefined;
      g.sentAt = this.#env.clock.now();
      this.#frames(peer, waiting);
    });
  }

  #frames(peer: string, wires: WireClaim[]): void {
    for (let i = 0; i < wires.length; i += PER_FRAME)
      this.#send(peer, { type: 'news', g: wires.slice(i, i + PER_FRAME) });
  }

  /** Forgets the links that have nothing waiting and were last sent news GATHER_MS ago or more. */
  #forgetIdle(now: number): void {
    for (const [peer, g] of this.#gathering)
      if (g.timer === undefined && now - g.sentAt >= GATHER_MS) this.#gathering.delete(peer);
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
