/**
 * Push-pull anti-entropy by digest. Instead of shipping every claim both ways (memberlist's
 * full-state exchange), the initiator sends a digest — 21 bytes per member: id,
 * incarnation, state — and the other side answers with only the claims the initiator lacks
 * or has older, plus a `want` list of members the initiator knows better, which it then
 * sends. Two nodes that agree exchange ~21 bytes per member and no claims at all.
 *
 *   A → B  digest (paged)
 *   B → A  claims (reply, paged, last)   +  want (ids)
 *   A → B  claims (answer to want)
 */
import type { TimerId } from '../time/types.ts';
import { concatBytes } from '../util/bytes.ts';
import { DIGEST_PAGE_BYTES, type MessageOf } from '../wire/messages.ts';
import type { Claim } from './claims.ts';
import type { MembershipContext } from './context.ts';
import { StateCode, supersedes } from './node-state.ts';

const RECORD = 21;
const RECORDS_PER_PAGE = Math.floor(DIGEST_PAGE_BYTES / RECORD);
const IDS_PER_PAGE = Math.floor(DIGEST_PAGE_BYTES / 16);
/** Claims per `claims` page: a page stays well under the default 64 KiB frame cap. */
const PAGE_BYTES = 56 * 1024;
const PAGE_CLAIMS = 4096;
/** Digests being received at once, and how long an incomplete one is kept. */
const MAX_INCOMING = 16;
const INCOMING_TTL_MS = 30_000;

interface Incoming {
  seq: number;
  pages: Uint8Array[];
  bytes: number;
  timer: TimerId;
}

export interface PushPullHooks {
  /** The claims that describe member `i` (alive claim, then its accusation if any). */
  claimsOf(i: number): Claim[];
  /** The initiator received the complete reply to its digest. */
  replied(from: string): void;
  /** This node finished answering `from`'s exchange (its reply sent, its want answered). */
  answered(from: string): void;
}

export class PushPull {
  readonly #ctx: MembershipContext;
  readonly #hooks: PushPullHooks;
  readonly #incoming = new Map<string, Incoming>();
  /** Exchanges we answered and whose `want` is still outstanding. */
  readonly #awaitingWant = new Map<string, number>();
  #seq = 0;

  constructor(ctx: MembershipContext, hooks: PushPullHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
  }

  /** Step 1: send our digest to `to`. */
  start(to: string): void {
    const { table } = this.#ctx;
    const seq = this.#seq++;
    const members = [...table.known()];
    this.#ctx.metrics.pushPulls++;
    for (let p = 0; p === 0 || p * RECORDS_PER_PAGE < members.length; p++) {
      const slice = members.slice(p * RECORDS_PER_PAGE, (p + 1) * RECORDS_PER_PAGE);
      const d = new Uint8Array(slice.length * RECORD);
      const view = new DataView(d.buffer);
      slice.forEach((i, k) => {
        const off = k * RECORD;
        d.set(table.ids.bytesOf(i), off);
        view.setUint32(off + 16, table.incarnation(i));
        // Others know a joining node as Active: that is what its alive claim says.
        d[off + 20] = table.state(i) === StateCode.Joining ? StateCode.Active : table.state(i);
      });
      const last = (p + 1) * RECORDS_PER_PAGE >= members.length;
      this.#ctx.send(to, 'stream', { type: 'digest', seq, last, d });
    }
  }

