/** The small checks every option validator uses: a bad setting is a ConfigError naming its field. */
import { ConfigError } from '../membership/config.ts';

export function check(ok: boolean, field: string, rule: string): void {
  if (!ok) throw new ConfigError(`${field} ${rule}`, field);
}

export function positive(v: number | undefined, field: string): void {
  if (v !== undefined) check(Number.isFinite(v) && v > 0, field, 'must be a positive number');
}

export function atLeast(v: number | undefined, min: number, field: string): void {
  if (v !== undefined) check(Number.isInteger(v) && v >= min, field, `must be an integer ≥ ${min}`);
}
