/** What the membership parts (prober, disseminator) share with the core that owns them. */
import type { Env } from '../time/types.ts';
import type { DeliveryClass } from '../transport/types.ts';
import type { Message } from '../wire/messages.ts';
import type { LocalHealth } from './awareness.ts';
import type { Claim } from './claims.ts';
import type { HeartbeatConfig } from './config.ts';
import type { MemberTable } from './member-table.ts';
import type { MembershipMetrics } from './metrics.ts';

export interface MembershipContext {
  readonly env: Env;
  readonly config: HeartbeatConfig;
  readonly table: MemberTable;
  readonly selfId: string;
  readonly selfIndex: number;
  readonly health: LocalHealth;
  readonly metrics: MembershipMetrics;
  send(to: string, cls: DeliveryClass, msg: Message): void;
  /** Member ids this node has a direct link to. */
  linked(): ReadonlySet<string>;
  /** Claims for `peer` that fit in a datagram's spare budget (counts transmissions). */
  piggyback(budget: number, peer: string): Claim[];
}
