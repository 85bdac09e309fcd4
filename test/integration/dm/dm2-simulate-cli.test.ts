/**
 * `dmwsi simulate --dm-version 2.0`: the fleet it starts writes an import
 * CSV the gateway takes, listens for Package#0 version 2, and its devices
 * run their sessions against /dm2.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandOutcome } from '../../../src/dm/server/ports.js';
import { runSimulateDm2, type Dm2SimulateHandle } from '../../../src/simulator/dm2/cli.js';
import { CAPABILITY_DM2 } from '../../support/dm2-rig.js';
import { startTestGateway, type TestGateway } from '../../support/test-gateway.js';
import { waitFor } from '../../support/wait.js';

let gw: TestGateway;
let sim: Dm2SimulateHandle;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dm2-sim-'));
const lines: string[] = [];
const outcomes: CommandOutcome[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ overrides: { dm2AllowPlainHttp: true } });
  await gw.deviceManager.createDeviceCapability({ caller: 'test', operation: 'setup' }, CAPABILITY_DM2);
  sim = await runSimulateDm2(
    {
      devices: 3,
      server: `${gw.url}/dm2`,
      imeiStart: '35800000000000',
      phonePrefix: '+1633',
      auth: 'md5',
      capabilityOid: CAPABILITY_DM2.oid,
      serverId: gw.config.dmServerId,
      listen: { host: '127.0.0.1', port: 0 },
      credentialsCsv: path.join(dir, 'fleet.csv'),
    },
    (l) => lines.push(l),
  );
  const r = await gw.deviceManager.importDeviceInstances({ caller: 'test', operation: 'setup' }, { csv: fs.readFileSync(path.join(dir, 'fleet.csv'), 'utf8') });
  expect(r).toMatchObject({ imported: 3, rejected: [] });
  gw.dmEvents.onRequests('cli:', { outcome: async (o) => void outcomes.push(o) });
});
afterAll(async () => {
  await sim?.stop();
  await gw?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('simulate --dm-version 2.0', () => {
  it('runs devices the gateway can wake and command', async () => {
    expect(lines.join('\n')).toMatch(/3 DM 2.0 devices/);
    const d = sim.fleet.devices[2]!;
    const r = await gw.deviceCommands.submit(d.deviceId, { requestId: 'cli:1', commands: [{ verb: 'Get', uri: './DevInfo/DmV' }] }, { notify: true });
    expect(r.notification?.delivered).toBe(true);
    const o = await waitFor(() => outcomes.find((x) => x.requestId === 'cli:1'), 10_000, 'the outcome');
    expect(o.results[0]).toMatchObject({ status: 200, data: '2.0' });
    expect(sim.fleet.notifications).toMatchObject({ sessions: 1, rejected: 0 });
  });

  it('refuses hmac, which DM 2.0 does not have', async () => {
    await expect(
      runSimulateDm2(
        { devices: 1, server: 'http://x/dm2', imeiStart: '35800000000000', phonePrefix: '+1', auth: 'hmac', capabilityOid: 'c', serverId: 's', listen: { host: '127.0.0.1', port: 0 } },
        () => undefined,
      ),
    ).rejects.toThrow(/Basic|Digest/);
  });
});
