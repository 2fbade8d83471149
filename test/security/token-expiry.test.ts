// Finding 11: a member whose membership token expires is dropped everywhere — links,
// membership, messaging and replicated state — and a member that renews in time stays.
import { describe, expect, it } from 'vitest';
import { issueMembershipToken, NodeIdentity } from '../../lib/identity/mod.ts';
import { utf8 } from '../../lib/util/bytes.ts';
import { cluster, converged, runUntil } from '../sim/helpers.ts';

const admin = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(42));
/** The simulated wall clock starts here (SimNetwork's default epoch). */
const EPOCH_S = 1_700_000_000;

/** A token cluster of `nodes`; the last node's token expires `expiresInS` after the start. */
async function expiringCluster(nodes: number, expiresInS: number) {
  return cluster({
    nodes,
    maxLinks: 64,
    minLinks: 64,
    nodeOptions: (i, id) => ({
      admission: { mode: 'token', adminKey: admin.publicKey },
      token: issueMembershipToken(
        admin,
        'sim',
        id.publicKey,
        i === nodes - 1 ? EPOCH_S + expiresInS : undefined,
      ),
    }),
  });
}

describe('finding 11: token expiry is enforced on existing members', () => {
  it('an expired member loses its links, its membership, its messages and its state entries', async () => {
    const c = await expiringCluster(4, 60);
    runUntil(c, () => converged(c), 30_000);
    expect(converged(c)).toBe(true);
    const x = c.nodes[3]!;
    const xid = x.identity.nodeId;
    x.node.advertiseService('svc', { endpoint: 'x:1', metadata: {}, health: 'Healthy' });
    const got: string[] = [];
    c.nodes[0]!.node.subscribe('chat', (m) => got.push(m.from));
    c.runFor(5_000);
    expect(c.nodes[0]!.node.stateEntry('s', xid, 'svc')).toBeDefined();
    await x.node.send(c.nodes[0]!.identity.nodeId, 'chat', utf8('before'));
    c.runFor(500);
    expect(got).toEqual([xid]);

    // Past the expiry (plus the sweep interval), every other node has let it go.
    runUntil(
      c,
      () => c.net.now > 65_000 && c.nodes.slice(0, 3).every((n) => n.node.member(xid) === undefined),
      120_000,
    );
    for (const n of c.nodes.slice(0, 3)) {
      expect(n.node.member(xid)).toBeUndefined();
      expect(n.node.links()).not.toContain(xid);
      expect(n.node.stateEntry('s', xid, 'svc')).toBeUndefined();
      expect(n.node.ring.ownerOf('any-key')).not.toBe(xid);
    }
    void x.node.send(c.nodes[0]!.identity.nodeId, 'chat', utf8('after')).catch(() => {});
    c.runFor(2_000);
    expect(got).toEqual([xid]);
    // And it stays out: its claims (with the expired token) are refused from then on.
    c.runFor(20_000);
    for (const n of c.nodes.slice(0, 3)) expect(n.node.member(xid)).toBeUndefined();
  });

  it('a member that announces a renewed token before expiry stays', async () => {
    const c = await expiringCluster(3, 60);
    runUntil(c, () => converged(c), 30_000);
    const x = c.nodes[2]!;
    c.runFor(20_000);
    x.node.setToken(issueMembershipToken(admin, 'sim', x.identity.publicKey, EPOCH_S + 3_600));
    c.runFor(60_000);
    expect(converged(c)).toBe(true);
    for (const n of c.nodes.slice(0, 2)) expect(n.node.links()).toContain(x.identity.nodeId);
  });
});
