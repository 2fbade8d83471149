// lib/wire/cbor.ts replaced cbor-x (issue 11, size budget). Signed bodies are signed over
// their encoded bytes and nodes running the cbor-x codec read new frames, so: new bytes equal
// cbor-x's for every value weftmesh encodes (every wire schema, claim/entry/token bodies,
// state values), and the single-pass decoder accepts exactly what the cbor-x pipeline (strict
// scan, then cbor-x) accepted, refuses the rest with the same WireError code, and returns
// equal values. test/support/legacy-cbor.ts is that pipeline, verbatim.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeProcess, encodeService, ProcessStatus, ServiceHealth } from '../../lib/state/values.ts';
import { SeededRandom } from '../../lib/time/random.ts';
import { type CborLimits, decodeCbor, encodeCbor, withCborBytes } from '../../lib/wire/cbor.ts';
import { metaField } from '../../lib/wire/claims.ts';
import {
  claimBody,
  encodeMessage,
  entryBody,
  type MessageType,
  registry,
  WIRE_VERSION,
  WireError,
} from '../../lib/wire/mod.ts';
import type { Schema } from '../../lib/wire/schema.ts';
import { mutate } from '../support/fuzz.ts';
import { legacyDecodeCbor, legacyEncodeCbor } from '../support/legacy-cbor.ts';
import { arbitraryOf } from '../support/schema-gen.ts';

const WIRE: CborLimits = { maxDepth: 16, maxItems: 4096 };
/** Bytes compared as hex: fast on large frames, and a readable diff. */
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

type Outcome = { value: unknown } | { refused: string } | { cborXRefused: string };

/** The outcome of decoding with either pipeline: a value, or the WireError code. */
function outcome(
  decode: (b: Uint8Array, l: CborLimits) => unknown,
  bytes: Uint8Array,
  l: CborLimits,
): Outcome {
  try {
    return { value: decode(bytes, l) };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return e.message.includes('cbor-x:') ? { cborXRefused: e.message } : { refused: e.code };
  }
}

/**
 * The new decoder's verdict equals the old pipeline's. One known exception: cbor-x's native
 * string extractor misreads a text string with a 64-bit length head after a non-ASCII one
 * ("Unexpected end of buffer reading string") although the bytes are valid and the scan
 * accepted them. No encoder writes such heads; the new decoder reads them, and its value
 * must then be what cbor-x reads from the shortest encoding of that value.
 */
function sameVerdict(bytes: Uint8Array, l: CborLimits): Outcome {
  const mine = outcome(decodeCbor, bytes, l);
  const old = outcome(legacyDecodeCbor, bytes, l);
  if ('cborXRefused' in old && 'value' in mine) {
    expect(old.cborXRefused).toContain('reading string');
    expect(legacyDecodeCbor(legacyEncodeCbor(mine.value), WIRE)).toEqual(mine.value);
  } else {
    expect(mine).toEqual(old);
  }
  return mine;
}

/** Same bytes as cbor-x, and both decoders read them back as the same value. */
function sameAsCborX(value: unknown): Uint8Array {
  const bytes = encodeCbor(value);
  expect(hex(bytes)).toBe(hex(legacyEncodeCbor(value)));
  expect(decodeCbor(bytes, WIRE)).toEqual(legacyDecodeCbor(bytes, WIRE));
  return bytes;
}

/** Values of the CBOR subset, with the integer and head-size boundaries cbor-x switches at. */
const boundaries = [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32];
const number = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(...boundaries, ...boundaries.map((n) => -n - 1), ...boundaries.map((n) => -n), -0),
  fc.double(),
  fc.float().map(Math.fround),
  fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }), // wall-clock ms
);
const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 80 }), // multi-byte and astral, well-formed
  fc.string({ unit: 'binary', minLength: 20, maxLength: 300 }),
);
const leaf = fc.oneof(number, text, fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 300 }));
const { value: subsetValue } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  map: fc.dictionary(
    text.filter((k) => k !== '__proto__'),
    tie('value'),
    { maxKeys: 6 },
  ),
}));

