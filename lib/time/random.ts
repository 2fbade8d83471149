import type { Random } from './types.ts';

/** splitmix32: expands one seed into well-mixed 32-bit words (seeding xoshiro). */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Folds any seed (number or string) to 32 bits, deterministically. */
function seedWord(seed: number | string): number {
  if (typeof seed === 'number') {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    return (lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0;
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** xoshiro128**: small, fast, good statistical quality; not cryptographic. */
export class SeededRandom implements Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number | string) {
    const mix = splitmix32(seedWord(seed));
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix();
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** Next 32-bit unsigned word. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }

  next(): number {
    return this.nextU32() / 2 ** 32;
  }

  int(n: number): number {
    return below(this.next(), n);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      let w = this.nextU32();
      for (let j = i; j < Math.min(n, i + 4); j++) {
        out[j] = w & 0xff;
        w >>>= 8;
      }
    }
    return out;
  }

  fork(): SeededRandom {
    return new SeededRandom(this.nextU32() * 2 ** 21 + (this.nextU32() >>> 11));
  }
}

/** An integer in [0, n) from a draw in [0, 1). */
function below(draw: number, n: number): number {
  if (!(n > 0)) throw new RangeError('Random.int needs n > 0');
  return Math.floor(draw * n);
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Production randomness, all from the CSPRNG: choices too (probe order, witnesses, eviction
 * victims, backoff jitter), so no peer can predict them from what it observes, as it could
 * a seeded PRNG's. Words are drawn 64 at a time (one getRandomValues call per 64 choices).
 */
export class CryptoRandom implements Random {
  readonly #words = new Uint32Array(64);
  #used = 64;

  next(): number {
    if (this.#used === 64) {
      crypto.getRandomValues(this.#words);
      this.#used = 0;
    }
    return this.#words[this.#used++]! / 2 ** 32;
  }

  int(n: number): number {
    return below(this.next(), n);
  }

  bytes(n: number): Uint8Array {
    return crypto.getRandomValues(new Uint8Array(n));
  }

  fork(): CryptoRandom {
    return new CryptoRandom();
  }
}

/** Fisher–Yates, in place, driven by `random`. */
export function shuffle<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}
