/**
 * The hostile-peer harness: an authenticated peer that links to a real MeshNode of a
 * simulated cluster and sends it every message type with boundary values — including
 * validly signed claims and state entries whose numbers sit at the edges of their ranges.
 * Messages come from the wire registry, so a message type added later is covered without
 * touching this file. Protocol code must survive all of it: nothing thrown out of the node,
 * and the cluster whole again afterwards.
 */
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { type ClaimKind, signClaim } from '../../lib/membership/claims.ts';
import type { SimCluster } from '../../lib/sim/cluster.ts';
import { signEntry } from '../../lib/state/entry.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import type { WireClaim } from '../../lib/wire/claims.ts';
import { type Message, type MessageType, registry } from '../../lib/wire/messages.ts';
import { encodeMessage } from '../../lib/wire/mod.ts';
import type { Schema, SchemaDesc } from '../../lib/wire/schema.ts';
import { type SimPeer, startPeer } from './sim-peer.ts';

const U32_MAX = 0xffffffff;

/** Which end of each range a generated message takes. */
export type Edge = 'min' | 'max' | 'mixed';

/** Signed values the harness can put where a schema wants a packed signed list. */
export interface SignedLists {
  claims: WireClaim[];
  entries: WireClaim[];
}

/**
 * Claims at the edges, all validly signed: the attacker's own alive claims at incarnation 0
 * and 2³²−1 with the largest low-water mark, accusations of the victim and of a bystander at
 * 0, at their current incarnation, one above it and at 2³²−1, and goodbyes.
 */
export function edgeClaims(attacker: NodeIdentity, targets: Array<{ id: string; incarnation: number }>) {
  const out: WireClaim[] = [];
  for (const i of [0, 1, U32_MAX]) {
    out.push(signClaim(attacker, 'alive', { incarnation: i, lowWaterMark: Number.MAX_SAFE_INTEGER }).wire);
    out.push(signClaim(attacker, 'leave', { incarnation: i }).wire);
  }
  for (const t of targets) {
    for (const kind of ['suspect', 'unreachable'] as ClaimKind[]) {
      for (const i of [0, t.incarnation, t.incarnation + 1, U32_MAX]) {
        out.push(signClaim(attacker, kind, { incarnation: Math.min(i, U32_MAX), subject: t.id }).wire);
      }
    }
  }
  return out;
}

/** State entries at the edges, signed by the attacker: timestamps 0, now+59 s and 2⁵³−1, full values, tombstones. */
export function edgeEntries(attacker: NodeIdentity, wallNow: number): WireClaim[] {
  const out: WireClaim[] = [];
  const big = new Uint8Array(4096).fill(0xff);
  for (const wall of [0, wallNow + 59_000, Number.MAX_SAFE_INTEGER]) {
    for (const counter of [0, 0xffff]) {
      const ts = { wall, counter, node: attacker.nodeId };
      out.push(signEntry(attacker, 'p', 'k'.repeat(128), big, ts).wire);
      out.push(signEntry(attacker, 's', 'svc', undefined, ts).wire);
    }
  }
  return out;
}

function edgeValue(
  schema: Schema<unknown>,
  edge: Edge,
  r: SeededRandom,
  lists: SignedLists,
  field: string,
): unknown {
  const d: SchemaDesc = schema.desc;
  const hi = edge === 'max' || (edge === 'mixed' && r.next() < 0.5);
  switch (d.kind) {
    case 'int':
      return hi ? Math.min(d.max, Number.MAX_SAFE_INTEGER) : Math.max(d.min, Number.MIN_SAFE_INTEGER);
    case 'float':
      return hi ? d.max : d.min;
    case 'bool':
      return hi;
    case 'bytes': {
      const n = hi ? d.max : d.min;
      return r.next() < 0.5 ? new Uint8Array(n).fill(0xff) : r.bytes(n);
    }
    case 'text':
      return (hi ? 'z' : 'a').repeat(hi ? d.max : d.min);
    case 'enum':
      return d.values[hi ? d.values.length - 1 : 0];
    case 'array':
      return Array.from({ length: hi ? d.max : 0 }, () => edgeValue(d.item, edge, r, lists, field));
    case 'dict': {
      const out: Record<string, unknown> = {};
      const n = hi ? d.max : 0;
      for (let i = 0; i < n; i++) out[`k${i}`] = edgeValue(d.value, edge, r, lists, field);
      return out;
    }
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(d.required)) out[k] = edgeValue(s, edge, r, lists, k);
      for (const [k, s] of Object.entries(d.optional))
        if (hi || r.next() < 0.5) out[k] = edgeValue(s, edge, r, lists, k);
      return out;
    }
    case 'custom': {
      const pool = field === 'entries' ? lists.entries : lists.claims;
      return hi ? pool.slice(0, d.max) : [];
    }
    case 'tagged': {
      const names = Object.keys(d.variants);
      const name = names[hi ? names.length - 1 : 0]!;
      return { [d.tag]: name, ...(edgeValue(d.variants[name]!, edge, r, lists, field) as object) };
    }
  }
}

/** Messages of every type at the given edge; those too large to encode are left out. */
export function edgeMessages(
  edge: Edge,
  seed: number,
  lists: SignedLists,
): Array<{ msg: Message; frame: Uint8Array }> {
  const r = new SeededRandom(seed);
  const out: Array<{ msg: Message; frame: Uint8Array }> = [];
  for (const type of Object.keys(registry) as MessageType[]) {
    const msg = { type, ...(edgeValue(registry[type].body, edge, r, lists, '') as object) } as Message;
    try {
      out.push({ msg, frame: encodeMessage(msg) });
    } catch {
      // Larger than a frame may be: a peer cannot send it either.
    }
  }
  return out;
}

/**
 * A hostile member: an authenticated peer linked to node `victim` that has announced itself
 * with a signed alive claim (so rules that trust members only still hear it out).
 */
export function hostileMember(
  c: SimCluster,
  victim: number,
  seed = 7,
): { peer: SimPeer; identity: NodeIdentity } {
  const identity = NodeIdentity.fromSecretKey(new SeededRandom(seed).bytes(32));
  const host = c.net.addHost();
  const peer = startPeer(c.net, host, 'sim', identity);
  peer.transport.connect(c.nodes[victim]!.host.url);
  c.runFor(500);
  const alive = signClaim(identity, 'alive', {
    incarnation: Math.floor(host.env.clock.wallNow() / 1000),
    addrs: [host.url],
  });
  for (const l of peer.links) l.send(encodeMessage({ type: 'gossip', g: [alive.wire] }));
  c.runFor(500);
  return { peer, identity };
}
