/** Why the simulator refused a call (`SimError.code`): a mistake in the scenario driving it. */
import { CodedError } from '../util/coded-error.ts';
export type SimErrorCode =
  /** A transport was asked of a host that is down (crashed, not restarted). */
  | 'host-down'
  /** addHost() with an address already taken. */
  | 'duplicate-host';

export class SimError extends CodedError<SimErrorCode> {
  override name = 'SimError';
}
