// node:crypto's Ed25519 (native-ed25519.ts) against the JavaScript path it replaces under Node:
// the same public keys and signature bytes, and NodeIdentity uses it. Verdicts on crafted
// inputs are compared across every backend in test/portable/identity.cases.ts.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as ed from '@noble/ed25519';
import { describe, expect, it, vi } from 'vitest';
import { expandSeed, signExpanded, verifyStrict } from '../../lib/identity/ed25519.ts';
import { nativeEd25519Available, nativeSigner, nativeVerify } from '../../lib/identity/native-ed25519.ts';
import { NodeIdentity } from '../../lib/identity/node-identity.ts';
import { Domain, signingInput } from '../../lib/identity/signed.ts';
import { fastVerifier } from '../../lib/identity/verifier.ts';
import { SeededRandom } from '../../lib/time/random.ts';

const hasBuiltins = typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule === 'function';

describe('Ed25519 through node:crypto', () => {
  it('is used where the runtime hands node:crypto out (Node ≥ 20.16)', () => {
    expect(nativeEd25519Available()).toBe(hasBuiltins);
  });

  it('gives the public keys and signatures of the JavaScript path, byte for byte', () => {
    const random = new SeededRandom(7);
    for (let i = 0; i < 40; i++) {
      const seed = random.bytes(32);
      const js = expandSeed(seed);
      const native = nativeSigner(seed)!;
      expect(native.publicKey).toEqual(js.publicKey);
      for (const length of [0, 1, 64, 1000]) {
        const message = random.bytes(length);
        const sig = native.sign(message);
        expect(sig).toEqual(signExpanded(js, message));
        expect(nativeVerify(native.publicKey, message, sig)).toBe(true);
        expect(verifyStrict(native.publicKey, message, sig)).toBe(true);
        const other = Uint8Array.from(message.length > 0 ? message : [1]);
        other[0]! ^= 1;
        expect(nativeVerify(native.publicKey, other, sig)).toBe(false);
      }
    }
  });

  it('the JavaScript path signs the same bytes after a full collection freed its base-point table', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const random = new SeededRandom(11);
    for (let round = 0; round < 3; round++) {
      const seed = random.bytes(32);
      const message = random.bytes(100);
      const js = expandSeed(seed);
      const before = signExpanded(js, message);
      // A WeakRef's target is kept to the end of the job that used it: end it, then collect.
      await new Promise((resolve) => setTimeout(resolve, 0));
      gc();
      // The table is held weakly: this signature rebuilds it from nothing.
      expect(signExpanded(js, message)).toEqual(before);
      expect(expandSeed(seed).publicKey).toEqual(nativeSigner(seed)!.publicKey);
      expect(before).toEqual(nativeSigner(seed)!.sign(message));
    }
  });

  it('the JavaScript path verifies without noble’s base-point multiplication (whose table holds ~1.1 MiB for good)', () => {
    const baseMultiplies = vi.fn();
    const multiply = ed.Point.prototype.multiply;
    const spy = vi.spyOn(ed.Point.prototype, 'multiply').mockImplementation(function (
      this: ed.Point,
      n,
      safe,
    ) {
      if (this.equals(ed.Point.BASE)) baseMultiplies(n);
      return multiply.call(this, n, safe);
    });
    try {
      const random = new SeededRandom(5);
      for (let i = 0; i < 8; i++) {
        const key = expandSeed(random.bytes(32));
        const message = random.bytes(i * 10);
        const sig = signExpanded(key, message);
        expect(verifyStrict(key.publicKey, message, sig)).toBe(true);
        const bad = Uint8Array.from(sig);
        bad[40]! ^= 1;
        expect(verifyStrict(key.publicKey, message, bad)).toBe(false);
      }
      expect(spy).toHaveBeenCalled(); // [k]A still goes through noble
      expect(baseMultiplies).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('NodeIdentity signs through it, and the node boundary verifies synchronously through it', () => {
    const id = NodeIdentity.fromSecretKey(new SeededRandom(3).bytes(32));
    const message = new TextEncoder().encode('hello');
    const sig = id.sign(message);
    expect(sig).toEqual(signExpanded(expandSeed(id.exportSecretKey()), message));
    const signed = id.sign(signingInput(Domain.App, message));
    const verdict = fastVerifier.verify(id.publicKey, Domain.App, message, signed);
    expect(verdict).toBe(true); // a boolean, not a promise: no trip through a thread pool
    expect(fastVerifier.verify(id.publicKey, Domain.Entry, message, signed)).toBe(false);
  });
});
