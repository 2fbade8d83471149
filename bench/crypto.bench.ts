import * as ed from '@noble/ed25519';
import { NodeIdentity, webCryptoAvailable } from '../lib/identity/mod.ts';
import { utf8 } from '../lib/util/bytes.ts';
import { rate, rateRows, table } from './harness.ts';

/** Sign and verify per second: pure JavaScript (noble) against WebCrypto. */
export async function cryptoBench(): Promise<void> {
  const id = NodeIdentity.generate();
  const msg = utf8('weftmesh alive claim of typical size: node id, key, incarnation, meta'.repeat(2));
  const sig = id.sign(msg);
  const seed = id.exportSecretKey();
  const web = await webCryptoAvailable();
  const rates = [
    await rate('sign, weftmesh (sync: expanded key, 4-bit base table)', () => id.sign(msg)),
    await rate("sign, noble's own ed.sign(msg, seed) (8-bit base table)", () => ed.sign(msg, seed)),
    await rate('verify, weftmesh strict rule, noble (sync)', () =>
      NodeIdentity.verify(id.publicKey, msg, sig),
    ),
    await rate("verify, noble's own ed.verify (zip215: false)", () =>
      ed.verify(sig, msg, id.publicKey, { zip215: false }),
    ),
  ];
  if (web) {
    rates.push(
      await rate('sign, WebCrypto (sequential await)', () => id.signAsync(msg)),
      await rate('verify, WebCrypto + strict pre-checks (sequential)', () =>
        NodeIdentity.verifyAsync(id.publicKey, msg, sig),
      ),
      await rate(
        'verify, WebCrypto + strict pre-checks (64 in parallel)',
        () => Promise.all(Array.from({ length: 64 }, () => NodeIdentity.verifyAsync(id.publicKey, msg, sig))),
        { batch: 64 },
      ),
    );
  }
  table(
    `Ed25519 (WebCrypto ${web ? 'available' : 'not available'})`,
    ['operation', 'ops/s', 'ops'],
    rateRows(rates),
  );
}
