import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // scratch-dir first: the compile cache then lives inside the run's scratch directory too.
    globalSetup: ['test/setup/scratch-dir.ts', 'test/setup/compile-cache.ts'],
  },
});
