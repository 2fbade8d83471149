/**
 * npm run bench [name…]: runs the benchmarks and prints their figures. Figures are for
 * reading, never pass/fail. Names: crypto, wire.
 */
import { cryptoBench } from './crypto.bench.ts';
import { wireBench } from './wire.bench.ts';

const benches: Record<string, () => Promise<void>> = { crypto: cryptoBench, wire: wireBench };

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in benches));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
console.log(`weftmesh benchmarks: node ${process.version}, ${new Date().toISOString()}`);
for (const name of wanted.length ? wanted : Object.keys(benches)) await benches[name]!();
