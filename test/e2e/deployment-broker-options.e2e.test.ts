/**
 * doOperation's options end to end: QUERY results, testCycle, opt-in yes and
 * no, each acceptDevicePolicy, and bad input answered with typed faults
 * before anything is queued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITY } from '../support/fixtures.js';
import type { SimulatedDevice } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { call, faultOf, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: DmRig;
let broker: SoapClient;
/** What the simulated users answer to a confirmation (one test at a time sets it). */
let userAnswer = 200;

beforeAll(async () => {
  rig = await startDmRig({
    devices: 8,
    fleet: {
      profile: { ui: () => ({ code: userAnswer }) },
    },
  });
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
});
afterAll(() => rig?.stop());

const device = (i: number) => rig.fleet.devices[i] as SimulatedDevice;
const query = { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Man' }, { verb: 'Get', uri: './DevInfo/DmV' }] } };

async function doOperation(i: number, operation: unknown, extra: Record<string, unknown> = {}) {
  return (
    await call<{ taskId: string }>(broker, 'doOperation', {
      userSession: '',
      operation,
      phoneNumber: device(i).phoneNumber,
      bOptin: false,
      acceptDevicePolicy: 30,
      testCycle: false,
      ...extra,
    })
  ).taskId;
}

async function settled(taskId: string) {
  return waitFor(async () => {
    const r = await call<{ taskData: { status: string; dmStatus?: number; results?: { uri: string; value: string }[] } }>(
      broker,
      'getTaskById',
      { userSession: '', taskId },
    );
    return ['COMPLETED', 'FAILED', 'SCHEDULED'].includes(r.taskData.status) ? r.taskData : undefined;
  }, 20_000, `task ${taskId}`);
}

describe('doOperation options', () => {
  it('returns QUERY results in TaskData', async () => {
    const t = await settled(await doOperation(0, query));
    expect(t.status).toBe('COMPLETED');
    expect(t.results).toEqual([
      expect.objectContaining({ uri: './DevInfo/Man', value: expect.any(String) }),
      expect.objectContaining({ uri: './DevInfo/DmV', value: '1.2' }),
    ]);
  });

  it('plans and records a test cycle without contacting the device', async () => {
    const before = device(1).sessions;
    const taskId = await doOperation(1, query, { testCycle: true });
    const t = await settled(taskId);
    expect(t.status).toBe('COMPLETED');
    await new Promise((r) => setTimeout(r, 500));
    expect(device(1).sessions).toBe(before);
    const h = await rig.gw.broker.getTaskHistory(taskId);
    expect(h.map((x) => x.event)).toEqual(['created', 'test-cycle']);
    expect(h[1]?.detail).toContain('./DevInfo/Man');
  });

  it('asks the user first when bOptin is true, and runs the commands on Yes', async () => {
    const t = await settled(await doOperation(2, query, { bOptin: true }));
    expect(t.status).toBe('COMPLETED');
  });

  it('fails the task with 304 when the user says No, and runs nothing', async () => {
    userAnswer = 304;
    try {
      const update = { name: 'UPDATE', commands: { command: [{ verb: 'Add', uri: './Optin/Flag', value: '1', format: 'chr' }] } };
      const t = await settled(await doOperation(3, update, { bOptin: true }));
      expect(t).toMatchObject({ status: 'FAILED' });
      expect(Number(t.dmStatus)).toBe(304);
      expect(device(3).tree.read('./Optin/Flag')).toBeUndefined();
    } finally {
      userAnswer = 200;
    }
  });

  it.each([
    [10, 'a device reporting another IMEI with the same TAC', '35000000', 'COMPLETED'],
    [10, 'a device reporting an IMEI with another TAC', '49015420', 'FAILED'],
    [20, 'a device reporting another IMEI while an IMEI is registered', '35000000', 'FAILED'],
    [30, 'any device', '49015420', 'COMPLETED'],
  ])('acceptDevicePolicy %i with %s ends %s', async (policy, _what, tac, expected) => {
    const slots: Record<string, number> = { '10-35000000': 4, '10-49015420': 5, '20-35000000': 6, '30-49015420': 7 };
    const i = slots[`${policy}-${tac}`]!;
    const d = device(i);
    // The hardware reports a different DevId than the account it was registered with.
    const other = `IMEI:${tac}${String(900000 + i).padStart(6, '0')}`;
    d.tree.setAccess('./DevInfo/DevId', ['Get', 'Replace']);
    expect(d.tree.replace('./DevInfo/DevId', { format: 'chr', data: `${other}${luhn(other.slice(5))}` })).toBe(200);
    const taskId = await doOperation(i, query, { acceptDevicePolicy: policy });
    const t = await settled(taskId);
    expect(t.status).toBe(expected);
    if (expected === 'FAILED') {
      const h = await rig.gw.broker.getTaskHistory(taskId);
      expect(h.at(-1)).toMatchObject({ event: 'device-policy-mismatch', detail: expect.stringContaining(`policy ${policy}`) });
    }
  });
});

describe('bad input', () => {
  it('answers acceptDevicePolicy 40 with NotImplemented and other values with InvalidArgument', async () => {
    expect((await faultOf(doOperation(0, query, { acceptDevicePolicy: 40 }))).code).toBe('NotImplemented');
    expect((await faultOf(doOperation(0, query, { acceptDevicePolicy: 11 }))).code).toBe('InvalidArgument');
  });

  it('answers an unknown phone number with NotFound', async () => {
    const f = await faultOf(call(broker, 'doOperation', { userSession: '', operation: query, phoneNumber: '+19999999999', bOptin: false, acceptDevicePolicy: 30, testCycle: false }));
    expect(f.code).toBe('NotFound');
  });

  it.each([
    ['a verb QUERY does not take', { name: 'QUERY', commands: { command: [{ verb: 'Delete', uri: './A' }] } }],
    ['a URI that is not a device URI', { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: 'DevInfo/Man' }] } }],
    ['an unknown operation name', { name: 'REBOOT', commands: { command: [{ verb: 'Exec', uri: './A' }] } }],
    ['SCHEDULED_EXEC without atTime', { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update' }],
    ['SCHEDULED_EXEC in the past', { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime: '2001-01-01T00:00:00Z' }],
    ['an unparseable atTime', { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime: 'tomorrow' }],
  ])('answers %s with InvalidArgument, queueing nothing', async (_what, operation) => {
    const before = await rig.gw.dataSource.query('SELECT count(*) AS n FROM task');
    expect((await faultOf(doOperation(0, operation))).code).toBe('InvalidArgument');
    const after = await rig.gw.dataSource.query('SELECT count(*) AS n FROM task');
    expect(Number(after[0].n)).toBe(Number(before[0].n));
  });

  it('answers a model without a SingleShotExec root with InvalidState', async () => {
    await rig.gw.deviceManager.updateDeviceCapability({ caller: 't', operation: 't' }, { ...CAPABILITY, dmVersion: '1.2', sseRoot: undefined, oid: CAPABILITY.oid } as never);
    try {
      const f = await faultOf(doOperation(0, { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime: '2099-01-01T00:00:00Z' }));
      expect(f.code).toBe('InvalidState');
    } finally {
      await rig.gw.deviceManager.updateDeviceCapability({ caller: 't', operation: 't' }, { ...CAPABILITY, dmVersion: '1.2' });
    }
  });

  it('answers a retry (same WS-Addressing MessageID) with the first task, and an identical call without one with a new task', async () => {
    const a = await doOperation(0, query, { testCycle: true });
    expect(await doOperation(0, query, { testCycle: true })).not.toBe(a);
    broker.addSoapHeader('<wsa:MessageID xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:uuid:e2e-retry-1</wsa:MessageID>');
    try {
      const first = await doOperation(0, query, { testCycle: true });
      expect(await doOperation(0, query, { testCycle: true })).toBe(first);
    } finally {
      broker.clearSoapHeaders();
    }
  });
});

function luhn(digits14: string): string {
  for (let d = 0; d <= 9; d++) {
    let sum = 0;
    const s = digits14 + d;
    for (let i = 0; i < s.length; i++) {
      let n = s.charCodeAt(s.length - 1 - i) - 48;
      if (i % 2 === 1) {
        n *= 2;
        if (n > 9) n -= 9;
      }
      sum += n;
    }
    if (sum % 10 === 0) return String(d);
  }
  return '0';
}
