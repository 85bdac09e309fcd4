/**
 * The correlation id crosses processes with the work: an API process takes
 * the SOAP call, a worker process notifies the device, a DM process serves
 * the session and reads the final Generic Alert (three gateways sharing one
 * database and one Redis, each with its own log). Each process's lines about
 * the task carry the id the API process answered with, though nothing but
 * the work itself (a BullMQ payload, a queued DM request, the task's row)
 * went from one to the other.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/main/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { enableLongExec } from '../../src/simulator/long-exec.js';
import type { SimulatedDevice } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

interface LogLine {
  msg: string;
  correlationId?: string;
  [key: string]: unknown;
}

/** A logger and the JSON lines it wrote. */
function capture() {
  const lines: LogLine[] = [];
  let partial = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) if (p) lines.push(JSON.parse(p) as LogLine);
      done();
    },
  });
  return { logger: createLogger('debug', 'dmwsi', sink), lines };
}

const dm = capture();
const api = capture();
const worker = capture();
let rig: DmRig;
let apiGw: Gateway;
let workerGw: Gateway;
let broker: SoapClient;

beforeAll(async () => {
  rig = await startDmRig({ devices: 1, gateway: { logger: dm.logger }, overrides: { role: 'dm', logLevel: 'debug', taskRetrySeconds: 600 } });
  apiGw = await startGateway({ ...rig.gw.config, role: 'api', port: 0 }, { logger: api.logger });
  workerGw = await startGateway({ ...rig.gw.config, role: 'worker', port: 0 }, { logger: worker.logger });
  broker = await soapClient(apiGw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
});
afterAll(async () => {
  await workerGw?.close();
  await apiGw?.close();
  await rig?.stop();
});

describe('one correlation id across the API, worker and DM processes', () => {
  it('is on each process’s lines about the task, from the SOAP call to the final Generic Alert', async () => {
    const device = rig.fleet.devices[0] as SimulatedDevice;
    enableLongExec(device, { uri: './Ext/Sim/Install', afterMs: 300 });
    const id = 'across-processes-01';
    broker.addHttpHeader('X-Correlation-Id', id);
    const { taskId } = await call<{ taskId: string }>(broker, 'doOperation', {
      userSession: '',
      operation: { name: 'EXEC', commands: { command: [{ verb: 'Exec', uri: './Ext/Sim/Install' }] }, awaitResult: true },
      phoneNumber: device.phoneNumber,
      bOptin: false,
      acceptDevicePolicy: 30,
      testCycle: false,
    });
    await waitFor(async () => {
      const t = await call<{ taskData: { status: string } }>(broker, 'getTaskById', { userSession: '', taskId });
      return t.taskData.status === 'COMPLETED' ? true : undefined;
    }, 20_000, 'the task COMPLETED');
    const of = (lines: LogLine[]) => lines.filter((l) => l.correlationId === id).map((l) => l.msg);
    expect(of(api.lines)).toContain('SOAP call');
    expect(of(worker.lines)).toEqual(expect.arrayContaining(['task job', 'device notified']));
    expect(of(dm.lines)).toEqual(
      expect.arrayContaining(['DM request taken into the session', 'DM request answered', 'Generic Alert read as a final alert']),
    );
    // Each process did only its own part.
    expect(of(api.lines)).not.toContain('task job');
    expect(of(worker.lines)).not.toContain('DM request answered');
  });
});
