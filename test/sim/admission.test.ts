// Admission enforced by every node: at link handshake and on every signed claim.
import { describe, expect, it } from 'vitest';
import { issueMembershipToken, NodeIdentity } from '../../lib/identity/mod.ts';
import { signClaim } from '../../lib/membership/claims.ts';
import { HandshakeError } from '../../lib/transport/handshake.ts';
import { encodeMessage } from '../../lib/wire/mod.ts';
import { type SimPeer, startPeer } from '../support/sim-peer.ts';
import { cluster, converged, runUntil } from './helpers.ts';

const admin = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(42));

/** A full mesh of a token cluster: every node carries an admin-signed token. */
const tokenCluster = (nodes: number) =>
  cluster({
    nodes,
    maxLinks: 64,
    minLinks: 64,
    nodeOptions: (_i, id) => ({
      admission: { mode: 'token', adminKey: admin.publicKey },
      token: issueMembershipToken(admin, 'sim', id.publicKey),
    }),
  });

describe('admission in simulation', () => {
  it('token clusters: members with admin-signed tokens converge; an outsider cannot link', async () => {
    const c = await tokenCluster(6);
    runUntil(c, () => converged(c), 30_000);
    expect(converged(c)).toBe(true);
    // An outsider with a valid key but no token, and one with a token for another cluster.
    const intruders: SimPeer[] = [startPeer(c.net, c.net.addHost(), 'sim')];
    const other = NodeIdentity.generate();
    intruders.push(startPeer(c.net, c.net.addHost(), 'sim', other));
    for (const x of intruders) x.transport.connect(c.nodes[0]!.host.url);
    c.runFor(2_000);
    for (const x of intruders) {
      expect(x.links).toHaveLength(0);
      expect(x.failures[0]).toBeInstanceOf(HandshakeError);
      expect(x.failures[0]!.message).toMatch(/not-admitted|refused/);
    }
  });

  it('claims signed by keys without a token are dropped, even when an admitted member relays them', async () => {
    const c = await tokenCluster(4);
    runUntil(c, () => converged(c), 30_000);
    // A member with a token links up and relays two alive claims: one with a token, one without.
    const mole = NodeIdentity.generate();
    const peer = startPeer(
      c.net,
      c.net.addHost(),
      'sim',
      mole,
      issueMembershipToken(admin, 'sim', mole.publicKey),
    );
    peer.transport.connect(c.nodes[0]!.host.url);
    c.runFor(1_000);
    expect(peer.links).toHaveLength(1);
    const stranger = NodeIdentity.generate();
    const tokened = NodeIdentity.generate();
    const stray = signClaim(stranger, 'alive', { incarnation: 1 });
    const legit = signClaim(tokened, 'alive', {
      incarnation: 1,
      token: issueMembershipToken(admin, 'sim', tokened.publicKey),
    });
    const target = c.nodes[0]!.node;
    const before = target.metrics().claimsRejected;
    peer.links[0]!.send(encodeMessage({ type: 'gossip', g: [stray.wire, legit.wire] }));
    c.runFor(1_000);
    expect(target.member(stranger.nodeId)).toBeUndefined();
    expect(target.member(tokened.nodeId)?.state).toBe('Active');
    expect(target.metrics().claimsRejected - before).toBe(1);
  });

  it('an allow-list admits only listed keys', async () => {
    const identities = Array.from({ length: 4 }, () => NodeIdentity.generate());
    const listed = identities.slice(0, 3).map((id) => id.publicKey);
    const c = await cluster({
      nodes: 4,
      maxLinks: 64,
      minLinks: 64,
      identities,
      nodeOptions: () => ({ admission: { mode: 'allow-list', keys: listed } }),
    });
    c.runFor(10_000);
    const [a, b, d, outsider] = c.nodes;
    for (const n of [a!, b!, d!]) {
      expect(n.node.links()).toHaveLength(2);
      expect(n.node.member(outsider!.identity.nodeId)).toBeUndefined();
    }
    expect(outsider!.node.links()).toHaveLength(0);
  });
});
