// Signatures made by weftmesh verify with another Ed25519 implementation (Node's OpenSSL), and back.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NodeIdentity } from '../../lib/identity/mod.ts';
import { concatBytes, fromHex, utf8 } from '../../lib/util/bytes.ts';

const SPKI_PREFIX = fromHex('302a300506032b6570032100');
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');

describe('Ed25519 interoperability with node:crypto (OpenSSL)', () => {
  it('OpenSSL verifies weftmesh signatures over random messages', () => {
    for (let i = 0; i < 50; i++) {
      const id = NodeIdentity.generate();
      const key = createPublicKey({
        key: Buffer.from(concatBytes(SPKI_PREFIX, id.publicKey)),
        format: 'der',
        type: 'spki',
      });
      const msg = crypto.getRandomValues(new Uint8Array(i * 7));
      expect(verify(null, msg, key, id.sign(msg))).toBe(true);
      expect(verify(null, utf8('other'), key, id.sign(msg))).toBe(false);
    }
  });

  it('weftmesh verifies OpenSSL signatures, and both derive the same public key', () => {
    for (let i = 0; i < 20; i++) {
      const id = NodeIdentity.generate();
      const priv = createPrivateKey({
        key: Buffer.from(concatBytes(PKCS8_PREFIX, id.exportSecretKey())),
        format: 'der',
        type: 'pkcs8',
      });
      const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
      expect(new Uint8Array(spki.subarray(12))).toEqual(id.publicKey);
      const msg = utf8(`message ${i}`);
      const sig = new Uint8Array(sign(null, msg, priv));
      expect(sig).toEqual(id.sign(msg));
      expect(NodeIdentity.verify(id.publicKey, msg, sig)).toBe(true);
    }
  });
});
