/**
 * Who may join a cluster. The signaling server is not trusted and peer-assisted signaling
 * bypasses it, so every node enforces the policy itself: at link handshake and on every
 * signed claim. Three policies:
 *
 * - open: anyone with a valid Ed25519 key (demos);
 * - allow-list: only the listed public keys;
 * - token: a membership token signed by the cluster's admin key, binding the cluster name,
 *   the member's public key and an optional expiry. Members carry it in their alive claim.
 *
 * Token layout: 2-byte big-endian body length, CBOR body {c: cluster, k: key, e?: unix s},
 * 64-byte Ed25519 signature (domain weftmesh/member-token/v1) by the admin key.
 */

import { setBounded } from '../util/bounded-map.ts';
import { copyBytes, equalBytes, toHex } from '../util/bytes.ts';
import { decodeCbor, encodeCbor } from '../wire/cbor.ts';
import { WireError } from '../wire/errors.ts';
import { verifySync } from './native-ed25519.ts';
import type { NodeIdentity } from './node-identity.ts';
import { signingInput } from './signed.ts';

export const TOKEN_DOMAIN = 'weftmesh/member-token/v1';
export const MAX_TOKEN_BYTES = 256;

export type AdmissionPolicy =
  | { mode: 'open' }
  | { mode: 'allow-list'; keys: Uint8Array[] }
  | { mode: 'token'; adminKey: Uint8Array };

/** Signs a membership token for `memberKey` in `cluster`, valid until `expiresAt` (unix seconds) if given. */
export function issueMembershipToken(
  admin: NodeIdentity,
  cluster: string,
  memberKey: Uint8Array,
  expiresAt?: number,
): Uint8Array {
  const body = encodeCbor(
    expiresAt === undefined ? { c: cluster, k: memberKey } : { c: cluster, k: memberKey, e: expiresAt },
  );
  const sig = admin.sign(signingInput(TOKEN_DOMAIN, body));
  const out = new Uint8Array(2 + body.length + sig.length);
  new DataView(out.buffer).setUint16(0, body.length);
  out.set(body, 2);
  out.set(sig, 2 + body.length);
  return out;
}

interface TokenBody {
  cluster: string;
  key: Uint8Array;
  expiresAt: number | undefined;
  /** The token bytes this body was read from. */
  token: Uint8Array;
}

/** Expiry in unix seconds; a token without one never expires. */
const expiry = (b: TokenBody): number => b.expiresAt ?? Number.POSITIVE_INFINITY;

function readToken(token: Uint8Array, adminKey: Uint8Array): TokenBody | string {
  if (token.length < 2 + 1 + 64 || token.length > MAX_TOKEN_BYTES) return 'malformed token';
  const len = new DataView(token.buffer, token.byteOffset, token.byteLength).getUint16(0);
  if (2 + len + 64 !== token.length) return 'malformed token';
  const body = token.subarray(2, 2 + len);
  if (!verifySync(adminKey, signingInput(TOKEN_DOMAIN, body), token.subarray(2 + len)))
    return 'token not signed by the cluster admin';
  try {
    const v = decodeCbor(body, { maxDepth: 2, maxItems: 8 }) as Record<string, unknown>;
    if (typeof v.c !== 'string' || !(v.k instanceof Uint8Array) || v.k.length !== 32)
      return 'malformed token';
    if (v.e !== undefined && typeof v.e !== 'number') return 'malformed token';
    return { cluster: v.c, key: v.k, expiresAt: v.e as number | undefined, token: copyBytes(token) };
  } catch (e) {
    if (e instanceof WireError) return 'malformed token';
    throw e;
  }
}

/** Applies a policy; memoizes verdicts per key (tokens are checked for expiry every time). */
export class Admission {
  readonly policy: AdmissionPolicy;
  readonly #cluster: string;
  readonly #now: () => number;
  readonly #allowed: Set<string> | undefined;
  readonly #tokens = new Map<string, TokenBody>();

  constructor(policy: AdmissionPolicy, cluster: string, wallNow: () => number) {
    this.policy = policy;
    this.#cluster = cluster;
    this.#now = wallNow;
    this.#allowed = policy.mode === 'allow-list' ? new Set(policy.keys.map(toHex)) : undefined;
  }

  /**
   * A refusal reason, or undefined if `key` (with `token`, for token policies) may join. A
   * token is re-read when it differs from the one remembered for the key, and kept if it
   * expires later: a member renews its membership by announcing a fresh token.
   */
  check(key: Uint8Array, token?: Uint8Array): string | undefined {
    switch (this.policy.mode) {
      case 'open':
        return undefined;
      case 'allow-list':
        return this.#allowed!.has(toHex(key)) ? undefined : 'public key not on the allow-list';
      case 'token': {
        const id = toHex(key);
        let body = this.#tokens.get(id);
        if (token && (!body || !equalBytes(body.token, token))) {
          const read = this.#read(key, token);
          if (typeof read === 'string') {
            if (!body) return read;
          } else if (!body || expiry(read) > expiry(body)) {
            body = read;
            this.#remember(id, body);
          }
        }
        if (!body) return 'a membership token is required';
        return expiry(body) * 1000 < this.#now() ? 'membership token expired' : undefined;
      }
    }
  }

  /** Whether `key` was admitted by a token that has since expired (token policies only). */
  expired(key: Uint8Array): boolean {
    const body = this.policy.mode === 'token' ? this.#tokens.get(toHex(key)) : undefined;
    return body !== undefined && expiry(body) * 1000 < this.#now();
  }

  #read(key: Uint8Array, token: Uint8Array): TokenBody | string {
    const read = readToken(token, (this.policy as { adminKey: Uint8Array }).adminKey);
    if (typeof read === 'string') return read;
    if (read.cluster !== this.#cluster) return 'token is for another cluster';
    if (!equalBytes(read.key, key)) return 'token is for another key';
    return read;
  }

  #remember(id: string, body: TokenBody): void {
    setBounded(this.#tokens, id, body, 65_536);
  }
}
