/**
 * One signaling instance as a process of its own, for the Redis benchmarks: started with the
 * options given as JSON (argv[2]), prints `listening ws://… <pid>` and runs until killed.
 * Limits the CLI does not expose (connections, joins per second) are set here. On SIGUSR2 it
 * prints `memory {…}` (process.memoryUsage() after a garbage collection).
 */
import { startSignalingServer } from '../signaling/node.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof startSignalingServer>[0];
const running = await startSignalingServer({
  port: 0,
  ...options,
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`listening ${running.url} ${process.pid}\n`);
// SIGUSR2: collect garbage (when started with --expose-gc) and report memory, for per-connection figures.
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write(`memory ${JSON.stringify(process.memoryUsage())}\n`);
});
