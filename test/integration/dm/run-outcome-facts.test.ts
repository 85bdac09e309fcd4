/**
 * The facts a task's run request carries come back with its outcome, from a
 * real DM 1.2 and a real DM 2.0 session (simulated devices over HTTP): the
 * DM servers hand over what the request held in the queue (DM 1.2) or in the
 * session's state (DM 2.0, whose results are applied before the queue is
 * read again), without reading them.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CommandOutcome } from '../../../src/dm/server/ports.js';
import type { OperationDefinition } from '../../../src/domain/tasks.js';
import type { TestGateway } from '../../support/test-gateway.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { type Dm2Rig, startDm2Rig } from '../../support/dm2-rig.js';
import { waitFor } from '../../support/wait.js';

const SSE: OperationDefinition = { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime: '2099-01-01T00:00:00Z', commands: [] };
const QUERY: OperationDefinition = { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] };

/** Runs the operation on the device and returns its run request's outcome as the broker was handed it. */
async function runOutcome(gw: TestGateway, phoneNumber: string, operation: OperationDefinition, bOptin: boolean, ends: string): Promise<CommandOutcome> {
  // Watched, not replaced: the broker gets every outcome as before.
  const outcomes = vi.spyOn(gw.dmEvents, 'commandOutcome');
  try {
    const taskId = await gw.broker.doOperation(
      { caller: 'test', operation: 'doOperation' },
      { operation, phoneNumber, bOptin, acceptDevicePolicy: 30, testCycle: false },
    );
    await waitFor(async () => (await gw.broker.getTask(taskId)).status === ends, 20_000, `task ${taskId} to be ${ends}`);
    const run = outcomes.mock.calls.map(([o]) => o).find((o) => o.requestId === `task:${taskId}:run`);
    expect(run).toBeDefined();
    return run!;
  } finally {
    outcomes.mockRestore();
  }
}

describe('DM 1.2: a run outcome carries its request’s facts', () => {
  let rig: DmRig;
  beforeAll(async () => {
    rig = await startDmRig({ devices: 2 });
  });
  afterAll(() => rig?.stop());

  it('a SingleShotExec armed', async () => {
    const o = await runOutcome(rig.gw, rig.fleet.devices[0]!.phoneNumber!, SSE, false, 'SCHEDULED');
    expect(o).toMatchObject({ outcome: 'completed', facts: { operation: 'SCHEDULED_EXEC', bOptin: false, awaitResult: false } });
  });

  it('a query with the user’s opt-in', async () => {
    const o = await runOutcome(rig.gw, rig.fleet.devices[1]!.phoneNumber!, QUERY, true, 'COMPLETED');
    expect(o).toMatchObject({ outcome: 'completed', facts: { operation: 'QUERY', bOptin: true, awaitResult: false } });
  });
});

describe('DM 2.0: a run outcome carries its request’s facts', () => {
  let rig: Dm2Rig;
  beforeAll(async () => {
    rig = await startDm2Rig({ devices: 1 });
  });
  afterAll(() => rig?.stop());

  it('a query answered in a later Package#3', async () => {
    const o = await runOutcome(rig.gw, rig.fleet.devices[0]!.phoneNumber!, QUERY, false, 'COMPLETED');
    expect(o).toMatchObject({ outcome: 'completed', facts: { operation: 'QUERY', bOptin: false, awaitResult: false } });
  });
});