describe('cbor codec: encoding is byte-identical to cbor-x', () => {
  for (const type of Object.keys(registry) as MessageType[]) {
    it(`${type}: the frame equals cbor-x's, and both decoders read it alike`, () => {
      const entry = registry[type];
      fc.assert(
        fc.property(arbitraryOf(entry.body), (body) => {
          const frame = encodeMessage({ type, ...(body as object) } as never);
          const wire = (entry.body as Schema<unknown>).lower(body);
          expect(hex(frame)).toBe(hex(legacyEncodeCbor([WIRE_VERSION, entry.code, wire])));
          expect(decodeCbor(frame, WIRE)).toEqual(legacyDecodeCbor(frame, WIRE));
        }),
        { numRuns: 200 },
      );
    });
  }

  it('claim bodies (every kind) and state entry bodies, as signClaim and signEntry encode them', () => {
    for (const schema of [claimBody, entryBody] as Schema<unknown>[]) {
      fc.assert(
        fc.property(arbitraryOf(schema), (body) => {
          sameAsCborX(schema.parse(body, 'body'));
        }),
        { numRuns: 1_000 },
      );
    }
  });

  it('membership token bodies, with and without expiry (integer or not)', () => {
    const token = fc.record(
      {
        c: fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
        k: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        e: fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.double({ min: 0, max: 1e12, noNaN: true })),
      },
      { requiredKeys: ['c', 'k'] },
    );
    fc.assert(
      fc.property(token, (t) => void sameAsCborX(t)),
      { numRuns: 1_000 },
    );
  });

  it('process and service values (state table values): re-encoded by cbor-x to the same bytes', () => {
    const float = fc.double({ min: 0, max: 1e6, noNaN: true });
    const processFields = fc.record({
      agentType: fc.string({ minLength: 1, maxLength: 64 }),
      capabilities: fc.array(fc.string({ minLength: 1, maxLength: 64 }), { maxLength: 32 }),
      status: fc.constantFrom(...Object.values(ProcessStatus)),
      resourceSummary: fc.record({ cpu: float, memory: float, load: float }, { requiredKeys: [] }),
    });
    const serviceFields = fc.record({
      endpoint: fc.string({ maxLength: 512 }),
      health: fc.constantFrom(...Object.values(ServiceHealth)),
      metadata: fc.dictionary(
        fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/).filter((k) => k !== '__proto__'),
        fc.string({ maxLength: 256 }),
        { maxKeys: 16 },
      ),
    });
    const reencoded = (bytes: Uint8Array) =>
      expect(hex(legacyEncodeCbor(legacyDecodeCbor(bytes, WIRE)))).toBe(hex(bytes));
    fc.assert(
      fc.property(processFields, (p) => void reencoded(encodeProcess(p))),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(serviceFields, (s) => void reencoded(encodeService(s))),
      { numRuns: 500 },
    );
  });

  it('any value of the subset: integers, floats, text, bytes, arrays, maps, booleans, null', () => {
    fc.assert(
      fc.property(subsetValue, (v) => void sameAsCborX(v)),
      { numRuns: 1_500 },
    );
  });

  it('head sizes and number forms at every boundary', () => {
    for (const n of boundaries) for (const v of [n, -n, -n - 1, n + 0.5]) sameAsCborX(v);
    for (const v of [Number.NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 1e300, 5e-324]) sameAsCborX(v);
    for (const len of [0, 23, 24, 31, 32, 47, 48, 63, 64, 255, 256, 65_535, 65_536, 70_000]) {
      sameAsCborX('x'.repeat(len));
      sameAsCborX('é'.repeat(len)); // bytes outgrow the head guessed from the length
      sameAsCborX(new Uint8Array(len));
      sameAsCborX(Array.from({ length: Math.min(len, 300) }, (_, i) => i));
    }
    // A map with more entries than a one-byte head holds, and a frame past the 8 KiB scratch.
    sameAsCborX(Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, i])));
    expect(encodeCbor({ big: new Uint8Array(200_000) }).length).toBe(200_000 + 4 + 1 + 5);
  });

  it('a Buffer encodes as the byte string it holds; the result is a plain, unshared Uint8Array', () => {
    const frame = Buffer.from('00112233445566778899', 'hex');
    const view = frame.subarray(3, 7);
    expect(encodeCbor({ b: view })).toEqual(legacyEncodeCbor({ b: view }));
    const a = encodeCbor([1, 2]);
    const b = encodeCbor([3, 4]);
    expect(a.constructor).toBe(Uint8Array);
    expect(a.buffer).not.toBe(b.buffer);
    expect(a.byteLength).toBe(a.buffer.byteLength);
  });

  it('a lone surrogate becomes U+FFFD (cbor-x wrote invalid UTF-8 below 64 characters, which no node accepts)', () => {
    for (const s of ['\ud800', 'a\udc00b', 'x'.repeat(70) + '\ud83d']) {
      const bytes = encodeCbor(s);
      const utf8 = new TextEncoder().encode(s.replace(/[\ud800-\udfff]/g, '\ufffd'));
      expect(bytes.subarray(bytes.length - utf8.length)).toEqual(utf8);
      expect(decodeCbor(bytes, WIRE)).toBe(s.replace(/[\ud800-\udfff]/g, '\ufffd'));
    }
    expect(encodeCbor('x'.repeat(70) + '\ud83d')).toEqual(legacyEncodeCbor('x'.repeat(70) + '\ud83d'));
    expect(outcome(legacyDecodeCbor, legacyEncodeCbor('\ud800'), WIRE)).toEqual({ refused: 'malformed' });
  });

  it('metadata keyed __proto__ is refused by its schema, where cbor-x wrote bytes every node refused', () => {
    const metadata = JSON.parse('{"__proto__": "x"}');
    expect(() => encodeService({ endpoint: 'e', health: 'Healthy', metadata })).toThrow(
      /invalid-field at service.m\{key\}: the key __proto__ is not allowed/,
    );
    expect(outcome(legacyDecodeCbor, legacyEncodeCbor({ m: metadata }), WIRE)).toEqual({
      refused: 'forbidden',
    });
    expect(() => metaField.parse(metadata, 'claim.m')).toThrow(/__proto__ is not allowed/);
  });

  it('refuses what no node decodes: undefined, bigint, functions, Maps, Dates, class instances, __proto__ keys, cycles', () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    class Point {
      x = 1;
    }
    const proto = JSON.parse('{"__proto__": 1}');
    for (const v of [
      undefined,
      [1, undefined],
      { a: undefined },
      1n,
      () => 1,
      Symbol('s'),
      new Map(),
      new Date(0),
      new Point(),
      new Uint16Array(2),
      proto,
      cyclic,
    ]) {
      expect(() => encodeCbor(v), String(v)).toThrow(WireError);
      try {
        encodeCbor(v);
      } catch (e) {
        expect((e as WireError).code).toBe('encode-failed');
      }
    }
  });

  it('an encode nested in another (a getter) leaves the outer bytes intact', () => {
    const inner = { x: 'y'.repeat(10_000) };
    const outer = {
      get a() {
        return encodeCbor(inner);
      },
      b: 'after',
    };
    expect(encodeCbor(outer)).toEqual(legacyEncodeCbor({ a: legacyEncodeCbor(inner), b: 'after' }));
  });
});

