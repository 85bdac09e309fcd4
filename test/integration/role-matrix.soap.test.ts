/**
 * Every operation of the three services × every role, against the README's
 * role table ("Callers and roles"), pinned here by hand (not taken from the
 * implementation's roleAllows, which it checks):
 *
 *   admin     everything (webhooks: admin only)
 *   bulk      reads, device registry changes, content, device and bulk operations
 *   care      reads, single-device operations (doOperation, doBootstrap, cancelTask)
 *   readonly  reads (get*)
 *
 * A role that may not call an operation gets NotAuthorized before anything
 * else is looked at; a role that may gets past the check (here: to
 * InvalidArgument or NotFound, as the bodies are empty).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../../src/domain/roles.js';
import { SERVICES } from '../../src/wsi/contract/schema.js';
import { envelope, passwordTextHeader } from '../support/soap.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

type Role = 'admin' | 'bulk' | 'care' | 'readonly';
const EVERYONE: Role[] = ['admin', 'bulk', 'care', 'readonly'];
const REGISTRY: Role[] = ['admin', 'bulk'];
const BULK: Role[] = ['admin', 'bulk'];
const SINGLE_DEVICE: Role[] = ['admin', 'bulk', 'care'];
/** Webhooks send the gateway's events outside it: admin only. */
const ADMIN_ONLY: Role[] = ['admin'];

/** Who may call what, by hand from the README (login and logout: anyone, not checked here). */
const MAY_CALL: Record<string, Record<string, Role[]>> = {
  DeploymentBroker: {
    doOperation: SINGLE_DEVICE,
    doBootstrap: SINGLE_DEVICE,
    doBulkOperation: BULK,
    getTaskById: EVERYONE,
    getStatus: EVERYONE,
  },
  BulkOperationsManager: {
    createDeployments: BULK,
    cancelJob: BULK,
    pauseJob: BULK,
    restartJob: BULK,
    cancelTask: SINGLE_DEVICE,
    getJobs: EVERYONE,
    getJobsByDate: EVERYONE,
    getJobById: EVERYONE,
    getTasks: EVERYONE,
    getTaskHistory: EVERYONE,
    getJobHistory: EVERYONE,
    createContent: BULK,
    deleteContent: BULK,
    getContent: EVERYONE,
    getContents: EVERYONE,
    createWebhook: ADMIN_ONLY,
    getWebhooks: ADMIN_ONLY,
    deleteWebhook: ADMIN_ONLY,
  },
  DeviceManager: {
    createDeviceInstance: REGISTRY,
    updateDeviceInstance: REGISTRY,
    deleteDeviceInstance: REGISTRY,
    importDeviceInstances: REGISTRY,
    createDeviceCapability: REGISTRY,
    updateDeviceCapability: REGISTRY,
    getDeviceInstanceByDeviceID: EVERYONE,
    getDeviceInstanceByPhoneNumber: EVERYONE,
    getDeviceInstances: EVERYONE,
    getDeviceCapabilityByOid: EVERYONE,
    getDeviceCapabilities: EVERYONE,
    getDeviceInfo: EVERYONE,
    getDeviceTasks: EVERYONE,
  },
};

let gw: TestGateway;
const pw = 'matrix-password-1';

beforeAll(async () => {
  gw = await startTestGateway();
  for (const role of EVERYONE) await gw.auth.createUser(`user-${role}`, pw, role);
});
afterAll(() => gw?.stop());

const cases = Object.entries(MAY_CALL).flatMap(([service, ops]) => Object.entries(ops).map(([operation, roles]) => [service, operation, roles] as const));

describe.each(EVERYONE)('role %s', (role) => {
  it.each(cases)('%s.%s', async (service, operation, roles) => {
    const r = await fetch(`${gw.url}/dmwsi/${service}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: envelope(`<t:${operation}><t:userSession/></t:${operation}>`, passwordTextHeader(`user-${role}`, pw)),
    });
    const code = /<tns:code>(\w+)<\/tns:code>/.exec(await r.text())?.[1] ?? 'ok';
    if (roles.includes(role)) expect([operation, code]).not.toEqual([operation, 'NotAuthorized']);
    else expect([operation, code]).toEqual([operation, 'NotAuthorized']);
    expect(code).not.toBe('AuthenticationFailed');
    expect(code).not.toBe('Internal');
  });
});

it('pins every operation of the contract and every role', () => {
  expect([...ROLES].sort()).toEqual([...EVERYONE].sort());
  const contract = SERVICES.flatMap((s) => s.operations.filter((o) => o.name !== 'login' && o.name !== 'logout').map((o) => `${s.name}.${o.name}`));
  expect(cases.map(([s, o]) => `${s}.${o}`).sort()).toEqual(contract.sort());
});