  onDigest(from: string, msg: MessageOf<'digest'>): void {
    if (msg.d.length % RECORD !== 0) return;
    let inc = this.#incoming.get(from);
    if (inc && inc.seq !== msg.seq) {
      this.#ctx.env.scheduler.cancelTimer(inc.timer);
      this.#incoming.delete(from);
      inc = undefined;
    }
    if (!inc) {
      if (this.#incoming.size >= MAX_INCOMING) return;
      const timer = this.#ctx.env.scheduler.setTimer(INCOMING_TTL_MS, () => this.#incoming.delete(from));
      inc = { seq: msg.seq, pages: [], bytes: 0, timer };
      this.#incoming.set(from, inc);
    }
    inc.pages.push(msg.d);
    inc.bytes += msg.d.length;
    // A digest can list at most every member we would accept, plus some slack.
    if (inc.bytes > RECORD * (this.#ctx.table.size + 100_000)) {
      this.#ctx.env.scheduler.cancelTimer(inc.timer);
      this.#incoming.delete(from);
      return;
    }
    if (!msg.last) return;
    this.#ctx.env.scheduler.cancelTimer(inc.timer);
    this.#incoming.delete(from);
    this.#answer(from, msg.seq, inc.pages);
  }

  /** Step 2: compare their digest with our table; send what they lack, ask for what they know better. */
  #answer(from: string, seq: number, pages: Uint8Array[]): void {
    const { table } = this.#ctx;
    const seen = new Set<number>();
    const send: Claim[] = [];
    const want: Uint8Array[] = [];
    for (const page of pages) {
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
        seen.add(i);
        const myState = mine === StateCode.Joining ? StateCode.Active : mine;
        if (supersedes(myState, table.incarnation(i), state as StateCode, incarnation))
          send.push(...this.#hooks.claimsOf(i));
        else if (supersedes(state as StateCode, incarnation, myState, table.incarnation(i))) want.push(id);
      }
    }
    for (const i of table.known()) if (!seen.has(i)) send.push(...this.#hooks.claimsOf(i));
    this.#sendClaims(from, seq, true, send);
    for (let p = 0; p * IDS_PER_PAGE < want.length; p++) {
      this.#ctx.send(from, 'stream', {
        type: 'want',
        seq,
        ids: concatBytes(...want.slice(p * IDS_PER_PAGE, (p + 1) * IDS_PER_PAGE)),
      });
    }
    this.#ctx.metrics.pushPulls++;
    if (want.length === 0) this.#hooks.answered(from);
    else this.#awaitingWant.set(from, seq);
  }

  /** The link to `peer` is gone: drop what we held for its exchanges. */
  forget(peer: string): void {
    const inc = this.#incoming.get(peer);
    if (inc) this.#ctx.env.scheduler.cancelTimer(inc.timer);
    this.#incoming.delete(peer);
    this.#awaitingWant.delete(peer);
  }

  /** Claims arrived (already verified and applied by the caller). */
  onClaims(from: string, msg: MessageOf<'claims'>): void {
    if (!msg.last) return;
    if (msg.reply) this.#hooks.replied(from);
    else if (this.#awaitingWant.get(from) === msg.seq) {
      this.#awaitingWant.delete(from);
      this.#hooks.answered(from);
    }
  }

  /** Step 3: they asked for members we know better. */
  onWant(from: string, msg: MessageOf<'want'>): void {
    if (msg.ids.length % 16 !== 0) return;
    const { table } = this.#ctx;
    const send: Claim[] = [];
    for (let off = 0; off < msg.ids.length; off += 16) {
      const i = table.ids.lookupBytes(msg.ids.subarray(off, off + 16));
      if (i !== undefined && table.state(i) !== StateCode.Unknown) send.push(...this.#hooks.claimsOf(i));
    }
    this.#sendClaims(from, msg.seq, false, send);
  }

  #sendClaims(to: string, seq: number, reply: boolean, claims: Claim[]): void {
    let page: Claim[] = [];
    let bytes = 0;
    const flush = (last: boolean) => {
      this.#ctx.send(to, 'stream', { type: 'claims', seq, reply, last, claims: page.map((c) => c.wire) });
      page = [];
      bytes = 0;
    };
    for (const c of claims) {
      if (bytes + c.size > PAGE_BYTES || page.length >= PAGE_CLAIMS) flush(false);
      page.push(c);
      bytes += c.size;
    }
    flush(true);
  }
}