// ---- decoding: the same verdicts and values as the cbor-x pipeline, on hostile bytes ----

const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** An item head with the argument in a chosen width (non-shortest forms included). */
function head(major: number, n: number, width: number): Uint8Array {
  const m = major << 5;
  if (width === 0 && n < 24) return Uint8Array.of(m | n);
  if (width <= 1 && n < 0x100) return Uint8Array.of(m | 24, n);
  if (width <= 2 && n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  if (width <= 4) {
    const b = new Uint8Array(5);
    b[0] = m | 26;
    new DataView(b.buffer).setUint32(1, n);
    return b;
  }
  const b = new Uint8Array(9);
  b[0] = m | 27;
  new DataView(b.buffer).setBigUint64(1, BigInt(n));
  return b;
}

const width = fc.constantFrom(0, 0, 0, 1, 2, 4, 8);
const utf8 = (s: string) => new TextEncoder().encode(s);
/** Keys from a small set, so maps get duplicates; some exotic, some not text at all. */
const keyItem = fc
  .oneof(
    {
      weight: 8,
      arbitrary: fc.tuple(fc.constantFrom('a', 'b', 'k', 'é', 'constructor', '__proto__', ''), width),
    },
    { weight: 1, arbitrary: fc.tuple(fc.string({ unit: 'binary', maxLength: 40 }), width) },
  )
  .map(([k, w]) => cat(head(3, utf8(k).length, w), utf8(k)));
const rawLeaf = fc.oneof(
  fc.tuple(fc.constantFrom(0, 1), fc.oneof(fc.nat(30), fc.nat()), width).map(([m, n, w]) => head(m, n, w)),
  fc
    .tuple(fc.constantFrom(0x1b, 0x3b), fc.uint8Array({ minLength: 8, maxLength: 8 }))
    .map(([h, b]) => cat(Uint8Array.of(h), b)),
  fc.tuple(fc.uint8Array({ maxLength: 40 }), width).map(([b, w]) => cat(head(2, b.length, w), b)),
  fc
    .tuple(fc.string({ unit: 'binary', maxLength: 80 }), width)
    .map(([s, w]) => cat(head(3, utf8(s).length, w), utf8(s))),
  fc.uint8Array({ maxLength: 8 }).map((b) => cat(head(3, b.length, 0), b)), // often invalid UTF-8
  fc
    .tuple(fc.constantFrom(0xf9, 0xfa, 0xfb), fc.uint8Array({ minLength: 8, maxLength: 8 }))
    .map(([h, b]) => cat(Uint8Array.of(h), b.subarray(0, 1 << (h - 0xf8)))),
  fc.integer({ min: 0xe0, max: 0xff }).map((h) => Uint8Array.of(h)), // simple values, break
  fc.tuple(fc.integer({ min: 0xc0, max: 0xdb }), fc.nat(255)).map(([h, n]) => Uint8Array.of(h, n, 0)), // tags
  fc.constantFrom(0x1c, 0x3d, 0x5e, 0x7f, 0x9f, 0xbf, 0x5f).map((h) => Uint8Array.of(h, 0xff)), // reserved, indefinite
);
const { item: rawItem } = fc.letrec((tie) => ({
  item: fc.oneof({ depthSize: 'small' }, rawLeaf, tie('array'), tie('map')),
  array: fc
    .tuple(fc.array(tie('item'), { maxLength: 6 }), width)
    .map(([items, w]) => cat(head(4, items.length, w), ...(items as Uint8Array[]))),
  map: fc
    .tuple(fc.array(fc.tuple(keyItem, tie('item')), { maxLength: 6 }), width)
    .map(([entries, w]) => cat(head(5, entries.length, w), ...entries.flat(1).map((b) => b as Uint8Array))),
}));
/** Items, then cut short, extended, or claiming more entries than follow. */
const rawFrame = fc.oneof(
  { weight: 4, arbitrary: rawItem as fc.Arbitrary<Uint8Array> },
  {
    weight: 1,
    arbitrary: fc
      .tuple(rawItem as fc.Arbitrary<Uint8Array>, fc.nat())
      .map(([b, n]) => b.subarray(0, n % (b.length + 1))),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(rawItem as fc.Arbitrary<Uint8Array>, fc.uint8Array({ minLength: 1, maxLength: 4 }))
      .map(([b, extra]) => cat(b, extra)),
  },
);
const limits = fc.record({
  maxDepth: fc.integer({ min: 0, max: 5 }),
  maxItems: fc.integer({ min: 0, max: 8 }),
});

describe('cbor codec: strict decoding, as the cbor-x pipeline decoded', () => {
  it('generated items (non-shortest heads, 64-bit integers, floats, tags, duplicates, bad UTF-8, truncation): same verdict and value', () => {
    fc.assert(
      fc.property(rawFrame, limits, (bytes, l) => void sameVerdict(bytes, l)),
      { numRuns: 10_000 },
    );
  });

  // 10,000 reach every block of lib/wire and of the legacy pipeline that 50,000 reached
  // (V8 block coverage, compared run against run): the rest was time, not coverage.
  it('10,000 random and mutated encodings: same verdict and value', () => {
    const r = new SeededRandom('cbor-codec');
    const samples = fc.sample(subsetValue, { numRuns: 200, seed: 11 }).map((v) => encodeCbor(v));
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      const bytes = i % 5 === 0 ? r.bytes(r.int(64)) : mutate(samples[r.int(samples.length)]!, r);
      const l = { maxDepth: 1 + r.int(6), maxItems: r.int(300) };
      if ('value' in sameVerdict(bytes, l)) accepted++;
    }
    expect(accepted).toBeGreaterThan(500);
  });

  it('every rule of the scan, by its code', () => {
    const code = (hex: string, l: CborLimits = WIRE) => outcome(decodeCbor, Buffer.from(hex, 'hex'), l);
    expect(code('')).toEqual({ refused: 'malformed' }); // truncated
    expect(code('0001')).toEqual({ refused: 'malformed' }); // trailing bytes
    expect(code('c100')).toEqual({ refused: 'forbidden' }); // tag
    expect(code('9fff')).toEqual({ refused: 'forbidden' }); // indefinite array
    expect(code('7f60ff')).toEqual({ refused: 'forbidden' }); // indefinite text
    expect(code('1c')).toEqual({ refused: 'malformed' }); // reserved additional info
    expect(code('f7')).toEqual({ refused: 'forbidden' }); // undefined
    expect(code('f800')).toEqual({ refused: 'forbidden' }); // one-byte simple value
    expect(code('ff')).toEqual({ refused: 'forbidden' }); // break outside an indefinite item
    expect(code('a10101')).toEqual({ refused: 'forbidden' }); // integer key
    expect(code('a2616101616102')).toEqual({ refused: 'duplicate-key' });
    expect(code('a2617801781878')).toEqual({ refused: 'malformed' }); // truncated long key
    expect(code('a1695f5f70726f746f5f5f01')).toEqual({ refused: 'forbidden' }); // __proto__
    expect(code('62c328')).toEqual({ refused: 'malformed' }); // invalid UTF-8
    expect(code('a162c32801')).toEqual({ refused: 'malformed' }); // invalid UTF-8 key
    expect(code('9a7fffffff')).toEqual({ refused: 'too-many-items' });
    expect(code('99000500', { maxDepth: 4, maxItems: 8 })).toEqual({ refused: 'malformed' }); // truncated collection
    expect(code('8181818100', { maxDepth: 3, maxItems: 8 })).toEqual({ refused: 'too-deep' });
    expect(code('5b0020000000000000')).toEqual({ refused: 'malformed' }); // a length past 2^53
    expect(code('a0', { maxDepth: 0, maxItems: 0 })).toEqual({ refused: 'too-deep' });
    expect(code('8181818100', { maxDepth: 4, maxItems: 1 })).toEqual({ value: [[[[0]]]] });
  });

  it('values: integers up to 64-bit heads, half/single/double floats, text kept as sent (a leading U+FEFF too)', () => {
    const value = (hex: string) => decodeCbor(Buffer.from(hex, 'hex'), WIRE);
    expect(value('1b0000000000000005')).toBe(5n); // what cbor-x returned: no schema takes it
    expect(value('3bffffffffffffffff')).toBe(-(2n ** 64n));
    expect(value('3a7fffffff')).toBe(-(2 ** 31));
    expect(value('f93c00')).toBe(1);
    expect(value('f97bff')).toBe(65_504);
    expect(value('f90001')).toBe(2 ** -24);
    expect(value('f98000')).toBe(-0);
    expect(value('f97e00')).toBeNaN();
    expect(value('fa3fc00000')).toBe(1.5);
    expect(value('fb3ff8000000000000')).toBe(1.5);
    expect(value('64efbbbf61')).toBe('\ufeffa');
    expect(value('a264efbbbf610161610f')).toEqual({ '\ufeffa': 1, a: 15 }); // two keys, not a duplicate
    const big = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]));
    expect(Object.getPrototypeOf(decodeCbor(encodeCbor(big), WIRE))).toBe(null); // built faster
    expect(Object.getPrototypeOf(value('a0'))).toBe(Object.prototype);
  });

  it('byte strings are views into the input, not copies', () => {
    const frame = new Uint8Array([0xff, 0x82, 0x43, 1, 2, 3, 0x40]).subarray(1);
    const [b, empty] = decodeCbor(frame, WIRE) as Uint8Array[];
    expect(b).toEqual(Uint8Array.of(1, 2, 3));
    expect(b!.buffer).toBe(frame.buffer);
    expect(b!.byteOffset).toBe(3);
    expect(empty!.length).toBe(0);
  });

  it('nesting deeper than the stack, under a huge maxDepth, is a WireError', () => {
    const deep = new Uint8Array(1_000_001).fill(0x81);
    deep[1_000_000] = 0;
    expect(outcome(decodeCbor, deep, { maxDepth: 2_000_000, maxItems: 1 })).toEqual({ refused: 'too-deep' });
  });
});

