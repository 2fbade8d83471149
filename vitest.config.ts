import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // forks (the default) rather than threads: @roamhq/wrtc crashes worker threads at exit.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
