/**
 * The base of weftmesh's typed errors: `code` is stable and meant to be branched on (each
 * subclass names its codes in a union type); the message is for people and may change.
 */
export class CodedError<C extends string> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
