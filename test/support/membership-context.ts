/**
 * What a membership part (Prober, PushPull, Disseminator) is given by its core, made by hand:
 * virtual time, seeded randomness, a real member table, and a record of every message sent.
 * The specification tests in test/spec/ drive one part through it, with no Membership and
 * no network.
 */
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { LocalHealth } from '../../lib/membership/awareness.ts';
import { type Claim, signClaim } from '../../lib/membership/claims.ts';
import { type HeartbeatConfig, heartbeatConfig } from '../../lib/membership/config.ts';
import type { MembershipContext } from '../../lib/membership/context.ts';
import { IdInterner } from '../../lib/membership/interner.ts';
import { MemberTable } from '../../lib/membership/member-table.ts';
import { emptyMembershipMetrics, type MembershipMetrics } from '../../lib/membership/metrics.ts';
import { StateCode } from '../../lib/membership/node-state.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import type { Env } from '../../lib/time/types.ts';
import { VirtualClock, VirtualScheduler } from '../../lib/time/virtual.ts';
import type { DeliveryClass } from '../../lib/transport/types.ts';
import type { Message, MessageOf, MessageType } from '../../lib/wire/messages.ts';

/** A message sent through the context; `Sent<'ping'>` narrows it to one type. */
export interface Sent<T extends MessageType = MessageType> {
  to: string;
  cls: DeliveryClass;
  msg: MessageType extends T ? Message : MessageOf<T>;
  at: number;
}

/** A deterministic identity: `n` (1…65535) picks its secret key. */
export function identity(n: number): NodeIdentity {
  const key = new Uint8Array(32).fill(0x5a);
  key[0] = n & 0xff;
  key[1] = n >> 8;
  return NodeIdentity.fromSecretKey(key);
}

export class FakeMembershipContext implements MembershipContext {
  readonly scheduler = new VirtualScheduler();
  readonly env: Env;
  readonly config: HeartbeatConfig;
  readonly table = new MemberTable(new IdInterner());
  readonly self: NodeIdentity;
  readonly selfId: string;
  readonly selfIndex: number;
  readonly health: LocalHealth;
  readonly metrics: MembershipMetrics = emptyMembershipMetrics();
  /** Every message sent, in order. */
  readonly sent: Sent[] = [];
  /** The link set the core would report (`linked()`). */
  readonly links = new Set<string>();
  /** What `piggyback()` hands out (the core's dissemination queue, faked). */
  piggybacked: (budget: number, peer: string) => Claim[] = () => [];

  constructor(opts: { self?: NodeIdentity; heartbeat?: Partial<HeartbeatConfig>; seed?: number } = {}) {
    this.env = {
      clock: new VirtualClock(this.scheduler),
      scheduler: this.scheduler,
      random: new SeededRandom(opts.seed ?? 1),
    };
    this.config = heartbeatConfig(opts.heartbeat);
    this.health = new LocalHealth(this.config.maxLocalHealth);
    this.self = opts.self ?? identity(1);
    this.selfId = this.self.nodeId;
    this.selfIndex = this.table.admit(this.selfId);
    this.table.set(this.selfIndex, StateCode.Active, 1, 0, signClaim(this.self, 'alive', { incarnation: 1 }));
  }

  send(to: string, cls: DeliveryClass, msg: Message): void {
    this.sent.push({ to, cls, msg, at: this.scheduler.now } as Sent);
  }

  linked(): ReadonlySet<string> {
    return this.links;
  }

  piggyback(budget: number, peer: string): Claim[] {
    return this.piggybacked(budget, peer);
  }

  /**
   * Puts `who` in the table at `incarnation`, in `state`: its own alive (or goodbye) claim,
   * and for Suspect or Unreachable this node's accusation. Returns its node id.
   */
  setMember(who: NodeIdentity, state: StateCode = StateCode.Active, incarnation = 1): string {
    const i = this.table.admit(who.nodeId);
    const now = this.scheduler.now;
    this.table.set(i, StateCode.Active, incarnation, now, signClaim(who, 'alive', { incarnation }));
    if (state === StateCode.Suspect || state === StateCode.Unreachable) {
      const kind = state === StateCode.Suspect ? 'suspect' : 'unreachable';
      this.table.set(
        i,
        state,
        incarnation,
        now,
        signClaim(this.self, kind, { incarnation, subject: who.nodeId }),
      );
    } else if (state === StateCode.Left) {
      this.table.set(i, state, incarnation, now, signClaim(who, 'leave', { incarnation }));
    }
    return who.nodeId;
  }

  /** The claims that describe member `i`, as the core's `claimsOf` gives them. */
  claimsOf(i: number): Claim[] {
    const alive = this.table.aliveClaim(i);
    const acc = this.table.accusation(i);
    return [...(alive ? [alive] : []), ...(acc ? [acc] : [])];
  }

  /** Messages of `type` sent so far (optionally only to `to`). */
  ofType<T extends MessageType>(type: T, to?: string): Array<Sent<T>> {
    return this.sent.filter(
      (s) => s.msg.type === type && (to === undefined || s.to === to),
    ) as unknown as Array<Sent<T>>;
  }

  /** Removes and returns everything sent so far. */
  drain(): Sent[] {
    return this.sent.splice(0);
  }

  /** Runs virtual time until something is sent (at most `limitMs`); the first new message. */
  runUntilSent(limitMs = 60_000): Sent {
    const before = this.sent.length;
    const end = this.scheduler.now + limitMs;
    while (this.sent.length === before && this.scheduler.now < end) {
      if (!this.scheduler.step()) break;
    }
    const first = this.sent[before];
    if (!first) throw new Error(`nothing sent within ${limitMs} ms`);
    return first;
  }
}
