/**
 * Tiny schema combinators for decoded CBOR. Each schema validates an untrusted value and
 * builds a fresh, typed object from it (unknown keys are refused, bytes become plain
 * Uint8Array). The same schemas check outgoing messages, so a node never sends what its
 * peers would refuse. `desc` describes the schema so tests can generate values from it.
 */
import { plainBytes } from '../util/bytes.ts';
import { WireError } from './errors.ts';

export type SchemaDesc =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'float'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'bytes'; min: number; max: number }
  | { kind: 'text'; min: number; max: number; pattern?: RegExp }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'array'; item: Schema<unknown>; max: number }
  | { kind: 'dict'; key: Schema<string>; value: Schema<unknown>; max: number }
  | { kind: 'struct'; required: Record<string, Schema<unknown>>; optional: Record<string, Schema<unknown>> }
  | { kind: 'tagged'; tag: string; variants: Record<string, Schema<object>> }
  | { kind: 'custom'; name: string; max: number };

export interface Schema<T> {
  readonly desc: SchemaDesc;
  /** Validates a decoded (wire) value and builds the typed value. Throws WireError. */
  parse(value: unknown, path: string): T;
  /** The wire value for a typed value (most schemas: the value itself). */
  lower(value: T): unknown;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

const same = <T>(v: T): unknown => v;

export function bad(path: string, what: string): never {
  throw new WireError('invalid-field', what, path || '(root)');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function int(min: number, max: number): Schema<number> {
  return {
    desc: { kind: 'int', min, max },
    lower: same,
    parse(v, path) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
        bad(path, `expected an integer in [${min}, ${max}]`);
      }
      return v;
    },
  };
}

export const uint = (max = Number.MAX_SAFE_INTEGER): Schema<number> => int(0, max);
export const u32 = uint(0xffffffff);

export function float(min: number, max: number): Schema<number> {
  return {
    desc: { kind: 'float', min, max },
    lower: same,
    parse(v, path) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
        bad(path, `expected a finite number in [${min}, ${max}]`);
      }
      return v;
    },
  };
}

export const bool: Schema<boolean> = {
  desc: { kind: 'bool' },
  lower: same,
  parse(v, path) {
    if (typeof v !== 'boolean') bad(path, 'expected a boolean');
    return v;
  },
};

export function bytes(min: number, max = min): Schema<Uint8Array> {
  return {
    desc: { kind: 'bytes', min, max },
    lower: same,
    parse(v, path) {
      if (!(v instanceof Uint8Array) || v.length < min || v.length > max) {
        bad(path, min === max ? `expected ${min} bytes` : `expected ${min}..${max} bytes`);
      }
      return plainBytes(v);
    },
  };
}

export function text(min: number, max: number, pattern?: RegExp): Schema<string> {
  return {
    desc: pattern ? { kind: 'text', min, max, pattern } : { kind: 'text', min, max },
    lower: same,
    parse(v, path) {
      if (typeof v !== 'string' || v.length < min || v.length > max) {
        bad(path, `expected a string of ${min}..${max} characters`);
      }
      if (pattern && !pattern.test(v)) bad(path, `string does not match ${pattern}`);
      return v;
    },
  };
}

export function oneOf<const V extends string>(values: readonly V[]): Schema<V> {
  return {
    desc: { kind: 'enum', values },
    lower: same,
    parse(v, path) {
      if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
        bad(path, `expected one of ${values.join(', ')}`);
      }
      return v as V;
    },
  };
}

export function array<T>(item: Schema<T>, max: number): Schema<T[]> {
  return {
    desc: { kind: 'array', item, max },
    lower: (v) => v.map((x) => item.lower(x)),
    parse(v, path) {
      if (!Array.isArray(v) || v.length > max) bad(path, `expected an array of at most ${max} items`);
      const out: T[] = new Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] = item.parse(v[i], `${path}[${i}]`);
      return out;
    },
  };
}

