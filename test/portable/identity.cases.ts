import assert from 'node:assert/strict';
import * as ed from '@noble/ed25519';
import {
  acceptablePublicKey,
  CachedVerifier,
  Domain,
  fastVerifier,
  IdentityError,
  NodeIdentity,
  nodeIdOf,
  signEnvelope,
  signingInput,
  strictVerifier,
  verifyEnvelope,
  webCryptoAvailable,
} from '../../lib/identity/mod.ts';
import { nativeEd25519Available, nativeVerify } from '../../lib/identity/native-ed25519.ts';
import { MIXED_ORDER_PROBE, webCryptoVerify } from '../../lib/identity/webcrypto.ts';
import { fromHex, toHex, utf8 } from '../../lib/util/bytes.ts';
import {
  IDENTITY_POINT,
  mixedOrderKeySignatures,
  mixedOrderRSignature,
  nonCanonicalPoint,
  unreducedS,
} from '../support/ed25519-crafted.ts';
import { RFC8032_VECTORS } from '../support/rfc8032.ts';
import type { Suite } from './case.ts';

/** Every verification path this runtime has must give this answer. */
async function bothSay(expected: boolean, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) {
  assert.equal(NodeIdentity.verify(publicKey, message, signature), expected, 'noble path');
  assert.equal(await NodeIdentity.verifyAsync(publicKey, message, signature), expected, 'async path');
  if (await webCryptoAvailable())
    assert.equal(await webCryptoVerify(publicKey, message, signature), expected, 'WebCrypto');
  if (nativeEd25519Available())
    assert.equal(nativeVerify(publicKey, message, signature), expected, 'node:crypto');
}

