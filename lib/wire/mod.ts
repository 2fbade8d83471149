export { decodeCbor, encodeCbor } from './cbor.ts';
export type { CborLimits } from './cbor-decode.ts';
export {
  addressesField,
  type ClaimBody,
  claimBody,
  claimList,
  decodeClaimBody,
  MAX_CLAIM_BODY_BYTES,
  metaField,
  type WireClaim,
} from './claims.ts';
export { DEFAULT_WIRE_LIMITS, decodeMessage, encodeMessage, type WireLimits } from './codec.ts';
export {
  decodeEntryBody,
  type EntryBody,
  entryBody,
  entryList,
  MAX_ENTRY_BODY_BYTES,
  MAX_ENTRY_VALUE_BYTES,
  STATE_TABLES,
  type StateTable,
} from './entries.ts';
export { WireError, type WireErrorCode } from './errors.ts';
export {
  DIGEST_PAGE_BYTES,
  type Message,
  type MessageOf,
  type MessageType,
  registry,
  WIRE_VERSION,
} from './messages.ts';
export * as schema from './schema.ts';
