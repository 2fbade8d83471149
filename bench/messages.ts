/** Representative messages for the wire benchmark. */
import { NodeIdentity } from '../lib/identity/mod.ts';
import { signClaim } from '../lib/membership/claims.ts';
import { fromHex } from '../lib/util/bytes.ts';
import type { Message, WireLimits } from '../lib/wire/mod.ts';

/** Alive claims of n distinct, deterministic identities (seed = i as 4 big-endian bytes + zeros). */
function aliveClaims(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setUint32(0, i + 1);
    const identity = NodeIdentity.fromSecretKey(seed);
    const claim = signClaim(identity, 'alive', {
      incarnation: 1_700_000_000 + i,
      meta: { runtime: 'node' },
      addrs: [`mem:h${i}`],
    });
    return claim.wire;
  });
}

/** A probe with two piggybacked membership updates: what most datagrams look like. */
export function typicalSmallMessage(): Message {
  return { type: 'ping', seq: 123_456, to: fromHex('00112233445566778899aabbccddeeff'), g: aliveClaims(2) };
}

/** A push-pull `claims` page with `n` alive claims (state transfer). Needs a larger frame cap than the 64 KiB default. */
export function largeStateMessage(n: number): { msg: Message; limits: Partial<WireLimits> } {
  return {
    msg: { type: 'claims', seq: 1, reply: true, last: true, claims: aliveClaims(n) },
    limits: { maxFrameBytes: 1 << 20 },
  };
}
