import { setBounded } from '../util/bounded-map.ts';
import { bytesKey, copyBytes, toHex } from '../util/bytes.ts';
import { CodedError } from '../util/coded-error.ts';
import { shake256 } from '../util/shake256.ts';
import { type ExpandedKey, expandSeed, randomSeed, signExpanded, verifyStrict } from './ed25519.ts';
import {
  type NativeSigner,
  nativeEd25519Available,
  nativeSigner,
  nativeVerify,
  verifySync,
} from './native-ed25519.ts';
import type { Signer } from './signer.ts';
import { webCryptoAvailable, webCryptoSign, webCryptoSigningKey, webCryptoVerify } from './webcrypto.ts';

/** Why key material was refused (`IdentityError.code`). */
export type IdentityErrorCode =
  /** A public key that is not 32 bytes. */
  | 'invalid-public-key'
  /** A secret key (seed) that is not 32 bytes. */
  | 'invalid-secret-key';

/** Thrown for malformed key material given to NodeIdentity or nodeIdOf. */
export class IdentityError extends CodedError<IdentityErrorCode> {
  override name = 'IdentityError';
}

/** Node id: lowercase hex of the first 16 bytes of SHAKE-256 over the raw 32-byte public key. */
export function nodeIdOf(publicKey: Uint8Array): string {
  if (publicKey.length !== 32)
    throw new IdentityError('invalid-public-key', 'an Ed25519 public key is 32 bytes');
  // Every claim received (duplicates too) and every handshake names its key: remember the ids.
  const key = bytesKey(publicKey);
  let id = nodeIds.get(key);
  if (id === undefined) {
    id = toHex(shake256(publicKey, 16));
    setBounded(nodeIds, key, id, NODE_ID_MEMO);
  }
  return id;
}

const nodeIds = new Map<string, string>();
const NODE_ID_MEMO = 4096;

/** A node's Ed25519 key pair and the node id derived from it. */
export class NodeIdentity implements Signer {
  readonly publicKey: Uint8Array;
  readonly nodeId: string;
  readonly #seed: Uint8Array;
  /** node:crypto's signer where the runtime has one (native-ed25519.ts), else the seed expanded for JavaScript. */
  readonly #native: NativeSigner | undefined;
  readonly #expanded: ExpandedKey | undefined;
  #webKey: Promise<CryptoKey | null> | undefined;

  private constructor(seed: Uint8Array) {
    this.#seed = copyBytes(seed);
    this.#native = nativeSigner(this.#seed);
    this.#expanded = this.#native ? undefined : expandSeed(this.#seed);
    this.publicKey = copyBytes(this.#native?.publicKey ?? this.#expanded!.publicKey);
    this.nodeId = nodeIdOf(this.publicKey);
  }

  /** A fresh identity from the platform's cryptographic random source. */
  static generate(): NodeIdentity {
    return new NodeIdentity(randomSeed());
  }

  /** Restore an identity from its 32-byte seed (what exportSecretKey returned). */
  static fromSecretKey(seed: Uint8Array): NodeIdentity {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) {
      throw new IdentityError('invalid-secret-key', 'an Ed25519 secret key (seed) is 32 bytes');
    }
    return new NodeIdentity(seed);
  }

  /** The 32-byte seed, for saving. Treat it like a password. */
  exportSecretKey(): Uint8Array {
    return copyBytes(this.#seed);
  }

  /** Plain RFC 8032 Ed25519 signature over `data` (synchronous: node:crypto where the runtime has it, else pure JavaScript). */
  sign(data: Uint8Array): Uint8Array {
    return this.#native ? this.#native.sign(data) : signExpanded(this.#expanded!, data);
  }

  /** Same signature as sign() (Ed25519 is deterministic), via WebCrypto when the runtime has it. */
  async signAsync(data: Uint8Array): Promise<Uint8Array> {
    if (this.#native) return this.#native.sign(data);
    this.#webKey ??= webCryptoAvailable().then((ok) => (ok ? webCryptoSigningKey(this.#seed) : null));
    const key = await this.#webKey;
    return key ? webCryptoSign(key, data) : this.sign(data);
  }

  verify(data: Uint8Array, signature: Uint8Array): boolean {
    return NodeIdentity.verify(this.publicKey, data, signature);
  }

  /** Strict verification (see ed25519.ts for the rule), synchronous: through node:crypto where the runtime has it. */
  static verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
    return verifySync(publicKey, data, signature);
  }

  /** Same answer as verify(), via WebCrypto when the runtime has it. */
  static async verifyAsync(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (nativeEd25519Available()) return nativeVerify(publicKey, data, signature);
    if (await webCryptoAvailable()) return webCryptoVerify(publicKey, data, signature);
    return verifyStrict(publicKey, data, signature);
  }
}
