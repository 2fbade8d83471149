// The cheapest hostile use of a relayed ack (issue 10, finding 3's signed acks): a linked
// peer sends acks that name another member, with made-up nonces and signatures. Each must
// cost a lookup, not a signature verification, and none may count.
import { describe, expect, it } from 'vitest';
import { Domain, type SignatureVerifier, strictVerifier } from '../../lib/identity/mod.ts';
import { fromHex } from '../../lib/util/bytes.ts';
import { encodeMessage } from '../../lib/wire/mod.ts';
import { cluster, converged, runUntil } from '../sim/helpers.ts';
import { hostileMember } from '../support/hostile.ts';

describe('acks relayed with made-up signatures', () => {
  it('are dropped before any signature check, however many arrive', async () => {
    let ackChecks = 0;
    const counting: SignatureVerifier = {
      verify(key, domain, payload, sig) {
        if (domain === Domain.ProbeAck) ackChecks++;
        return strictVerifier.verify(key, domain, payload, sig);
      },
    };
    const c = await cluster({ nodes: 4, nodeOptions: () => ({ verifier: counting }) });
    runUntil(c, () => converged(c), 30_000);
    const victim = c.nodes[1]!;
    const { peer } = hostileMember(c, 1);
    const link = peer.links.find((l) => l.peer.nodeId === victim.identity.nodeId)!;
    const named = fromHex(c.nodes[2]!.identity.nodeId);
    for (let i = 0; i < 2_000; i++) {
      const n = peer.host.env.random.bytes(32);
      link.sendDatagram(
        encodeMessage({ type: 'ack', seq: i, t: named, n, sig: new Uint8Array(64).fill(i & 0xff) }),
      );
      if (i % 100 === 0) c.runFor(10);
    }
    c.runFor(2_000);
    expect(victim.node.metrics().messagesIn).toBeGreaterThan(2_000);
    expect(ackChecks).toBeLessThan(20); // only the cluster's own indirect probes, if any
    runUntil(c, () => converged(c), 30_000);
    expect(converged(c)).toBe(true);
  });
});
