import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A CLI subcommand. `run` returns the process exit code. */
export interface Command {
  name: string;
  summary: string;
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

export function intFlag(
  value: FlagValues[string],
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = text(value, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
}

export function numberFlag(
  value: FlagValues[string],
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = text(value, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a number in [${min}, ${max}]`);
  return n;
}
