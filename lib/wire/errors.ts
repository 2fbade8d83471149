/** Why a frame was refused. Stable strings: they key the rejected-frame counters. */
export type WireErrorCode =
  /** A frame, string or byte string over its WireLimits bound. */
  | 'too-large'
  /** Not CBOR of weftmesh's subset (truncated, trailing bytes, a non-shortest head, …). */
  | 'malformed'
  /** Nested deeper than WireLimits allows. */
  | 'too-deep'
  /** An array or map with more items than WireLimits allows. */
  | 'too-many-items'
  /** A CBOR form no node sends (indefinite lengths, tags, map keys that are not text, `__proto__`). */
  | 'forbidden'
  /** A map with a key twice. */
  | 'duplicate-key'
  /** A frame of another wire version. */
  | 'bad-version'
  /** A message type this version does not know. */
  | 'unknown-type'
  /** A field missing, unknown, or of the wrong type or range for its schema (`path` names it). */
  | 'invalid-field'
  /** A value this node was asked to send does not fit the schema or the limits. */
  | 'encode-failed';

/** The only error the wire codec throws. Carries a code and, for schema errors, the field path. */
export class WireError extends Error {
  override name = 'WireError';
  readonly code: WireErrorCode;
  readonly path: string | undefined;

  constructor(code: WireErrorCode, message: string, path?: string) {
    super(path ? `${code} at ${path}: ${message}` : `${code}: ${message}`);
    this.code = code;
    this.path = path;
  }
}