/** A string-keyed dictionary (application metadata). Returned with a null prototype. */
export function dict<V>(key: Schema<string>, value: Schema<V>, max: number): Schema<Record<string, V>> {
  return {
    desc: { kind: 'dict', key, value, max },
    lower: (v) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, value.lower(x)])),
    parse(v, path) {
      if (!isPlainObject(v)) bad(path, 'expected a map');
      const entries = Object.entries(v);
      if (entries.length > max) bad(path, `expected at most ${max} entries`);
      const out: Record<string, V> = Object.create(null);
      for (const [k, x] of entries) {
        // Not a key any encoder can carry (it would set the prototype of a plain object).
        if (k === '__proto__') bad(`${path}{key}`, 'the key __proto__ is not allowed');
        out[key.parse(k, `${path}{key}`)] = value.parse(x, `${path}.${k}`);
      }
      return out;
    },
  };
}

export type Shape = Record<string, Schema<unknown>>;
export type Struct<R extends Shape, O extends Shape> = { [K in keyof R]: Infer<R[K]> } & {
  [K in keyof O]?: Infer<O[K]>;
};

/** A map with known keys: all `required` present, `optional` may be absent, nothing else. */
export function struct<R extends Shape, O extends Shape = Record<never, never>>(
  required: R,
  optional?: O,
): Schema<Struct<R, O>> {
  const opt = (optional ?? {}) as O;
  return {
    desc: { kind: 'struct', required, optional: opt },
    lower(v) {
      const out: Record<string, unknown> = {};
      const fields = v as Record<string, unknown>;
      for (const k of Object.keys(fields)) {
        const s = Object.hasOwn(required, k) ? required[k] : Object.hasOwn(opt, k) ? opt[k] : undefined;
        if (s && fields[k] !== undefined) out[k] = s.lower(fields[k]);
        else if (!s) out[k] = fields[k]; // unknown: left for parse() to refuse
      }
      return out;
    },
    parse(v, path) {
      if (!isPlainObject(v)) bad(path, 'expected a map');
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(required)) {
        if (v[k] === undefined) bad(path ? `${path}.${k}` : k, 'missing');
        out[k] = required[k]!.parse(v[k], path ? `${path}.${k}` : k);
      }
      for (const k of Object.keys(v)) {
        if (Object.hasOwn(required, k)) continue;
        const s = Object.hasOwn(opt, k) ? opt[k] : undefined;
        if (!s) bad(path ? `${path}.${k}` : k, 'unknown field');
        if (v[k] === undefined) continue;
        out[k] = s.parse(v[k], path ? `${path}.${k}` : k);
      }
      return out as Struct<R, O>;
    },
  };
}

export type Variants = Record<string, Schema<object>>;
export type Tagged<T extends string, V extends Variants> = {
  [K in keyof V & string]: { [P in T]: K } & Infer<V[K]>;
}[keyof V & string];

/**
 * A map whose `tag` field names which struct the rest of it is (a tagged union). The
 * variant schemas describe the other fields; the tag is checked and kept in the output.
 */
export function tagged<const T extends string, V extends Variants>(
  tag: T,
  variants: V,
): Schema<Tagged<T, V>> {
  return {
    desc: { kind: 'tagged', tag, variants },
    lower(v) {
      const { [tag]: which, ...rest } = v as Record<string, unknown>;
      const variant =
        typeof which === 'string' && Object.hasOwn(variants, which) ? variants[which] : undefined;
      return variant ? { [tag]: which, ...(variant.lower(rest) as object) } : v;
    },
    parse(v, path) {
      if (!isPlainObject(v)) bad(path, 'expected a map');
      const which = v[tag];
      if (typeof which !== 'string' || !Object.hasOwn(variants, which)) {
        bad(path ? `${path}.${tag}` : tag, `expected one of ${Object.keys(variants).join(', ')}`);
      }
      const { [tag]: _tag, ...rest } = v;
      return { [tag]: which, ...variants[which]!.parse(rest, path) } as Tagged<T, V>;
    },
  };
}
