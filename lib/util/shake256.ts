/**
 * SHAKE-256 (FIPS 202): what a node id is derived from (16 bytes of SHAKE-256 of the public
 * key). Keccak-f[1600] with each 64-bit lane as a pair of 32-bit halves (low, high); lanes
 * are little-endian. Small rather than fast: it runs once per public key met. Written here
 * rather than taken from @noble/hashes for the same reason as sha512-js.ts (bundle size);
 * same output as node:crypto for every length tried (test/unit/sha512-shake256.test.ts).
 */

const RATE = 136; // bytes: 1600 bits minus twice the 256-bit security level

/** ι's round constants as (low, high) pairs, from the degree-8 LFSR of FIPS 202 §3.2.5. */
const RC = new Int32Array(48);
/** ρ's rotation of lane x + 5y, and where π moves it. */
const ROT = new Int32Array(25);
const PI = new Int32Array(25);
{
  let r = 1;
  for (let round = 0; round < 24; round++) {
    for (let j = 0; j < 7; j++) {
      const bit = (1 << j) - 1;
      if (r & 1) RC[2 * round + (bit >> 5)]! ^= 1 << (bit & 31);
      r = ((r << 1) ^ ((r >> 7) * 0x71)) & 0xff;
    }
  }
  let x = 1;
  let y = 0;
  for (let t = 0; t < 24; t++) {
    ROT[x + 5 * y] = (((t + 1) * (t + 2)) / 2) % 64;
    [x, y] = [y, (2 * x + 3 * y) % 5];
  }
  for (let x = 0; x < 5; x++) for (let y = 0; y < 5; y++) PI[x + 5 * y] = y + 5 * ((2 * x + 3 * y) % 5);
}

const B = new Int32Array(50);
const C = new Int32Array(10);

/** Lane rotated left by n (0 ≤ n < 64): its low or high half. */
function rotl(lo: number, hi: number, n: number, high: boolean): number {
  // Past 32 the halves swap places: take the other half, rotated by the rest.
  const a = high === n < 32 ? hi : lo;
  const b = high === n < 32 ? lo : hi;
  const m = n & 31;
  return m === 0 ? a : (a << m) | (b >>> (32 - m));
}

function keccakF(s: Int32Array): void {
  for (let round = 0; round < 24; round++) {
    // θ: each lane takes the parities of the columns beside it.
    for (let i = 0; i < 10; i++) C[i] = s[i]! ^ s[i + 10]! ^ s[i + 20]! ^ s[i + 30]! ^ s[i + 40]!;
    for (let x = 0; x < 5; x++) {
      const p = 2 * ((x + 4) % 5);
      const q = 2 * ((x + 1) % 5);
      const dl = C[p]! ^ rotl(C[q]!, C[q + 1]!, 1, false);
      const dh = C[p + 1]! ^ rotl(C[q]!, C[q + 1]!, 1, true);
      for (let y = 0; y < 25; y += 5) {
        s[2 * (x + y)]! ^= dl;
        s[2 * (x + y) + 1]! ^= dh;
      }
    }
    // ρ and π: each lane rotated into its new place.
    for (let i = 0; i < 25; i++) {
      const to = 2 * PI[i]!;
      B[to] = rotl(s[2 * i]!, s[2 * i + 1]!, ROT[i]!, false);
      B[to + 1] = rotl(s[2 * i]!, s[2 * i + 1]!, ROT[i]!, true);
    }
    // χ: the only non-linear step, along each row.
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 5; x++) {
        const a = 2 * (y + x);
        const b = 2 * (y + ((x + 1) % 5));
        const c = 2 * (y + ((x + 2) % 5));
        s[a] = B[a]! ^ (~B[b]! & B[c]!);
        s[a + 1] = B[a + 1]! ^ (~B[b + 1]! & B[c + 1]!);
      }
    }
    // ι
    s[0]! ^= RC[2 * round]!;
    s[1]! ^= RC[2 * round + 1]!;
  }
}

/** XORs byte `v` into byte `i` of the state (lanes little-endian). */
function xorByte(s: Int32Array, i: number, v: number): void {
  s[i >> 2]! ^= v << (8 * (i & 3));
}

/** SHAKE-256 of `data` (never written to): `outLength` bytes, fresh. */
export function shake256(data: Uint8Array, outLength: number): Uint8Array {
  const s = new Int32Array(50);
  let at = 0;
  for (const v of data) {
    xorByte(s, at++, v);
    if (at === RATE) {
      keccakF(s);
      at = 0;
    }
  }
  xorByte(s, at, 0x1f); // SHAKE's domain bits and the first bit of pad10*1
  xorByte(s, RATE - 1, 0x80);
  keccakF(s);
  const out = new Uint8Array(outLength);
  for (let i = 0, j = 0; i < outLength; i++, j++) {
    if (j === RATE) {
      keccakF(s);
      j = 0;
    }
    out[i] = s[j >> 2]! >>> (8 * (j & 3));
  }
  return out;
}