export const identityCases: Suite = {
  'RFC 8032 vectors: public key, signature, verification'() {
    for (const v of RFC8032_VECTORS) {
      const id = NodeIdentity.fromSecretKey(fromHex(v.secret));
      assert.equal(toHex(id.publicKey), v.public, v.name);
      assert.equal(toHex(id.sign(fromHex(v.message))), v.signature, v.name);
      assert.ok(NodeIdentity.verify(fromHex(v.public), fromHex(v.message), fromHex(v.signature)), v.name);
    }
  },

  async 'signAsync equals sign (Ed25519 is deterministic) and verifyAsync agrees'() {
    for (const v of RFC8032_VECTORS) {
      const id = NodeIdentity.fromSecretKey(fromHex(v.secret));
      assert.equal(toHex(await id.signAsync(fromHex(v.message))), v.signature, v.name);
      await bothSay(true, id.publicKey, fromHex(v.message), fromHex(v.signature));
    }
  },

  async 'WebCrypto Ed25519 is available in this runtime'() {
    assert.equal(await webCryptoAvailable(), true);
  },

  'node ids are remembered by the key bytes, not the buffer: a key changed in place gets its own id'() {
    const a = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(1)).publicKey;
    const b = NodeIdentity.fromSecretKey(new Uint8Array(32).fill(2)).publicKey;
    const buf = a.slice();
    const idA = nodeIdOf(buf);
    buf.set(b);
    assert.equal(nodeIdOf(buf), nodeIdOf(b.slice()));
    assert.notEqual(nodeIdOf(buf), idA);
    assert.equal(nodeIdOf(a), idA);
  },

  'sign equals noble sign(message, seed) over random keys and messages'() {
    for (let i = 0; i < 50; i++) {
      const seed = crypto.getRandomValues(new Uint8Array(32));
      const message = crypto.getRandomValues(new Uint8Array(i * 7));
      const id = NodeIdentity.fromSecretKey(seed);
      assert.equal(toHex(id.sign(message)), toHex(ed.sign(message, seed)));
      assert.equal(toHex(id.publicKey), toHex(ed.getPublicKey(seed)));
    }
  },

  'node id is the hex of the first 16 bytes of SHAKE-256(public key)'() {
    const id = NodeIdentity.fromSecretKey(fromHex(RFC8032_VECTORS[0].secret));
    assert.match(id.nodeId, /^[0-9a-f]{32}$/);
    assert.equal(id.nodeId, nodeIdOf(id.publicKey));
    // SHAKE-256 of the TEST 1 public key, computed independently with Python's hashlib.
    assert.equal(id.nodeId, '7cb16e94954c73e793776b730c4fa20f');
    assert.notEqual(nodeIdOf(fromHex(RFC8032_VECTORS[1].public)), id.nodeId);
    assert.throws(() => nodeIdOf(new Uint8Array(31)), IdentityError);
  },

  'generate makes distinct identities; exportSecretKey round-trips'() {
    const a = NodeIdentity.generate();
    const b = NodeIdentity.generate();
    assert.notEqual(a.nodeId, b.nodeId);
    const again = NodeIdentity.fromSecretKey(a.exportSecretKey());
    assert.equal(again.nodeId, a.nodeId);
    const msg = utf8('hello');
    assert.ok(again.verify(msg, a.sign(msg)));
    assert.ok(!b.verify(msg, a.sign(msg)));
    assert.throws(() => NodeIdentity.fromSecretKey(new Uint8Array(16)), IdentityError);
  },

  'exportSecretKey returns a copy'() {
    const a = NodeIdentity.generate();
    const seed = a.exportSecretKey();
    seed.fill(0);
    assert.notDeepEqual(a.exportSecretKey(), seed);
  },

  async 'a tampered message or signature fails on both paths'() {
    const id = NodeIdentity.generate();
    const msg = utf8('payload');
    const sig = id.sign(msg);
    await bothSay(true, id.publicKey, msg, sig);
    const badMsg = utf8('paylOad');
    await bothSay(false, id.publicKey, badMsg, sig);
    for (const i of [0, 31, 32, 63]) {
      const badSig = sig.slice();
      badSig[i]! ^= 1;
      await bothSay(false, id.publicKey, msg, badSig);
    }
    await bothSay(false, id.publicKey, msg, sig.subarray(0, 63));
  },

  async 'small-order public key with the identity signature is refused (noble zip215 would accept)'() {
    const sig = new Uint8Array(64);
    sig.set(IDENTITY_POINT, 0);
    assert.equal(ed.verify(sig, utf8('anything'), IDENTITY_POINT), true, 'permissive default accepts');
    await bothSay(false, IDENTITY_POINT, utf8('anything'), sig);
    assert.equal(acceptablePublicKey(IDENTITY_POINT), null);
  },

  async 'non-canonical public key encoding is refused'() {
    const key = nonCanonicalPoint();
    assert.doesNotThrow(() => ed.Point.fromBytes(key, true), 'ZIP-215 decodes it');
    assert.equal(acceptablePublicKey(key), null);
    await bothSay(false, key, utf8('m'), new Uint8Array(64));
  },

  async 'unreduced S (S + L) is refused'() {
    const id = NodeIdentity.generate();
    const msg = utf8('m');
    const sig = unreducedS(id.sign(msg));
    await bothSay(false, id.publicKey, msg, sig);
  },

  async 'mixed-order R: cofactored check accepts, the one rule refuses on both paths'() {
    const seed = fromHex(RFC8032_VECTORS[2].secret);
    const msg = utf8('mixed order');
    const { publicKey, signature } = mixedOrderRSignature(seed, msg);
    assert.equal(toHex(publicKey), RFC8032_VECTORS[2].public);
    assert.equal(ed.verify(signature, msg, publicKey, { zip215: false }), true, 'noble cofactored accepts');
    await bothSay(false, publicKey, msg, signature);
  },

  async 'mixed-order public key (A + torsion): the cofactorless equation decides, alike on every path'() {
    const seed = fromHex(RFC8032_VECTORS[0].secret);
    const msg = utf8('mixed-order key');
    const { publicKey, valid, cofactoredOnly } = mixedOrderKeySignatures(seed, msg);
    const point = ed.Point.fromBytes(publicKey, false);
    assert.equal(point.isTorsionFree(), false, 'a torsion component');
    assert.equal(point.isSmallOrder(), false);
    assert.notEqual(acceptablePublicKey(publicKey), null);
    assert.equal(
      ed.verify(cofactoredOnly, msg, publicKey, { zip215: false }),
      true,
      'noble cofactored accepts',
    );
    await bothSay(true, publicKey, msg, valid);
    await bothSay(false, publicKey, msg, cofactoredOnly);
  },

  async 'bytes that are no curve point are refused as a key on every path, a flood of fresh ones too'() {
    // A hostile peer's cheapest use of a key: a fresh non-point per frame. Each is refused
    // (no exception from a backend that decodes at import) and the next still verifies.
    const id = NodeIdentity.generate();
    const msg = utf8('m');
    const sig = id.sign(msg);
    let tried = 0;
    for (let y = 2; tried < 200; y++) {
      const key = new Uint8Array(32);
      key[0] = y & 0xff;
      key[1] = y >> 8;
      try {
        ed.Point.fromBytes(key, false);
        continue;
      } catch {
        tried++;
      }
      assert.equal(acceptablePublicKey(key), null);
      await bothSay(false, key, msg, sig);
    }
    await bothSay(true, id.publicKey, msg, sig);
  },

  'the backend probe is such a key and pair of signatures (of the empty message)'() {
    const made = mixedOrderKeySignatures(fromHex(RFC8032_VECTORS[0].secret), new Uint8Array(0));
    assert.equal(toHex(MIXED_ORDER_PROBE.key), toHex(made.publicKey));
    assert.equal(toHex(MIXED_ORDER_PROBE.valid), toHex(made.valid));
    assert.equal(toHex(MIXED_ORDER_PROBE.cofactoredOnly), toHex(made.cofactoredOnly));
  },

  async 'signed envelopes bind the domain tag'() {
    const id = NodeIdentity.generate();
    const payload = utf8('incarnation 7');
    const env = signEnvelope(id, Domain.Alive, payload);
    assert.equal(await verifyEnvelope(fastVerifier, id.publicKey, env), true);
    assert.equal(await verifyEnvelope(strictVerifier, id.publicKey, env), true);
    assert.equal(await verifyEnvelope(strictVerifier, id.publicKey, { ...env, domain: Domain.Leave }), false);
    // A plain signature over the payload is not an envelope signature.
    assert.equal(
      verifyEnvelope(strictVerifier, id.publicKey, { ...env, signature: id.sign(payload) }),
      false,
    );
    assert.throws(() => signingInput('Not A Tag', payload), TypeError);
  },

  async 'CachedVerifier memoizes valid and invalid answers by exact bytes'() {
    const id = NodeIdentity.generate();
    const env = signEnvelope(id, Domain.Alive, utf8('x'));
    const cache = new CachedVerifier(strictVerifier, 2);
    assert.equal(cache.verify(id.publicKey, env.domain, env.payload, env.signature), true);
    assert.equal(cache.verify(id.publicKey, env.domain, env.payload, env.signature), true);
    assert.equal(cache.verify(id.publicKey, env.domain, utf8('y'), env.signature), false);
    assert.deepEqual(cache.stats(), { hits: 1, misses: 2, size: 2 });
    cache.verify(id.publicKey, Domain.Leave, env.payload, env.signature);
    assert.equal(cache.stats().size, 2, 'bounded');
    const asyncCache = new CachedVerifier(fastVerifier);
    assert.equal(await asyncCache.verify(id.publicKey, env.domain, env.payload, env.signature), true);
    assert.equal(
      asyncCache.verify(id.publicKey, env.domain, env.payload, env.signature),
      true,
      'sync once cached',
    );
  },
};
