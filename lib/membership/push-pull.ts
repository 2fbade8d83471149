/**
 * Push-pull anti-entropy by digest. Instead of shipping every claim both ways (memberlist's
 * full-state exchange), the initiator sends a digest — 21 bytes per member: id,
 * incarnation, state — and the other side answers with only the claims the initiator lacks
 * or has older, plus a `want` list of members the initiator knows better, which it then
 * sends. Two nodes that agree exchange ~21 bytes per member and no claims at all.
 *
 *   A → B  digest (paged)
 *   B → A  per digest page: want (ids), claims A has older; after the last page, the
 *          claims of members A did not list (reply, last)
 *   A → B  claims (answer to want)
 *
 * Every peer may be hostile, so answers are bounded by what was asked, and rate-limited:
 * - B answers at most one exchange per link per `pushPullIntervalMs / 2`; the first on a
 *   new link at once (a newcomer's join exchange legitimately needs everything). Digests
 *   beyond that are dropped (`exchangesRefused`). This node's own periodic and follow-up
 *   exchanges ask one neighbour at most once per `pushPullIntervalMs`, so honest peers never
 *   meet the limit.
 * - A repair exchange (with a linked member held Unreachable, Membership.#heardFrom) waits
 *   for no other exchange kind: a follow-up sent into a partition must not hold it back at
 *   the heal. It is skipped only while an exchange whose digest listed the member as
 *   Unreachable (which tells it so) was started within `pushPullIntervalMs / 2`: the member
 *   would refuse a second digest on the link that soon. So a member that stays Unreachable
 *   (it never refutes) gets one digest per half interval however often it talks, or one per
 *   new link: no more than this node answers of its digests, which cost more (above).
 * - One exchange describes each member once, however often the digest lists it.
 * - A answers a `want` only while its exchange with B is open, for members it listed, each
 *   once (`wantsRefused` otherwise).
 * - Each link has at most one exchange in progress each way, forgotten after
 *   EXCHANGE_TTL_MS without progress or when the link goes down: no pool shared by links
 *   that a few of them could fill. Digest pages are answered as they arrive, so an
 *   exchange holds one bit per known id, not the asker's bytes.
 *
 * Welcome (the join fast path): a newcomer's digest lists only itself, so its answer is the
 * whole membership. A member a peer new to it links to sends that at once, as a reply with
 * WELCOME_SEQ, instead of waiting a round trip for the digest the newcomer sends when its end
 * of the link comes up; a joining node takes a complete welcome as its join reply. The
 * digest is still answered (an older newcomer waits for that answer, and the member learns
 * the newcomer's claim from it), without the claims the welcome carried. A welcome costs the
 * member what answering a newcomer's first digest costs, once per link from a peer it does
 * not know; at most MAX_WELCOMES wait for their newcomer's digest at once (beyond that,
 * newcomers take the usual path). The member cannot tell a newcomer from a member that
 * joined elsewhere and is not known here yet (common while many join: about one such
 * welcome per join in a 300-node join over 5 s), and a welcome to the latter is a whole
 * membership for nothing. So only a member of at most WELCOME_MAX_MEMBERS welcomes: there a
 * round trip is a large part of a join and a welcome is small; beyond, the digest path.
 */
import type { TimerId } from '../time/types.ts';
import { concatBytes } from '../util/bytes.ts';
import { DIGEST_PAGE_BYTES, type MessageOf } from '../wire/messages.ts';
import type { Claim } from './claims.ts';
import type { MembershipContext } from './context.ts';
import { StateCode, supersedes } from './node-state.ts';
import { PeerBudget } from './peer-budget.ts';

const RECORD = 21;
const RECORDS_PER_PAGE = Math.floor(DIGEST_PAGE_BYTES / RECORD);
const IDS_PER_PAGE = Math.floor(DIGEST_PAGE_BYTES / 16);
/** Claims per `claims` page: a page stays well under the default 64 KiB frame cap. */
const PAGE_BYTES = 56 * 1024;
const PAGE_CLAIMS = 4096;
/** An exchange that makes no progress for this long is forgotten. */
const EXCHANGE_TTL_MS = 30_000;
/**
 * `seq` of a welcome's reply: no asker's own counter gets there (it counts the exchanges one
 * node starts, about one per 15 s: thousands of years).
 */
export const WELCOME_SEQ = 0xffff_ffff;
/** Welcomes whose newcomer's digest has not arrived yet (each holds the claims it carried). */
const MAX_WELCOMES = 8;
/** Members (itself included) beyond which a node no longer welcomes (see the module comment). */
export const WELCOME_MAX_MEMBERS = 64;

/** Interned member indices, one bit each. */
class IndexSet {
  #bits: Uint8Array;

