/**
 * Ed25519 through Node's OpenSSL, for long simulations: the same signatures (Ed25519 is
 * deterministic) and the same verdicts on honest signatures as the pure-JavaScript code,
 * many times faster. What Node's WebCrypto — the default verifier in production — runs too.
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import type { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { signingInput } from '../../lib/identity/signed.ts';
import type { SignatureVerifier } from '../../lib/identity/verifier.ts';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const publicKeys = new Map<string, KeyObject>();

export const opensslVerifier: SignatureVerifier = {
  verify(publicKey, domain, payload, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    const hex = Buffer.from(publicKey).toString('hex');
    let key = publicKeys.get(hex);
    if (!key) {
      key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
      if (publicKeys.size > 4096) publicKeys.clear();
      publicKeys.set(hex, key);
    }
    return verify(null, signingInput(domain, payload), key, signature);
  },
};

/** Makes `identity` sign through OpenSSL (same bytes as its own sign()). */
export function signWithOpenssl(identity: NodeIdentity): void {
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, identity.exportSecretKey()]),
    format: 'der',
    type: 'pkcs8',
  });
  identity.sign = (data) => new Uint8Array(sign(null, data, key));
}