describe('withCborBytes', () => {
  it('hands over the prefix and the encoding, as encodeCbor writes it, and leaves the scratch unharmed', () => {
    const prefix = new TextEncoder().encode('tag\0');
    const values: unknown[] = [
      [new Uint8Array(300).fill(7), 2 ** 32, -1, 'kind', null],
      'x'.repeat(70_000),
      {},
    ];
    for (const value of values) {
      const seen = withCborBytes(prefix, value, (b) => {
        // An encoding inside `use` writes after these bytes: they stay as they are.
        const inner = encodeCbor(['inner', new Uint8Array(20_000)]);
        expect(decodeCbor(inner, WIRE)).toEqual(['inner', new Uint8Array(20_000)]);
        return Uint8Array.from(b);
      });
      expect(seen).toEqual(Uint8Array.from([...prefix, ...encodeCbor(value)]));
    }
    expect(encodeCbor([1, 'a'])).toEqual(Uint8Array.from([0x82, 0x01, 0x61, 0x61]));
  });

  it('refuses what encodeCbor refuses, and passes what `use` throws through unchanged', () => {
    expect(() => withCborBytes(new Uint8Array(1), [undefined], () => 0)).toThrow(/cannot encode undefined/);
    const mine = new RangeError('from use');
    expect(() =>
      withCborBytes(new Uint8Array(1), 1, () => {
        throw mine;
      }),
    ).toThrow(mine);
    expect(encodeCbor('after')).toEqual(Uint8Array.from([0x65, ...new TextEncoder().encode('after')]));
  });
});
