/**
 * The frame boundary: every frame a link delivers is decoded here, every claim and relayed
 * probe ack verified and admitted, before a core sees it; bad input is dropped and counted,
 * never thrown. Outgoing messages are encoded and counted here too.
 */
import type { BroadcastTree } from '../broadcast/tree.ts';
import type { Admission } from '../identity/admission.ts';
import { Domain } from '../identity/signed.ts';
import {
  allVerified,
  type MaybePromise,
  type SignatureVerifier,
  whenVerified,
} from '../identity/verifier.ts';
import type { Claim } from '../membership/claims.ts';
import { probeAckPayload } from '../membership/prober.ts';
import type { Membership } from '../membership/swim.ts';
import type { DeliveryClass, Link } from '../transport/types.ts';
import { fromHex, toHex } from '../util/bytes.ts';
import type { RateLimiter } from '../util/rate-limit.ts';
import type { WireClaim } from '../wire/claims.ts';
import { decodeMessage, encodeMessage, type WireLimits } from '../wire/codec.ts';
import { WireError } from '../wire/errors.ts';
import type { Message, MessageOf } from '../wire/messages.ts';
import type { ClaimNews } from './claim-news.ts';
import type { LinkManager } from './link-manager.ts';
import type { Messenger } from './messaging.ts';
import type { ClaimVerifier } from './signed-verifier.ts';
import type { StateReplica } from './state-replica.ts';

export interface Traffic {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Frames dropped at decode, total and by WireError code. */
  framesRejected: number;
  framesRejectedBy: Record<string, number>;
  /** Claims dropped at the boundary (bad body, bad signature, not admitted, over quota). */
  claimsRejected: number;
}

export interface BoundaryOptions {
  selfId: string;
  links: LinkManager;
  verifier: SignatureVerifier;
  claims: ClaimVerifier;
  admission: Admission;
  /** Claims accepted per signer (see MeshNodeOptions.claimsPerSignerPerSecond). */
  claimQuota: RateLimiter;
  wireLimits: Partial<WireLimits> | undefined;
  /** A frozen node sends nothing and drops what it receives (MeshNode.freeze). */
  frozen(): boolean;
  /** A closed node also drops what finishes verifying after it closed. */
  closed(): boolean;
  failed(error: unknown, context: string): void;
}

/** The cores frames are handed to (a service the node was built without is absent). */
export interface BoundaryCores {
  readonly membership: Membership;
  readonly replica: StateReplica | undefined;
  readonly messenger: Messenger | undefined;
  readonly tree: BroadcastTree;
  readonly news: ClaimNews;
}

export class FrameBoundary {
  readonly traffic: Traffic = {
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    framesRejected: 0,
    framesRejectedBy: {},
    claimsRejected: 0,
  };
  readonly #o: BoundaryOptions;
  #cores: BoundaryCores | undefined;

  constructor(opts: BoundaryOptions) {
    this.#o = opts;
  }

  /** Frames reach the cores from now on (before: dropped, the node is not running yet). */
  bind(cores: BoundaryCores): void {
    this.#cores = cores;
  }

