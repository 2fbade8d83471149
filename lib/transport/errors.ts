/** Why a link or a dial failed (`TransportError.code`). */
export type TransportErrorCode =
  /** The link closed before what was asked of it happened (e.g. drained()). */
  'closed';

/** A failure of a link or a transport. */
export class TransportError extends Error {
  override name = 'TransportError';
  readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}
