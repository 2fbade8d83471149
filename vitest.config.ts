import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // forks (the default) rather than threads: @roamhq/wrtc crashes worker threads at exit.
    pool: 'forks',
    // One fork per core (vitest's default leaves one core idle: a single fork on two cores).
    // Most files are CPU-bound simulations or wait on child processes (tsc, deno, the CLI).
    maxWorkers: availableParallelism(),
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        // In-process tests share their fork's modules (lib/ keeps no state but memo caches):
        // each file no longer re-imports and re-JITs the library.
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/net/**'],
          isolate: false,
        },
      },
      {
        extends: true,
        // Real sockets, processes and browsers: each file in a fresh fork.
        test: { name: 'net', include: ['test/net/**/*.test.ts'] },
      },
    ],
  },
});
