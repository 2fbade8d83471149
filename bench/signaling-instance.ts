/**
 * One signaling instance as a process of its own, for the Redis benchmarks: started with the
 * options given as JSON (argv[2]), prints `listening ws://… <pid>` and runs until killed.
 * Limits the CLI does not expose (connections, joins per second) are set here.
 */
import { startSignalingServer } from '../signaling/node.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof startSignalingServer>[0];
const running = await startSignalingServer({
  port: 0,
  ...options,
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`listening ${running.url} ${process.pid}\n`);
