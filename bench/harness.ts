/** Tiny benchmark harness: runs a function for a while, reports operations per second. */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface Rate {
  name: string;
  opsPerSec: number;
  ops: number;
  ms: number;
}

/** Calls `fn` (which performs `batch` operations) until `minMs` has passed. */
export async function rate(
  name: string,
  fn: () => unknown,
  opts: { minMs?: number; batch?: number } = {},
): Promise<Rate> {
  const minMs = opts.minMs ?? 1_000;
  const batch = opts.batch ?? 1;
  for (let i = 0; i < 3; i++) await fn(); // warm-up (JIT, key caches)
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    await fn();
    ops += batch;
    now = performance.now();
  }
  return { name, opsPerSec: (ops * 1000) / (now - start), ops, ms: now - start };
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Prints rows as an aligned text table. */
export function table(title: string, header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: Array<string | number>) =>
    r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

export function rateRows(rates: Rate[]): Array<Array<string | number>> {
  return rates.map((r) => [r.name, r.opsPerSec, r.ops]);
}

/**
 * The whole machine's CPU use from here on (Linux /proc/stat): `busy()` is the share of all
 * cores busy since the call, in % of one core (200 = both cores of a 2-core machine), so
 * a bench can tell a run bound by its own code from one bound by the machine.
 */
export function machineCpu(): { busy(): number } {
  const read = () => {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const n = fields.map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total, idle: n[3]! + n[4]! };
  };
  const start = read();
  const cores = availableParallelism();
  return {
    busy() {
      const now = read();
      const total = now.total - start.total;
      return total > 0 ? (100 * cores * (total - (now.idle - start.idle))) / total : 0;
    },
  };
}
