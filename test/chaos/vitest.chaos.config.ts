/**
 * The crash-safety suite (`npm run test:chaos`, and `npm test` after the
 * main suite): runs the compiled gateway as separate processes and kills
 * them, so it needs `dist/` (scripts/run.mjs builds it first) and minutes,
 * not seconds. It starts its own Redis: no global setup.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One rollout at a time: two would share the box's two cores and each other's timing.
    fileParallelism: false,
  },
});
