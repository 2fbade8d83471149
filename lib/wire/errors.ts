/** Why a frame was refused. Stable strings: they key the rejected-frame counters. */
export type WireErrorCode =
  | 'too-large'
  | 'malformed'
  | 'too-deep'
  | 'too-many-items'
  | 'forbidden'
  | 'duplicate-key'
  | 'bad-version'
  | 'unknown-type'
  | 'invalid-field'
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
