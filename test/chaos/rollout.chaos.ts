/**
 * The crash test (support/rollout-run.ts) with one process per role on one
 * Redis: kill -9 of every role, a Redis restart, a database outage.
 */
import { defineChaosRollout } from './support/rollout-run.js';

defineChaosRollout({ devices: 2000, atSeconds: 60, processesPerRole: 1, redis: 'single' });
