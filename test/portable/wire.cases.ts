import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../lib/util/bytes.ts';
import { decodeMessage, encodeCbor, encodeMessage, type Message, WireError } from '../../lib/wire/mod.ts';
import type { Suite } from './case.ts';

const hello: Message = {
  type: 'hello',
  cluster: 'demo',
  node: new Uint8Array(16).fill(1),
  key: new Uint8Array(32).fill(2),
  nonce: new Uint8Array(32).fill(3),
};

function refusedWith(
  code: WireError['code'],
  bytes: Uint8Array,
  opts?: Parameters<typeof decodeMessage>[1],
): void {
  assert.throws(
    () => decodeMessage(bytes, opts),
    (e: unknown) => e instanceof WireError && e.code === code,
    `expected WireError ${code}`,
  );
}

/** A frame with `body` in place of a valid message body. */
function frame(type: number, body: unknown): Uint8Array {
  return encodeCbor([1, type, body]);
}

export const wireCases: Suite = {
  'hello round-trips with plain Uint8Array fields'() {
    const back = decodeMessage(encodeMessage(hello));
    assert.deepEqual(back, hello);
    assert.equal((back as typeof hello & { key: Uint8Array }).key.constructor, Uint8Array);
  },

  'a frame is [version, type, body] in CBOR'() {
    const bytes = encodeMessage({ type: 'ready' });
    assert.equal(toHex(bytes), '8301' + '04' + 'a0');
  },

  'unknown type and unsupported version are refused'() {
    refusedWith('unknown-type', frame(999, {}));
    refusedWith('bad-version', encodeCbor([2, 4, {}]));
    refusedWith('malformed', encodeCbor([1, 4]));
    refusedWith('malformed', encodeCbor({ a: 1 }));
  },

  'wrong field sizes, missing and unknown fields are refused'() {
    const { type: _t, ...helloBody } = hello;
    refusedWith('invalid-field', frame(1, { ...helloBody, key: new Uint8Array(31) }));
    assert.deepEqual(decodeMessage(frame(1, helloBody)), hello);
    refusedWith('invalid-field', frame(3, {}));
    refusedWith('invalid-field', frame(3, { sig: new Uint8Array(64), extra: 1 }));
    refusedWith('invalid-field', frame(3, { sig: 'not bytes' }));
    refusedWith('invalid-field', frame(5, { reason: 'x'.repeat(201) }));
  },

  'encodeMessage refuses what peers would refuse'() {
    assert.throws(() => encodeMessage({ ...hello, cluster: 'bad cluster!' } as Message), WireError);
    assert.throws(() => encodeMessage({ type: 'nope' } as unknown as Message), WireError);
  },

  'frame size cap is enforced on both sides (default 64 KiB)'() {
    const big = frame(5, { reason: 'x'.repeat(100) });
    refusedWith('too-large', big, { maxFrameBytes: 64 });
    assert.throws(
      () => encodeMessage({ type: 'refuse', reason: 'x'.repeat(100) }, { maxFrameBytes: 64 }),
      WireError,
    );
    refusedWith('too-large', new Uint8Array(64 * 1024 + 1));
  },

  'deep nesting is a WireError, not a stack overflow'() {
    const depth = 100_000;
    const bytes = new Uint8Array(depth + 1).fill(0x81);
    bytes[depth] = 0x00;
    refusedWith('too-deep', bytes, { maxFrameBytes: 1 << 20 });
  },

  'tags, undefined, indefinite lengths and simple values are refused'() {
    refusedWith('forbidden', fromHex('c11a514b67b0')); // tag 1 (Date)
    refusedWith('forbidden', fromHex('d8408301040a')); // tag 64 (typed array)
    refusedWith('forbidden', fromHex('f7')); // undefined
    refusedWith('forbidden', fromHex('9f01ff')); // indefinite array
    refusedWith('forbidden', fromHex('f0')); // simple(16)
    refusedWith('forbidden', fromHex('a10101')); // integer map key
  },

  'duplicate map keys are refused, also when spelled with a longer length'() {
    refusedWith('duplicate-key', fromHex('a2616101616102'));
    refusedWith('duplicate-key', fromHex('a261610178016102'));
  },

  '__proto__ keys are refused'() {
    refusedWith('forbidden', fromHex('a1695f5f70726f746f5f5fa0'));
  },

  'truncated input, huge claimed lengths and trailing bytes are refused'() {
    const ok = encodeMessage(hello);
    refusedWith('malformed', ok.subarray(0, ok.length - 1));
    refusedWith('malformed', fromHex('5bffffffffffffffff'));
    refusedWith('too-many-items', fromHex('9bffffffffffffffff'));
    refusedWith('malformed', fromHex('9a0000ffff'), { maxItems: 1 << 20 });
    const extra = new Uint8Array(ok.length + 1);
    extra.set(ok);
    refusedWith('malformed', extra);
    refusedWith('malformed', fromHex('6280ff')); // invalid UTF-8 text
  },

  'non-Uint8Array input is a WireError'() {
    assert.throws(() => decodeMessage('hello' as unknown as Uint8Array), WireError);
  },
};
