export {
  Admission,
  type AdmissionPolicy,
  issueMembershipToken,
  MAX_TOKEN_BYTES,
  TOKEN_DOMAIN,
} from './admission.ts';
export { acceptablePublicKey, hasSmallOrderEncoding, verifyStrict } from './ed25519.ts';
export { IdentityError, type IdentityErrorCode, NodeIdentity, nodeIdOf } from './node-identity.ts';
export { loadOrCreateIdentity } from './persist.ts';
export { Domain, type SignedEnvelope, signEnvelope, signingInput } from './signed.ts';
export type { Signer } from './signer.ts';
export {
  CachedVerifier,
  fastVerifier,
  type MaybePromise,
  type SignatureVerifier,
  strictVerifier,
  type VerificationCacheStats,
  verifyEnvelope,
} from './verifier.ts';
export { webCryptoAvailable } from './webcrypto.ts';
