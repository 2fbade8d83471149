import { type ParseArgsConfig, parseArgs } from 'node:util';
import { CLUSTER_NAME } from '../lib/wire/fields.ts';

/** A CLI subcommand. `run` returns the process exit code. */
export interface Command {
  name: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad flags; main prints the message and the command's usage, exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

export type FlagValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** node:util parseArgs in strict mode, with errors turned into UsageError. */
export function parseFlags(argv: string[], options: Options): { values: FlagValues } {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    return { values };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function text(value: FlagValues[string], name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new UsageError(`--${name} needs a value`);
  return value;
}

export function stringFlag(value: FlagValues[string], name: string, fallback: string): string {
  return text(value, name) ?? fallback;
}

/** A cluster (and signaling room) name, by the wire's rule. */
export function clusterFlag(value: FlagValues[string], fallback: string): string {
  const cluster = stringFlag(value, 'cluster', fallback);
  if (!CLUSTER_NAME.test(cluster)) throw new UsageError('--cluster: 1..64 of [A-Za-z0-9._-]');
  return cluster;
}

function rangeFlag(
  value: FlagValues[string],
  name: string,
  fallback: number,
  [min, max]: [number, number],
  integer: boolean,
): number {
  const raw = text(value, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!(integer ? Number.isInteger(n) : Number.isFinite(n)) || n < min || n > max)
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
  return n;
}

export function intFlag(
  value: FlagValues[string],
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  return rangeFlag(value, name, fallback, [min, max], true);
}

export function numberFlag(
  value: FlagValues[string],
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  return rangeFlag(value, name, fallback, [min, max], false);
}
