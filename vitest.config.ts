import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: more forks only thrash.
    maxWorkers: 2,
    reporters: ['default', './test/support/plain-summary.ts'],
  },
});
