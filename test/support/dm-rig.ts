/**
 * A gateway and a simulated fleet wired together over real HTTP on
 * 127.0.0.1: the fleet's devices are registered through the gateway's CSV
 * import, and the fleet listens for the gateway's notifications.
 */
import type { Config } from '../../src/config/config.js';
import type { DeviceAuthType as DmAuthType } from '../../src/domain/registry.js';
import { Fleet, type FleetOptions } from '../../src/simulator/fleet.js';
import type { GatewayOptions } from '../../src/main/gateway.js';
import { CAPABILITY } from './fixtures.js';
import { startTestGateway, type TestGateway } from './test-gateway.js';

export interface DmRig {
  gw: TestGateway;
  fleet: Fleet;
  dmUrl: string;
  stop(): Promise<void>;
}

export interface DmRigOptions {
  devices?: number;
  authType?: DmAuthType;
  encoding?: 'xml' | 'wbxml';
  fleet?: Partial<FleetOptions>;
  overrides?: Partial<Config>;
  gateway?: GatewayOptions;
  imeiStart?: string;
  /** A PostgreSQL URL to use instead of a fresh SQLite file. */
  postgresUrl?: string;
}

export async function startDmRig(o: DmRigOptions = {}): Promise<DmRig> {
  const gw = await startTestGateway({
    overrides: o.overrides ?? {},
    ...(o.gateway ? { gateway: o.gateway } : {}),
    ...(o.postgresUrl ? { postgresUrl: o.postgresUrl } : {}),
  });
  const dmUrl = `${gw.url}/dm`;
  const fleet = new Fleet({
    devices: o.devices ?? 1,
    serverUrl: dmUrl,
    serverId: gw.config.dmServerId,
    capabilityOid: CAPABILITY.oid,
    authType: o.authType ?? 'md5',
    encoding: o.encoding ?? 'xml',
    imeiStart: o.imeiStart ?? '35000000000000',
    listen: { host: '127.0.0.1', port: 0 },
    ...o.fleet,
  });
  await fleet.start();
  const ctx = { caller: 'test', operation: 'setup' };
  await gw.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
  const result = await gw.deviceManager.importDeviceInstances(ctx, { csv: fleet.credentialsCsv() });
  if (result.rejected.length) throw new Error(`fleet import rejected rows: ${JSON.stringify(result.rejected)}`);
  return {
    gw,
    fleet,
    dmUrl,
    stop: async () => {
      await fleet.stop();
      await gw.stop();
    },
  };
}
