/**
 * Values generated from wire schemas, so every message type — including those added later —
 * is covered by the round-trip and fuzz tests without listing fields by hand.
 */
import fc from 'fast-check';
import type { SeededRandom } from '../../lib/time/random.ts';
import type { Schema, SchemaDesc } from '../../lib/wire/schema.ts';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-';

function textFor(desc: Extract<SchemaDesc, { kind: 'text' }>, chars: string[]): string {
  return chars.join('').slice(0, desc.max).padEnd(desc.min, 'a');
}

/** A fast-check arbitrary producing values the schema accepts. */
export function arbitraryOf(schema: Schema<unknown>): fc.Arbitrary<unknown> {
  const d = schema.desc;
  switch (d.kind) {
    case 'int':
      return fc.integer({
        min: Math.max(d.min, Number.MIN_SAFE_INTEGER),
        max: Math.min(d.max, Number.MAX_SAFE_INTEGER),
      });
    case 'float':
      return fc.double({ min: d.min, max: d.max, noNaN: true, noDefaultInfinity: true });
    case 'bool':
      return fc.boolean();
    case 'bytes':
      return fc.uint8Array({ minLength: d.min, maxLength: Math.min(d.max, 256) });
    case 'text': {
      // Patterned fields get [A-Za-z0-9._-]; free text also gets multi-byte UTF-8.
      const charset = d.pattern ? fc.constantFrom(...ALNUM) : fc.constantFrom(...ALNUM, ' ', 'é', '✓', '日');
      return fc
        .array(charset, { minLength: d.min, maxLength: Math.min(d.max, 40) })
        .map((cs) => textFor(d, cs));
    }
    case 'enum':
      return fc.constantFrom(...d.values);
    case 'array':
      return fc.array(arbitraryOf(d.item), { maxLength: Math.min(d.max, 8) });
    case 'dict':
      return fc
        .uniqueArray(fc.tuple(arbitraryOf(d.key), arbitraryOf(d.value)), {
          maxLength: Math.min(d.max, 6),
          selector: ([k]) => k,
        })
        .map((entries) => Object.fromEntries(entries));
    case 'struct': {
      const req = Object.fromEntries(Object.entries(d.required).map(([k, s]) => [k, arbitraryOf(s)]));
      const opt = Object.fromEntries(Object.entries(d.optional).map(([k, s]) => [k, arbitraryOf(s)]));
      return fc.record({ ...req, ...opt }, { requiredKeys: Object.keys(req) });
    }
    case 'custom':
      return fc.array(
        fc.record({
          b: fc.uint8Array({ minLength: 1, maxLength: 80 }),
          s: fc.uint8Array({ minLength: 64, maxLength: 64 }),
        }),
        {
          maxLength: Math.min(d.max, 6),
        },
      );
    case 'tagged':
      return fc.oneof(
        ...Object.entries(d.variants).map(([name, s]) =>
          arbitraryOf(s).map((body) => ({ [d.tag]: name, ...(body as object) })),
        ),
      );
  }
}

/** The same idea with a seeded PRNG, for the long deterministic fuzz loops. */
export function sampleOf(schema: Schema<unknown>, r: SeededRandom): unknown {
  const d = schema.desc;
  const small = (max: number) => r.int(Math.min(max, 8) + 1);
  switch (d.kind) {
    case 'int': {
      const span = Math.min(d.max, 2 ** 40) - Math.max(d.min, -(2 ** 40));
      return Math.max(d.min, -(2 ** 40)) + Math.floor(r.next() * (span + 1));
    }
    case 'float':
      return d.min + r.next() * (d.max - d.min);
    case 'bool':
      return r.next() < 0.5;
    case 'bytes':
      return r.bytes(d.min + r.int(Math.min(d.max, Math.max(d.min, 64)) - d.min + 1));
    case 'text': {
      const len = d.min + r.int(Math.min(d.max, 24) - d.min + 1);
      let s = '';
      for (let i = 0; i < len; i++) s += ALNUM[r.int(ALNUM.length)];
      return s;
    }
    case 'enum':
      return d.values[r.int(d.values.length)];
    case 'array':
      return Array.from({ length: small(d.max) }, () => sampleOf(d.item, r));
    case 'dict': {
      const out: Record<string, unknown> = {};
      for (let i = small(d.max); i > 0; i--) out[sampleOf(d.key, r) as string] = sampleOf(d.value, r);
      return out;
    }
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(d.required)) out[k] = sampleOf(s, r);
      for (const [k, s] of Object.entries(d.optional)) if (r.next() < 0.5) out[k] = sampleOf(s, r);
      return out;
    }
    case 'custom':
      return Array.from({ length: small(d.max) }, () => ({ b: r.bytes(1 + r.int(80)), s: r.bytes(64) }));
    case 'tagged': {
      const names = Object.keys(d.variants);
      const name = names[r.int(names.length)]!;
      return { [d.tag]: name, ...(sampleOf(d.variants[name]!, r) as object) };
    }
  }
}
