/** Why the simulator refused a call (`SimError.code`): a mistake in the scenario driving it. */
export type SimErrorCode =
  /** A transport was asked of a host that is down (crashed, not restarted). */
  | 'host-down'
  /** addHost() with an address already taken. */
  | 'duplicate-host';

export class SimError extends Error {
  override name = 'SimError';
  readonly code: SimErrorCode;
  constructor(code: SimErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
