/**
 * The facts a task's run request carries come back with its outcome, from a
 * real DM 1.2 and a real DM 2.0 session (simulated devices over HTTP): the
 * DM servers hand over what the request held in the queue (DM 1.2) or in the
 * session's state (DM 2.0, whose results are applied before the queue is
 * read again), without reading them. On PostgreSQL, the arming's outcome is
 * handled without a SELECT of the task's row.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CommandOutcome } from '../../../src/dm/server/ports.js';
import type { OperationDefinition } from '../../../src/domain/tasks.js';
import type { TestGateway } from '../../support/test-gateway.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { type Dm2Rig, startDm2Rig } from '../../support/dm2-rig.js';
import { postgresUrl } from '../../support/postgres.js';
import { waitFor } from '../../support/wait.js';

const SSE: OperationDefinition = { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime: '2099-01-01T00:00:00Z', commands: [] };
const QUERY: OperationDefinition = { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] };

/** A PostgreSQL statement as node-pg is given it. */
type PgQuery = { text: string; values?: unknown[] };

/**
 * Runs the operation on the device and returns its run request's outcome as the broker was handed it,
 * once the broker has handled it; on PostgreSQL also how many times the task's row was read meanwhile
 * (from doOperation on: nothing else of this flow reads it by itself).
 */
async function runOutcome(
  gw: TestGateway,
  phoneNumber: string,
  operation: OperationDefinition,
  bOptin: boolean,
  ends: string,
): Promise<{ outcome: CommandOutcome; taskReads?: number }> {
  // Watched, not replaced: the broker gets every outcome, the database every statement, as before.
  const outcomes = vi.spyOn(gw.dmEvents, 'commandOutcome');
  const pool = gw.dataSource.options.type === 'postgres' ? (gw.dataSource.driver as unknown as { master: { query: (q: PgQuery) => unknown } }).master : undefined;
  const statements = pool ? vi.spyOn(pool, 'query') : undefined;
  try {
    const taskId = await gw.broker.doOperation(
      { caller: 'test', operation: 'doOperation' },
      { operation, phoneNumber, bOptin, acceptDevicePolicy: 30, testCycle: false },
    );
    const isRun = ([o]: [CommandOutcome]) => o.requestId === `task:${taskId}:run`;
    const i = await waitFor(() => {
      const at = outcomes.mock.calls.findIndex(isRun);
      return at >= 0 ? at : undefined;
    }, 20_000, `the outcome of ${taskId}'s run`);
    // Handled: the broker's work on it is done.
    await outcomes.mock.results[i]!.value;
    const taskReads = statements?.mock.calls.filter(([q]) => /^SELECT .* FROM "task" WHERE "task_id" = \$1$/s.test(q.text) && q.values?.[0] === taskId).length;
    statements?.mockRestore();
    expect((await gw.broker.getTask(taskId)).status).toBe(ends);
    return { outcome: outcomes.mock.calls[i]![0], ...(taskReads !== undefined ? { taskReads } : {}) };
  } finally {
    statements?.mockRestore();
    outcomes.mockRestore();
  }
}

const pgUrl = await postgresUrl();
const databases = [
  { name: 'SQLite', available: true, url: undefined },
  { name: 'PostgreSQL', available: pgUrl !== undefined, url: pgUrl },
] as const;

for (const { name, available, url } of databases) {
  describe.skipIf(!available)(`DM 1.2 on ${name}: a run outcome carries its request’s facts`, () => {
    let rig: DmRig;
    beforeAll(async () => {
      rig = await startDmRig({ devices: 2, ...(url !== undefined ? { postgresUrl: url } : {}) });
    });
    afterAll(() => rig?.stop());

    it('a SingleShotExec armed, its task not read for it (PostgreSQL: no SELECT of its row)', async () => {
      const { outcome, taskReads } = await runOutcome(rig.gw, rig.fleet.devices[0]!.phoneNumber!, SSE, false, 'SCHEDULED');
      expect(outcome).toMatchObject({ outcome: 'completed', facts: { operation: 'SCHEDULED_EXEC', bOptin: false, awaitResult: false } });
      if (url !== undefined) expect(taskReads).toBe(0);
    });

    it('a query with the user’s opt-in', async () => {
      const { outcome } = await runOutcome(rig.gw, rig.fleet.devices[1]!.phoneNumber!, QUERY, true, 'COMPLETED');
      expect(outcome).toMatchObject({ outcome: 'completed', facts: { operation: 'QUERY', bOptin: true, awaitResult: false } });
    });
  });
}

describe('DM 2.0: a run outcome carries its request’s facts', () => {
  let rig: Dm2Rig;
  beforeAll(async () => {
    rig = await startDm2Rig({ devices: 1 });
  });
  afterAll(() => rig?.stop());

  it('a query answered in a later Package#3', async () => {
    const { outcome } = await runOutcome(rig.gw, rig.fleet.devices[0]!.phoneNumber!, QUERY, false, 'COMPLETED');
    expect(outcome).toMatchObject({ outcome: 'completed', facts: { operation: 'QUERY', bOptin: false, awaitResult: false } });
  });
});
