/**
 * Every message weftmesh sends, by type. A frame on the wire is the CBOR array
 * [WIRE_VERSION, typeCode, body]; the body is validated by the type's schema.
 * Codes are stable: never reuse one.
 */

import { claimList } from './claims.ts';
import { entryList } from './entries.ts';
import {
  bootField,
  clusterField,
  nodeIdField,
  nonceField,
  publicKeyField,
  signatureField,
  tokenField,
} from './fields.ts';
import { array, bool, bytes, type Infer, type Schema, struct, text, u32, uint } from './schema.ts';

export const WIRE_VERSION = 1;

/** Largest packed digest or id list in one frame (3,000 digest records). */
export const DIGEST_PAGE_BYTES = 63_000;
/** Largest application payload in one message (fits the default 64 KiB frame). */
export const MAX_APP_BYTES = 48 * 1024;
/** Packed ids in one tree frame: 512 ids of 8 bytes. */
const TREE_ID_BYTES = 512 * 8;
/** Topics: 1..64 characters of [A-Za-z0-9._/-]. */
const topicField = text(1, 64, /^[A-Za-z0-9._/-]+$/);

export const registry = {
  /** Handshake 1/4, dialer → acceptor: who I am, a fresh nonce. */
  hello: {
    code: 1,
    body: struct(
      { cluster: clusterField, node: nodeIdField, key: publicKeyField, nonce: nonceField },
      { token: tokenField, boot: bootField },
    ),
  },
  /** Handshake 2/4, acceptor → dialer: who I am, my nonce, my signature over the transcript. */
  'hello-auth': {
    code: 2,
    body: struct(
      { node: nodeIdField, key: publicKeyField, nonce: nonceField, sig: signatureField },
      { token: tokenField, boot: bootField },
    ),
  },
  /** Handshake 3/4, dialer → acceptor: the dialer's signature over the transcript. */
  auth: { code: 3, body: struct({ sig: signatureField }) },
  /** Handshake 4/4, acceptor → dialer: accepted; the link is up on both sides. */
  ready: { code: 4, body: struct({}) },
  /** Either side, any time: the link is being closed, and why. */
  refuse: { code: 5, body: struct({ reason: text(0, 200) }) },

  // ---- membership (SWIM + Lifeguard); `g` carries piggybacked claims ----
  /**
   * Probe. `to` names the intended target so a misrouted probe is not acknowledged. A
   * witness probing for someone else adds the requester's nonce `n` and id `r`, which the
   * target signs in its ack.
   */
  ping: {
    code: 10,
    body: struct({ seq: u32, to: nodeIdField }, { g: claimList(64), n: nonceField, r: nodeIdField }),
  },
  /**
   * Answer to a ping. An ack that reaches the requester through a witness names the target
   * `t` and carries the target's signature `sig` (domain ProbeAck) over (`n`, `t`, requester
   * id); a direct ack over the authenticated link needs neither.
   */
  ack: {
    code: 11,
    body: struct({ seq: u32 }, { g: claimList(64), t: nodeIdField, n: nonceField, sig: signatureField }),
  },
  /** Ask a witness to probe `target` on our behalf; `n` is a fresh nonce the target's ack must sign. */
  'ping-req': {
    code: 12,
    body: struct({ seq: u32, target: nodeIdField }, { g: claimList(64), n: nonceField }),
  },
  /**
   * Lifeguard: the witness could not reach the target (tells the requester its own path is
   * fine). Unsigned: it only lowers the requester's local-health penalty, by one per witness.
   */
  nack: { code: 13, body: struct({ seq: u32 }) },
  gossip: { code: 14, body: struct({ g: claimList(64) }) },
  /**
   * Push-pull, step 1: a digest of every member the sender knows, paged. `d` packs fixed
   * 21-byte records: node id (16), incarnation (u32 big-endian), state code (1).
   */
  digest: { code: 15, body: struct({ seq: u32, last: bool, d: bytes(0, DIGEST_PAGE_BYTES) }) },
  /** Push-pull, step 2 (reply) or 3 (answer to `want`): the claims the other side lacks, paged. */
  claims: { code: 17, body: struct({ seq: u32, reply: bool, last: bool, claims: claimList(4096) }) },
  /** Push-pull, step 2: ids (16 bytes each, packed) whose claims the digest's sender has newer. */
  want: { code: 18, body: struct({ seq: u32, ids: bytes(0, DIGEST_PAGE_BYTES) }) },
  /** The sender's current direct links (for choosing indirect-probe witnesses). */
  neighbours: { code: 16, body: struct({ ids: array(nodeIdField, 256) }) },

  // ---- replicated state ----
  /** New or changed state entries (delta gossip, or repair during anti-entropy). */
  'state-delta': { code: 30, body: struct({ entries: entryList(512) }) },
  /**
   * Anti-entropy over the state's prefix tree: hashes of nodes at one level (`idx` packs
   * u32 node indices, `h` their 32-byte hashes). Level 0 (the root) also carries the
   * sender's entry count: informational only, no answer depends on it.
   */
  tree: {
    code: 31,
    body: struct({ seq: u32, level: uint(4), idx: bytes(0, 6144), h: bytes(0, 49_152), count: u32 }),
  },

  /** Sent on a link that has been quiet: proves the link still carries traffic. */
  keepalive: { code: 19, body: struct({}) },
  /**
   * Sent before closing a link on purpose by a node that stays in the cluster (duplicate
   * link, `disconnect()`, the answer to `unlink`): the close that follows is no sign of
   * failure, and nothing more follows it on that link.
   */
  bye: { code: 22, body: struct({}) },
  /**
   * Sent on a link the sender lets go while the receiver may still take it for its current
   * one (making room, link budget full, join exchange done): the receiver answers with `bye`
   * and sends nothing more on it; the sender closes once that answer arrived, so nothing the
   * receiver sent meanwhile is lost.
   */
  unlink: { code: 28, body: struct({}) },

  // ---- epidemic broadcast tree (lib/broadcast/tree.ts); `k`: the kind of broadcast ----
  /** Lazy push: ids (8 bytes each, packed) of messages the sender delivered. */
  ihave: { code: 23, body: struct({ k: uint(15), ids: bytes(0, TREE_ID_BYTES) }) },
  /** Send me these messages (announced by you), and be a tree edge again. */
  graft: { code: 24, body: struct({ k: uint(15), ids: bytes(0, TREE_ID_BYTES) }) },
  /**
   * Stop sending me messages of kind `k` in full: this link is lazy in that kind's tree from
   * now on (each kind has its own tree). Without `k` (older peers): in every kind's.
   */
  prune: { code: 25, body: struct({}, { k: uint(15) }) },
  /** I have these (large) messages already: do not send them to me. */
  dontwant: { code: 26, body: struct({ k: uint(15), ids: bytes(0, TREE_ID_BYTES) }) },
  /** Eager push of membership news (alive claims that introduced members), along the tree. */
  news: { code: 27, body: struct({ g: claimList(64) }) },

  // ---- application messaging ----
  /**
   * A message for one node, direct or relayed hop by hop (`ttl` hops left). Relayed
   * messages carry the origin's key and its signature over everything but `ttl`, with the
   * origin's boot `epoch` and its `seq` (one counter for all it signs): only the last hop is
   * authenticated by a link, and (`epoch`, `seq`) make a replay detectable.
   */
  app: {
    code: 20,
    body: struct(
      {
        to: nodeIdField,
        from: nodeIdField,
        id: u32,
        kind: uint(5),
        topic: topicField,
        data: bytes(0, MAX_APP_BYTES),
        ttl: uint(16),
      },
      { sig: bytes(64), key: publicKeyField, epoch: u32, seq: u32 },
    ),
  },
  /**
   * A message for every node, sent along the broadcast tree; signed by its origin over everything
   * but `ttl`. (`epoch`, `seq`): the origin's boot epoch and its signing counter, so copies
   * and replays are recognised per origin.
   */
  broadcast: {
    code: 21,
    body: struct({
      origin: nodeIdField,
      key: publicKeyField,
      epoch: u32,
      seq: u32,
      topic: topicField,
      data: bytes(0, MAX_APP_BYTES),
      ttl: uint(32),
      sig: bytes(64),
    }),
  },
} as const satisfies Record<string, { code: number; body: Schema<object> }>;

export type MessageType = keyof typeof registry;
export type MessageOf<T extends MessageType> = { type: T } & Infer<(typeof registry)[T]['body']>;
export type Message = { [T in MessageType]: MessageOf<T> }[MessageType];

export const typeByCode: ReadonlyMap<number, MessageType> = new Map(
  (Object.keys(registry) as MessageType[]).map((t) => [registry[t].code, t]),
);
