/**
 * The crash test (support/rollout-run.ts) on PostgreSQL with two processes
 * per role (api x2, dm x2 behind a round-robin balancer, worker x2): kill -9
 * of each role's processes in turn, a Redis restart, a database outage, in a
 * fresh schema. Without PostgreSQL it is skipped and says so, except under
 * CI=true, where that is a failure (test/support/postgres.ts).
 */
import { it } from 'vitest';
import { POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';
import { defineChaosRollout } from './support/rollout-run.js';

if (await postgresUrl()) {
  defineChaosRollout({ devices: 1000, atSeconds: 45, processesPerRole: 2, database: 'postgres', redis: 'single' });
} else {
  console.warn(POSTGRES_SKIP_MESSAGE);
  it.skip(`${POSTGRES_SKIP_MESSAGE}: the crash test with two processes per role`, () => undefined);
}
