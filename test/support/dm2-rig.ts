/**
 * A gateway with DM 2.0 over plain HTTP allowed (DM2_ALLOW_PLAIN_HTTP, as in
 * labs) and a small simulated DM 2.0 fleet registered through the CSV import
 * under a capability whose dmVersion is 2.0; optionally a DM 1.2 fleet beside
 * it (a mixed fleet).
 */
import type { Config } from '../../src/config/config.js';
import { Fleet } from '../../src/simulator/fleet.js';
import { Dm2Fleet } from '../../src/simulator/dm2/dm2-fleet.js';
import { CAPABILITY } from './fixtures.js';
import { startTestGateway, type TestGateway } from './test-gateway.js';

export const CAPABILITY_DM2 = {
  ...CAPABILITY,
  oid: 'acme-x2-2.0',
  model: 'X2',
  firmwareVersion: '2.0',
  dmVersion: '2.0' as const,
  fumoRoot: './FUMO',
  scomoRoot: './SCOMO',
};

export interface Dm2Rig {
  gw: TestGateway;
  fleet: Dm2Fleet;
  /** DM 1.2 devices beside them, when asked for. */
  fleet12?: Fleet;
  dm2Url: string;
  stop(): Promise<void>;
}

export async function startDm2Rig(
  o: { devices?: number; devices12?: number; authType?: 'basic' | 'md5'; overrides?: Partial<Config>; fleet?: { fumoRoot?: string; scomoRoot?: string; installMs?: number; httpTimeoutMs?: number } } = {},
): Promise<Dm2Rig> {
  const gw = await startTestGateway({ overrides: { dm2AllowPlainHttp: true, ...o.overrides } });
  const dm2Url = `${gw.url}/dm2`;
  const ctx = { caller: 'test', operation: 'setup' };
  await gw.deviceManager.createDeviceCapability(ctx, CAPABILITY_DM2);
  const fleet = new Dm2Fleet({
    devices: o.devices ?? 1,
    serverUrl: dm2Url,
    capabilityOid: CAPABILITY_DM2.oid,
    authType: o.authType ?? 'md5',
    imeiStart: '35200000000000',
    ...o.fleet,
  });
  await fleet.start();
  const imported = await gw.deviceManager.importDeviceInstances(ctx, { csv: fleet.credentialsCsv() });
  if (imported.rejected.length) throw new Error(`DM 2.0 fleet import rejected rows: ${JSON.stringify(imported.rejected)}`);
  let fleet12: Fleet | undefined;
  if (o.devices12) {
    await gw.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
    fleet12 = new Fleet({
      devices: o.devices12,
      serverUrl: `${gw.url}/dm`,
      serverId: gw.config.dmServerId,
      capabilityOid: CAPABILITY.oid,
      authType: 'md5',
      encoding: 'xml',
      imeiStart: '35100000000000',
      listen: { host: '127.0.0.1', port: 0 },
    });
    await fleet12.start();
    const r = await gw.deviceManager.importDeviceInstances(ctx, { csv: fleet12.credentialsCsv() });
    if (r.rejected.length) throw new Error(`DM 1.2 fleet import rejected rows: ${JSON.stringify(r.rejected)}`);
  }
  return {
    gw,
    fleet,
    ...(fleet12 ? { fleet12 } : {}),
    dm2Url,
    stop: async () => {
      await fleet.stop();
      await fleet12?.stop();
      await gw.stop();
    },
  };
}