  constructor(size: number) {
    this.#bits = new Uint8Array((size >> 3) + 1);
  }

  has(i: number): boolean {
    return i >> 3 < this.#bits.length && (this.#bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }

  add(i: number): void {
    if (i >> 3 >= this.#bits.length) {
      const grown = new Uint8Array(Math.max((i >> 3) + 1, this.#bits.length * 2));
      grown.set(this.#bits);
      this.#bits = grown;
    }
    this.#bits[i >> 3]! |= 1 << (i & 7);
  }

  delete(i: number): boolean {
    if (!this.has(i)) return false;
    this.#bits[i >> 3]! &= ~(1 << (i & 7));
    return true;
  }
}

interface Exchange {
  timer: TimerId | undefined;
}

/** An exchange we answer: their digest is arriving, or our reply is out and wants are pending. */
interface Answering extends Exchange {
  seq: number;
  /** Members already described in this exchange. */
  seen: IndexSet;
  /** Our want pages not yet answered. */
  wantsOut: number;
  digestDone: boolean;
}

/** An exchange we started: our digest is out, its reply has not completed. */
interface Asking extends Exchange {
  seq: number;
  /** Members our digest listed that a want may still ask for. */
  listed: IndexSet;
}

/** A welcome sent: what it carried, left out of the answer to the newcomer's digest. */
interface Welcomed extends Exchange {
  claims: Set<Claim>;
}

export interface PushPullHooks {
  /** The claims that describe member `i` (alive claim, then its accusation if any). */
  claimsOf(i: number): Claim[];
  /** The initiator received the complete reply to its digest. */
  replied(from: string): void;
  /** A complete welcome arrived from `from` (see the module comment). */
  welcomed(from: string): void;
  /** This node finished answering `from`'s exchange (its reply sent, its want answered). */
  answered(from: string): void;
}

export class PushPull {
  readonly #ctx: MembershipContext;
  readonly #hooks: PushPullHooks;
  readonly #answering = new Map<string, Answering>();
  readonly #asking = new Map<string, Asking>();
  readonly #welcomes = new Map<string, Welcomed>();
  /** Exchanges answered per link (see the module comment); a link is the object the node passes. */
  readonly #answers: PeerBudget<object | string>;
  /** Periodic and follow-up exchanges this node started, per peer. */
  readonly #starts: PeerBudget;
  /** Exchanges this node started whose digest listed their peer as Unreachable, per peer (see repair). */
  readonly #told: PeerBudget;
  #seq = 0;

  constructor(ctx: MembershipContext, hooks: PushPullHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
    const now = () => ctx.env.clock.now();
    this.#answers = new PeerBudget(1, ctx.config.pushPullIntervalMs / 2, now);
    this.#starts = new PeerBudget(1, ctx.config.pushPullIntervalMs, now);
    this.#told = new PeerBudget(1, ctx.config.pushPullIntervalMs / 2, now);
  }

  /** Whether an exchange this node started is in progress (its reply has not completed). */
  get asking(): boolean {
    return this.#asking.size > 0;
  }

  /** Whether a periodic or follow-up exchange may ask `peer` now (it did not within the interval). */
  canStart(peer: string): boolean {
    return this.#starts.available(peer);
  }

  /**
   * A repair exchange with `peer` (a linked member held Unreachable): started unless an
   * exchange that told `peer` so was started within half an interval (see the module
   * comment); false then. It counts against the start budget while that has room, so the
   * periodic exchange does not ask `peer` again right after.
   */
  repair(peer: string): boolean {
    if (!this.#told.available(peer)) return false;
    this.start(peer, this.#starts.available(peer));
    return true;
  }

  /**
   * Step 1: send our digest to `to`. `charge`: count it against the exchanges this node
   * starts with `to` per interval (canStart); a catch-up after being cut off is not, so it
   * never holds back the repair exchange with a member we hold Unreachable (Membership.#heardFrom).
   */
  start(to: string, charge = true): void {
    const { table } = this.#ctx;
    const seq = this.#seq++;
    const members = [...table.known()];
    if (charge) this.#starts.take(to);
    const peer = table.ids.lookup(to);
    if (peer !== undefined && table.state(peer) === StateCode.Unreachable) this.#told.take(to);
    const old = this.#asking.get(to);
    if (old) this.#close(this.#asking, to, old);
    const asking: Asking = { seq, listed: new IndexSet(table.ids.size), timer: undefined };
    this.#asking.set(to, asking);
    this.#arm(this.#asking, to, asking);
    this.#ctx.metrics.pushPulls++;
    for (let p = 0; p === 0 || p * RECORDS_PER_PAGE < members.length; p++) {
      const slice = members.slice(p * RECORDS_PER_PAGE, (p + 1) * RECORDS_PER_PAGE);
      const d = new Uint8Array(slice.length * RECORD);
      const view = new DataView(d.buffer);
      slice.forEach((i, k) => {
        const off = k * RECORD;
        asking.listed.add(i);
        d.set(table.ids.bytesOf(i), off);
        view.setUint32(off + 16, table.incarnation(i));
        // Others know a joining node as Active: that is what its alive claim says.
        d[off + 20] = table.state(i) === StateCode.Joining ? StateCode.Active : table.state(i);
      });
      const last = (p + 1) * RECORDS_PER_PAGE >= members.length;
      this.#ctx.send(to, 'stream', { type: 'digest', seq, last, d });
    }
  }

  /**
   * Sends `to` (a peer new to this node, on a link that just came up) the whole membership
   * (see the module comment). False when MAX_WELCOMES are waiting, `to` has one waiting, or
   * this node holds more than WELCOME_MAX_MEMBERS members.
   */
  welcome(to: string): boolean {
    if (this.#welcomes.size >= MAX_WELCOMES || this.#welcomes.has(to)) return false;
    if (this.#ctx.table.size > WELCOME_MAX_MEMBERS) return false;
    const claims: Claim[] = [];
    for (const i of this.#ctx.table.known()) claims.push(...this.#hooks.claimsOf(i));
    const welcomed: Welcomed = { claims: new Set(claims), timer: undefined };
    this.#welcomes.set(to, welcomed);
    this.#arm(this.#welcomes, to, welcomed);
    this.#ctx.metrics.welcomes++;
    this.#sendClaims(to, WELCOME_SEQ, true, claims, true);
    return true;
  }

  /** A digest page from `from`, over `link` (a new link, even to the same peer, is answered at once). */
  onDigest(from: string, msg: MessageOf<'digest'>, link: object | string = from): void {
    if (msg.d.length % RECORD !== 0) return;
    let ex = this.#answering.get(from);
    if (!ex || ex.seq !== msg.seq || ex.digestDone) {
      if (!this.#answers.take(link)) {
        this.#ctx.metrics.exchangesRefused++;
        return;
      }
      if (ex) this.#close(this.#answering, from, ex);
      const seen = new IndexSet(this.#ctx.table.ids.size);
      ex = { seq: msg.seq, seen, wantsOut: 0, digestDone: false, timer: undefined };
      this.#answering.set(from, ex);
    }
    this.#arm(this.#answering, from, ex);
    this.#answerPage(from, ex, msg.d);
    if (!msg.last) return;
    // Members they did not list at all: the full-state part, once per exchange.
    const { table } = this.#ctx;
    const rest: Claim[] = [];
    for (const i of table.known()) if (!ex.seen.has(i)) rest.push(...this.#hooks.claimsOf(i));
    this.#sendClaims(from, ex.seq, true, this.#notWelcomed(from, rest), true);
    const welcomed = this.#welcomes.get(from);
    if (welcomed) this.#close(this.#welcomes, from, welcomed);
    this.#ctx.metrics.pushPulls++;
    ex.digestDone = true;
    if (ex.wantsOut === 0) this.#finishAnswering(from, ex);
  }

  /** Step 2, one digest page: claims of listed members they have older, want for those we lack. */
  #answerPage(from: string, ex: Answering, page: Uint8Array): void {
    const { table } = this.#ctx;
    const send: Claim[] = [];
    const want: Uint8Array[] = [];
    const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
    for (let off = 0; off < page.length; off += RECORD) {
      const id = page.subarray(off, off + 16);
      const incarnation = view.getUint32(off + 16);
      const state = page[off + 20]!;
      if (state < StateCode.Active || state > StateCode.Left) continue;
      const i = table.ids.lookupBytes(id);
      const mine = i === undefined ? StateCode.Unknown : table.state(i);
      if (i === undefined || mine === StateCode.Unknown) {
        want.push(id);
        continue;
      }
      if (ex.seen.has(i)) continue;
      ex.seen.add(i);
      const myState = mine === StateCode.Joining ? StateCode.Active : mine;
      if (supersedes(myState, table.incarnation(i), state as StateCode, incarnation))
        send.push(...this.#hooks.claimsOf(i));
      else if (supersedes(state as StateCode, incarnation, myState, table.incarnation(i))) want.push(id);
    }
    // Wants go before the reply's last page, so the initiator still holds its exchange open.
    for (let p = 0; p * IDS_PER_PAGE < want.length; p++) {
      ex.wantsOut++;
      this.#ctx.send(from, 'stream', {
        type: 'want',
        seq: ex.seq,
        ids: concatBytes(...want.slice(p * IDS_PER_PAGE, (p + 1) * IDS_PER_PAGE)),
      });
    }
    const news = this.#notWelcomed(from, send);
    if (news.length > 0) this.#sendClaims(from, ex.seq, true, news, false);
  }

  /** `claims` less those a welcome to `from` carried (unchanged since: the same objects). */
  #notWelcomed(from: string, claims: Claim[]): Claim[] {
    const welcomed = this.#welcomes.get(from);
    return welcomed ? claims.filter((c) => !welcomed.claims.has(c)) : claims;
  }

  #finishAnswering(from: string, ex: Answering): void {
    this.#close(this.#answering, from, ex);
    this.#hooks.answered(from);
  }

  /**
   * The link to `peer` is gone: drop its exchanges and what this node started with it (its
   * answer budget, kept per link object, expires by itself).
   */
  forget(peer: string): void {
    for (const map of [this.#answering, this.#asking, this.#welcomes] as Array<Map<string, Exchange>>) {
      const ex = map.get(peer);
      if (ex) this.#close(map, peer, ex);
    }
    this.#starts.forget(peer);
    this.#told.forget(peer);
  }

  /** The node stopped (a freeze): what it is sent meanwhile is dropped, so no exchange in flight can finish. */
  abandon(): void {
    for (const map of [this.#answering, this.#asking, this.#welcomes] as Array<Map<string, Exchange>>)
      for (const [peer, ex] of map) this.#close(map, peer, ex);
  }

  /** Claims arrived (already verified and applied by the caller). */
  onClaims(from: string, msg: MessageOf<'claims'>): void {
    if (msg.reply && msg.seq === WELCOME_SEQ) {
      if (msg.last) this.#hooks.welcomed(from);
      return;
    }
    if (msg.reply) {
      const asking = this.#asking.get(from);
      if (asking?.seq !== msg.seq) return;
      if (!msg.last) {
        this.#arm(this.#asking, from, asking);
        return;
      }
      // Its wants came before this page on the stream: the exchange is over.
      this.#close(this.#asking, from, asking);
      this.#hooks.replied(from);
      return;
    }
    const ex = this.#answering.get(from);
    if (!msg.last || ex?.seq !== msg.seq || ex.wantsOut === 0) return;
    ex.wantsOut--;
    if (ex.digestDone && ex.wantsOut === 0) this.#finishAnswering(from, ex);
  }

  /** Step 3: they asked for members we know better (only within our open exchange with them). */
  onWant(from: string, msg: MessageOf<'want'>): void {
    if (msg.ids.length % 16 !== 0) return;
    const asking = this.#asking.get(from);
    if (asking?.seq !== msg.seq) {
      this.#ctx.metrics.wantsRefused++;
      return;
    }
    const { table } = this.#ctx;
    const send: Claim[] = [];
    for (let off = 0; off < msg.ids.length; off += 16) {
      const i = table.ids.lookupBytes(msg.ids.subarray(off, off + 16));
      if (i !== undefined && asking.listed.delete(i) && table.state(i) !== StateCode.Unknown)
        send.push(...this.#hooks.claimsOf(i));
    }
    this.#sendClaims(from, msg.seq, false, send, true);
  }

  /** (Re)starts the timer that forgets `peer`'s exchange in `map` after EXCHANGE_TTL_MS. */
  #arm<T extends Exchange>(map: Map<string, T>, peer: string, ex: T): void {
    const { scheduler } = this.#ctx.env;
    if (ex.timer !== undefined) scheduler.cancelTimer(ex.timer);
    ex.timer = scheduler.setTimer(EXCHANGE_TTL_MS, () => {
      if (map.get(peer) === ex) map.delete(peer);
    });
  }

  #close<T extends Exchange>(map: Map<string, T>, peer: string, ex: T): void {
    if (ex.timer !== undefined) this.#ctx.env.scheduler.cancelTimer(ex.timer);
    if (map.get(peer) === ex) map.delete(peer);
  }

  #sendClaims(to: string, seq: number, reply: boolean, claims: Claim[], last: boolean): void {
    let page: Claim[] = [];
    let bytes = 0;
    const flush = (end: boolean) => {
      this.#ctx.send(to, 'stream', {
        type: 'claims',
        seq,
        reply,
        last: end,
        claims: page.map((c) => c.wire),
      });
      page = [];
      bytes = 0;
    };
    for (const c of claims) {
      if (page.length > 0 && (bytes + c.size > PAGE_BYTES || page.length >= PAGE_CLAIMS)) flush(false);
      page.push(c);
      bytes += c.size;
    }
    if (last || page.length > 0) flush(last);
  }
}
