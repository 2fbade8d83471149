/** What the broadcast tree counts (exposed in node metrics and the simulator's report). */

/** The kinds of broadcast that travel along the tree (wire codes: never reuse one). */
export const BroadcastKind = { Claim: 0, Entry: 1, App: 2 } as const;
export type BroadcastKind = (typeof BroadcastKind)[keyof typeof BroadcastKind];

export interface TreeMetrics {
  /** First deliveries, per kind (index: BroadcastKind). */
  delivered: [number, number, number];
  /** Copies of something already held, per kind. */
  duplicates: [number, number, number];
  prunesSent: number;
  announcementsSent: number;
  announcementsReceived: number;
  /** Announcements dropped from a full lazy queue. */
  announcementsDropped: number;
  graftsSent: number;
  graftsServed: number;
  /** Graft ids refused over a peer's quota. */
  graftsRefused: number;
  /** Announced ids not awaited (the missing set was full) or given up (no announcer left). */
  missingDropped: number;
  /** Tree frames from a peer with no link, of an unknown kind, or with a malformed id list. */
  ignored: number;
}

export function emptyTreeMetrics(): TreeMetrics {
  return {
    delivered: [0, 0, 0],
    duplicates: [0, 0, 0],
    prunesSent: 0,
    announcementsSent: 0,
    announcementsReceived: 0,
    announcementsDropped: 0,
    graftsSent: 0,
    graftsServed: 0,
    graftsRefused: 0,
    missingDropped: 0,
    ignored: 0,
  };
}
