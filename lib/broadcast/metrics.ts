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
  /** Queued announcements not sent: the peer announced the message first. */
  announcementsWithdrawn: number;
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
    announcementsWithdrawn: 0,
    graftsSent: 0,
    graftsServed: 0,
    graftsRefused: 0,
    missingDropped: 0,
    ignored: 0,
  };
}

/** First deliveries and redundant copies of one kind of broadcast. */
export interface KindCount {
  delivered: number;
  duplicates: number;
}

/** One kind of broadcast at a node: its deliveries and copies, and its tree's links here. */
export interface KindMetrics extends KindCount {
  /** Links that carry this kind in full (edges of its tree). */
  eagerLinks: number;
  /** Links that only announce it. */
  lazyLinks: number;
}

/** Each kind's tree at a node: its eager and lazy links (MeshNode.treeLinks()). */
export type TreeLinks = Record<'claims' | 'entries' | 'app', { eager: string[]; lazy: string[] }>;

/** What a node reports of its broadcasts (MeshNode.metrics().broadcast). */
export interface BroadcastMetrics extends Omit<TreeMetrics, 'delivered' | 'duplicates'> {
  /** Per kind: membership claims, state entries, application broadcasts (each has its own tree). */
  kinds: { claims: KindMetrics; entries: KindMetrics; app: KindMetrics };
  /** Copies received per first delivery, over all kinds (0 when nothing was delivered). */
  duplicatesPerDelivery: number;
}

/**
 * A node's broadcast figures: the tree's, with membership claims counted by the membership
 * core (`applied`: news taken, `ignored`: copies of known or older claims).
 */
export function broadcastMetrics(
  tree: TreeMetrics,
  links: TreeLinks,
  claims: { applied: number; ignored: number },
): BroadcastMetrics {
  const { delivered, duplicates, ...rest } = tree;
  const count = (k: keyof TreeLinks) => ({
    eagerLinks: links[k].eager.length,
    lazyLinks: links[k].lazy.length,
  });
  const kinds = {
    claims: { delivered: claims.applied, duplicates: claims.ignored, ...count('claims') },
    entries: {
      delivered: delivered[BroadcastKind.Entry],
      duplicates: duplicates[BroadcastKind.Entry],
      ...count('entries'),
    },
    app: {
      delivered: delivered[BroadcastKind.App],
      duplicates: duplicates[BroadcastKind.App],
      ...count('app'),
    },
  };
  return {
    ...rest,
    kinds,
    duplicatesPerDelivery: perDelivery(kinds),
  };
}

/** Copies per first delivery over all kinds. */
export function perDelivery(kinds: Record<string, KindCount>): number {
  let d = 0;
  let c = 0;
  for (const k of Object.values(kinds)) {
    d += k.delivered;
    c += k.duplicates;
  }
  return d === 0 ? 0 : Math.round((c / d) * 1000) / 1000;
}
