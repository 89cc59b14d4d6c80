import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real kernel, real namespaces: a test that hangs must not hold the suite.
    teardownTimeout: 20_000,
    pool: 'forks',
  },
});
