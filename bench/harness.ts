/** Tiny benchmark harness: runs a function for a while, reports operations per second. */

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
