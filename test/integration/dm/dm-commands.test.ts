/**
 * Command semantics end to end over HTTP: Sequence, Atomic with rollback,
 * multi-message packages under a small MaxMsgSize, Large Objects, and a
 * SingleShotExec armed, fired and reported by Generic Alert.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandOutcome, DeviceAlert } from '../../../src/dm/server/ports.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { waitFor } from '../../support/wait.js';

let rig: DmRig;
const outcomes: CommandOutcome[] = [];
const alerts: DeviceAlert[] = [];

beforeAll(async () => {
  rig = await startDmRig({ devices: 3, fleet: { profile: { maxMsgSize: 3000, maxObjSize: 1_000_000 } } });
  rig.gw.dmEvents.onRequests('c-', { outcome: async (o) => void outcomes.push(o) });
  rig.gw.dmEvents.onCorrelator('sse-', async (a) => {
    alerts.push(a);
    return true;
  });
  for (const d of rig.fleet.devices) expect((await d.runSession()).outcome).toBe('ok');
});
afterAll(() => rig?.stop());

const outcome = (id: string) => waitFor(() => outcomes.find((o) => o.requestId === id), 10_000, id);

describe('DM commands over HTTP', () => {
  it('runs a Sequence in order', async () => {
    const d = rig.fleet.devices[0]!;
    await rig.gw.deviceCommands.submit(d.devId, {
      requestId: 'c-seq',
      container: 'Sequence',
      commands: [
        { verb: 'Add', uri: './Custom/Seq', format: 'node' },
        { verb: 'Add', uri: './Custom/Seq/A', data: '1', format: 'int' },
        { verb: 'Replace', uri: './Custom/Seq/A', data: '2', format: 'int' },
        { verb: 'Get', uri: './Custom/Seq/A' },
      ],
    });
    await d.runSession();
    const o = await outcome('c-seq');
    expect(o.containerStatus).toBe(200);
    expect(o.results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(o.results[3]?.data).toBe('2');
  });

  it('rolls back an Atomic when one command fails', async () => {
    const d = rig.fleet.devices[0]!;
    await rig.gw.deviceCommands.submit(d.devId, {
      requestId: 'c-atomic',
      container: 'Atomic',
      commands: [
        { verb: 'Add', uri: './Custom/Atom', data: 'kept?', format: 'chr' },
        { verb: 'Replace', uri: './Custom/Missing', data: 'x', format: 'chr' },
      ],
    });
    await d.runSession();
    const o = await outcome('c-atomic');
    expect(o.containerStatus).toBe(507);
    expect(o.results.map((r) => r.status)).toEqual([216, 404]);
    await rig.gw.deviceCommands.submit(d.devId, { requestId: 'c-after-atomic', commands: [{ verb: 'Get', uri: './Custom/Atom' }] });
    await d.runSession();
    expect((await outcome('c-after-atomic')).results[0]?.status).toBe(404);
  });

  it('delivers many requests across a multi-message package under a small MaxMsgSize', async () => {
    const d = rig.fleet.devices[1]!;
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push(`c-many-${i}`);
      await rig.gw.deviceCommands.submit(d.devId, {
        requestId: `c-many-${i}`,
        commands: [{ verb: 'Add', uri: `./Custom/Many${i}`, data: `value-${i}-${'x'.repeat(60)}`, format: 'chr' }],
      });
    }
    const report = await d.runSession();
    expect(report.outcome).toBe('ok');
    expect(report.messages).toBeGreaterThan(2);
    for (const id of ids) expect((await outcome(id)).results[0]?.status).toBe(200);
  });

  it('sends and receives a Large Object in chunks', async () => {
    const d = rig.fleet.devices[1]!;
    const big = 'L'.repeat(20_000);
    await rig.gw.deviceCommands.submit(d.devId, {
      requestId: 'c-lo-put',
      commands: [{ verb: 'Add', uri: './Custom/Big', data: big, format: 'chr' }],
    });
    await d.runSession();
    expect((await outcome('c-lo-put')).results[0]?.status).toBe(200);
    await rig.gw.deviceCommands.submit(d.devId, { requestId: 'c-lo-get', commands: [{ verb: 'Get', uri: './Custom/Big' }] });
    await d.runSession();
    const got = await outcome('c-lo-get');
    expect(got.results[0]?.status).toBe(200);
    expect(got.results[0]?.data).toBe(big);
  });

  it('arms a SingleShotExec, which runs the target once and reports by Generic Alert', async () => {
    const d = rig.fleet.devices[2]!;
    const atTime = new Date(Date.now() + 1500).toISOString().replace(/\.\d+Z$/, 'Z');
    await rig.gw.deviceCommands.submit(d.devId, {
      requestId: 'c-sse',
      container: 'Sequence',
      commands: [
        { verb: 'Add', uri: './SSE/job1', format: 'node' },
        { verb: 'Add', uri: './SSE/job1/TargetURI', data: './FUMO/fw1/Update', format: 'chr' },
        { verb: 'Add', uri: './SSE/job1/AtTime', data: atTime, format: 'chr' },
        { verb: 'Exec', uri: './SSE/job1/Go', correlator: 'sse-job1' },
      ],
    });
    await d.runSession();
    const armed = await outcome('c-sse');
    expect(armed.results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const alert = await waitFor(() => alerts.find((a) => a.correlator === 'sse-job1'), 15_000, 'the Generic Alert');
    expect(alert).toMatchObject({
      deviceId: d.devId,
      alertType: 'org.openmobilealliance.dm.singleshotexec',
      source: './SSE/job1',
      data: '200',
    });
    expect(d.executionCount('./FUMO/fw1/Update')).toBe(1);
    const recorded = await rig.gw.dataSource.query('SELECT alert_type, handled, correlator FROM device_alert');
    expect(recorded).toContainEqual({ alert_type: 'org.openmobilealliance.dm.singleshotexec', handled: 1, correlator: 'sse-job1' });
  });
});
