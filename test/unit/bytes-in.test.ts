// Public functions that take bytes accept any Uint8Array — Node Buffers, views with a non-zero
// byteOffset into a shared pool — and never write into them.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Admission, issueMembershipToken, NodeIdentity, nodeIdOf } from '../../lib/identity/mod.ts';
import { MemoryStorage } from '../../lib/storage/memory.ts';
import { concatBytes, fromHex, utf8 } from '../../lib/util/bytes.ts';
import { decodeMessage, encodeMessage } from '../../lib/wire/mod.ts';

const SPKI_PREFIX = fromHex('302a300506032b6570032100');
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');

/** The same bytes as a view at an odd offset inside a larger pool (as Buffer.from often gives). */
function offsetView(b: Uint8Array): Uint8Array {
  const pool = Buffer.alloc(b.length + 13, 0xaa);
  pool.set(b, 7);
  return pool.subarray(7, 7 + b.length);
}

const snapshot = (b: Uint8Array) => Uint8Array.from(b);

describe('bytes in, nothing written', () => {
  it('OpenSSL signatures handed over as Buffers verify every time, and the Buffers are unchanged', () => {
    let verified = 0;
    for (let i = 0; i < 200; i++) {
      const id = NodeIdentity.generate();
      const priv = createPrivateKey({
        key: Buffer.from(concatBytes(PKCS8_PREFIX, id.exportSecretKey())),
        format: 'der',
        type: 'pkcs8',
      });
      const msg = Buffer.from(`message ${i}`);
      const sig = sign(null, msg, priv); // a Buffer, often a view into a shared pool
      const key = Buffer.from(id.publicKey);
      const [sigBefore, keyBefore, msgBefore] = [snapshot(sig), snapshot(key), snapshot(msg)];
      if (NodeIdentity.verify(key, msg, sig)) verified++;
      expect(NodeIdentity.verify(offsetView(key), offsetView(msg), offsetView(sig))).toBe(true);
      expect(snapshot(sig)).toEqual(sigBefore);
      expect(snapshot(key)).toEqual(keyBefore);
      expect(snapshot(msg)).toEqual(msgBefore);
    }
    expect(verified).toBe(200);
  });

  it('weftmesh signatures over Buffer messages verify with OpenSSL', () => {
    for (let i = 0; i < 50; i++) {
      const id = NodeIdentity.fromSecretKey(offsetView(crypto.getRandomValues(new Uint8Array(32))));
      const pub = createPublicKey({
        key: Buffer.from(concatBytes(SPKI_PREFIX, id.publicKey)),
        format: 'der',
        type: 'spki',
      });
      const msg = offsetView(utf8(`payload ${i}`));
      expect(verify(null, msg, pub, id.sign(msg))).toBe(true);
    }
  });

  it('an identity does not share memory with the seed it was made from, nor with what it exports', () => {
    const seed = Buffer.from(crypto.getRandomValues(new Uint8Array(32)));
    const id = NodeIdentity.fromSecretKey(seed);
    const pub = snapshot(id.publicKey);
    const exported = id.exportSecretKey();
    seed.fill(0);
    exported.fill(0);
    expect(id.exportSecretKey()).not.toEqual(new Uint8Array(32));
    expect(NodeIdentity.fromSecretKey(id.exportSecretKey()).publicKey).toEqual(pub);
    expect(nodeIdOf(offsetView(pub))).toBe(id.nodeId);
  });

  it('tokens, frames and storage accept offset Buffers and keep their own copies', async () => {
    const admin = NodeIdentity.generate();
    const member = NodeIdentity.generate();
    const token = offsetView(issueMembershipToken(admin, 'c1', member.publicKey));
    const before = snapshot(token);
    expect(
      new Admission({ mode: 'token', adminKey: offsetView(admin.publicKey) }, 'c1', () => 0).check(
        offsetView(member.publicKey),
        token,
      ),
    ).toBeUndefined();
    expect(snapshot(token)).toEqual(before);

    const frame = offsetView(encodeMessage({ type: 'neighbours', ids: [fromHex(member.nodeId)] }));
    const frameBefore = snapshot(frame);
    expect(decodeMessage(frame)).toMatchObject({ type: 'neighbours' });
    expect(snapshot(frame)).toEqual(frameBefore);

    const storage = new MemoryStorage();
    const value = offsetView(Uint8Array.of(1, 2, 3));
    await storage.set('k', value);
    value.fill(9);
    const got = await storage.get('k');
    expect(got).toEqual(Uint8Array.of(1, 2, 3));
    got!.fill(7);
    expect(await storage.get('k')).toEqual(Uint8Array.of(1, 2, 3));
  });
});
