import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../lib/time/random.ts';
import {
  decodeMessage,
  encodeMessage,
  type Message,
  type MessageType,
  registry,
  WireError,
} from '../../lib/wire/mod.ts';
import { mutate, sampleMessage } from '../support/fuzz.ts';
import { arbitraryOf } from '../support/schema-gen.ts';

const types = Object.keys(registry) as MessageType[];

function messageArbitrary(type: MessageType): fc.Arbitrary<Message> {
  return arbitraryOf(registry[type].body).map((body) => ({ type, ...(body as object) }) as Message);
}

/** decodeMessage either returns a message or throws a WireError: nothing else may escape. */
function decodesOrWireError(bytes: Uint8Array): 'ok' | 'refused' {
  try {
    decodeMessage(bytes);
    return 'ok';
  } catch (e) {
    if (e instanceof WireError) return 'refused';
    throw e;
  }
}

describe('wire codec properties', () => {
  for (const type of types) {
    it(`${type}: decode(encode(m)) equals m`, () => {
      fc.assert(
        fc.property(messageArbitrary(type), (msg) => {
          expect(decodeMessage(encodeMessage(msg))).toEqual(msg);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('random bytes never throw anything but WireError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        decodesOrWireError(bytes);
      }),
      { numRuns: 5_000 },
    );
  });

  it('100,000 random and mutated frames: only messages or WireErrors, and accepted ones re-encode', () => {
    const r = new SeededRandom('wire-fuzz');
    const outcomes = { ok: 0, refused: 0 };
    for (let i = 0; i < 100_000; i++) {
      let bytes: Uint8Array;
      if (i % 5 === 0) {
        bytes = r.bytes(r.int(200));
      } else {
        bytes = mutate(encodeMessage(sampleMessage(types[r.int(types.length)]!, r)), r);
      }
      const outcome = decodesOrWireError(bytes);
      outcomes[outcome]++;
      if (outcome === 'ok') encodeMessage(decodeMessage(bytes));
    }
    // Both branches must be exercised for the fuzz to mean anything.
    expect(outcomes.refused).toBeGreaterThan(10_000);
    expect(outcomes.ok).toBeGreaterThan(1_000);
  });
});
