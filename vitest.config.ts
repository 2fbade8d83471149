import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // forks (the default) rather than threads: @roamhq/wrtc crashes worker threads at exit.
    pool: 'forks',
    // One fork per core (vitest's default leaves one core idle: a single fork on two cores).
    // Most files are CPU-bound simulations or wait on child processes (tsc, deno, the CLI).
    maxWorkers: availableParallelism(),
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