  /** Encodes and sends `msg` over the link to `to`; the bytes put on the link (0: not sent). */
  send(to: string, cls: DeliveryClass, msg: Message): number {
    const link = this.#o.links.get(to);
    if (!link || this.#o.frozen()) return 0;
    let frame: Uint8Array;
    try {
      frame = encodeMessage(msg, this.#o.wireLimits);
    } catch (error) {
      this.#o.failed(error, `encoding a ${msg.type} message`);
      return 0;
    }
    this.traffic.messagesOut++;
    this.traffic.bytesOut += frame.length;
    this.#o.links.sent(to);
    if (cls === 'datagram') link.sendDatagram(frame);
    else link.send(frame);
    return frame.length;
  }

  onFrame(from: string, cls: DeliveryClass, frame: Uint8Array, link: Link): void {
    const cores = this.#cores;
    if (!cores || this.#o.closed() || this.#o.frozen()) return;
    const core = cores.membership;
    this.traffic.messagesIn++;
    this.traffic.bytesIn += frame.length;
    let msg: Message;
    try {
      msg = decodeMessage(frame, this.#o.wireLimits);
    } catch (e) {
      this.#reject(e instanceof WireError ? e.code : 'malformed');
      return;
    }
    switch (msg.type) {
      case 'ack':
        // An ack relayed by a witness counts only with its target's signature (see prober.ts).
        this.#withProbeAck(from, msg, () => core.onMessage(from, cls, msg));
        if (msg.g) this.#withClaims(from, msg.g);
        return;
      case 'ping':
      case 'ping-req':
      case 'nack':
        // Probes are answered before their piggybacked claims are verified: never delay an ack.
        core.onMessage(from, cls, msg);
        if ('g' in msg && msg.g) this.#withClaims(from, msg.g);
        return;
      case 'gossip':
        this.#withClaims(from, msg.g);
        return;
      case 'news':
        this.#withClaims(from, msg.g, undefined, true);
        return;
      case 'claims':
        this.#withClaims(from, msg.claims, () => core.onMessage(from, cls, msg));
        return;
      case 'digest':
        core.onMessage(from, cls, msg, link);
        return;
      case 'want':
      case 'neighbours':
        core.onMessage(from, cls, msg);
        return;
      case 'ihave':
      case 'graft':
      case 'prune':
      case 'dontwant':
        cores.tree.onMessage(from, msg);
        return;
      case 'keepalive':
        return;
      case 'bye':
        this.#o.links.farewell(link);
        return;
      case 'unlink':
        this.#o.links.unlinked(link);
        return;
      // Frames of a service this node runs without: dropped, counted as `not-served`.
      case 'state-delta':
        if (cores.replica) cores.replica.onDelta(from, msg.entries);
        else this.#reject('not-served');
        return;
      case 'tree':
        if (cores.replica) cores.replica.onTree(from, msg);
        else this.#reject('not-served');
        return;
      case 'app':
        if (cores.messenger) cores.messenger.onApp(from, msg);
        else this.#reject('not-served');
        return;
      case 'broadcast':
        if (cores.messenger) cores.messenger.onBroadcast(from, msg);
        else this.#reject('not-served');
        return;
      default:
        this.#reject('unexpected-type');
    }
  }

  /**
   * Takes claims as news every member already has (MeshNode.adoptClaims): verified and
   * screened like received ones, applied without gossiping them on. How many were taken.
   */
  async adopt(wires: readonly WireClaim[]): Promise<number> {
    const claims = await Promise.all(this.#verifyClaims(wires));
    if (!this.#cores || this.#o.closed()) return 0;
    const good = this.#screen(claims);
    this.#cores.membership.applyClaims(good, undefined, false);
    return good.length;
  }

  #reject(code: string): void {
    this.traffic.framesRejected++;
    this.traffic.framesRejectedBy[code] = (this.traffic.framesRejectedBy[code] ?? 0) + 1;
  }

  /**
   * Runs `then` for an ack that is its sender's own, or that names another target and
   * carries that member's valid signature over (nonce, target, this node); drops the rest.
   */
  #withProbeAck(from: string, msg: MessageOf<'ack'>, then: () => void): void {
    if (!msg.t || toHex(msg.t) === from) {
      then();
      return;
    }
    const core = this.#cores!.membership;
    const target = toHex(msg.t);
    const key = core.member(target)?.publicKey;
    if (!key || !msg.n || !msg.sig) {
      this.#reject('unsigned-ack');
      return;
    }
    // Verify only what would settle a waiting probe: junk, repeats and late copies (an
    // honest witness answering after the probe ended) cost a lookup and are dropped quietly.
    if (core.ackFor(msg.seq, target, msg.n) !== 'wait') return;
    const payload = probeAckPayload(msg.n, msg.t, fromHex(this.#o.selfId));
    const done = (valid: boolean) => {
      if (this.#o.closed()) return;
      if (valid) then();
      else this.#reject('bad-ack-signature');
    };
    whenVerified(this.#o.verifier.verify(key, Domain.ProbeAck, payload, msg.sig), done, () => done(false));
  }

  /** Verifies claims, applies the good ones (`news`: they came along the tree), then runs `then`. */
  #withClaims(from: string, wires: WireClaim[], then?: () => void, news = false): void {
    const results = this.#verifyClaims(wires);
    const finish = (claims: Array<Claim | null>) => {
      if (this.#o.closed()) return;
      const cores = this.#cores!;
      const good = this.#screen(claims);
      const apply = () => cores.membership.applyClaims(good, from);
      if (news) cores.news.onFrame(from, good.length, apply);
      else apply();
      then?.();
    };
    const applied = whenVerified(allVerified(results), finish);
    if (applied instanceof Promise)
      applied.catch((error) => this.#o.failed(error, 'applying membership claims'));
  }

  #verifyClaims(wires: readonly WireClaim[]): Array<MaybePromise<Claim | null>> {
    const admit = (c: Claim) => this.#o.admission.check(c.signerKey, c.token) === undefined;
    return wires.map((w) => this.#o.claims.verify(w, admit));
  }

  /**
   * The verified claims within their signers' rate quota; the rest count as rejected. An alive
   * claim at or below the incarnation held for its member changes nothing and costs no quota:
   * anyone can replay a member's claims, and they must not use up what its refutation needs.
   */
  #screen(claims: Array<Claim | null>): Claim[] {
    const membership = this.#cores?.membership;
    const stale = (c: Claim) =>
      c.kind === 'alive' && c.incarnation <= (membership?.incarnationOf(c.subject) ?? -1);
    const good = claims.filter(
      (c): c is Claim => c !== null && (stale(c) || this.#o.claimQuota.take(c.signer)),
    );
    this.traffic.claimsRejected += claims.length - good.length;
    return good;
  }
}
