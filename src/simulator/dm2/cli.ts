/**
 * `dmwsi simulate --dm-version 2.0`: simulated DM 2.0 devices (dm2-fleet.ts)
 * against a gateway's `/dm2`, with their notification listener, and the
 * import CSV when asked. The DM 1.2 options that have a DM 2.0 meaning apply
 * (devices, server, listen, IMEI start, phone prefix, auth basic|md5 →
 * HTTP Basic|Digest, FUMO/SCOMO roots, install time, capability, server id).
 */
import fs from 'node:fs/promises';
import type { DeviceAuthType } from '../../domain/registry.js';
import { Dm2Fleet } from './dm2-fleet.js';

export interface Dm2SimulateHandle {
  fleet: Dm2Fleet;
  url: string;
  stop(): Promise<void>;
}

/** The `simulate` options with a DM 2.0 meaning (names as in src/simulator/cli.ts). */
export interface Dm2SimulateOptions {
  devices: number;
  server: string;
  imeiStart: string;
  phonePrefix: string;
  auth: DeviceAuthType;
  capabilityOid: string;
  serverId: string;
  listen: { host: string; port: number };
  fumoRoot?: string;
  scomoRoot?: string;
  installMs?: number;
  credentialsCsv?: string;
}

export async function runSimulateDm2(opts: Dm2SimulateOptions, log: (line: string) => void): Promise<Dm2SimulateHandle> {
  if (opts.auth === 'hmac') throw new Error('DM 2.0 devices authenticate with HTTP Basic (--auth basic) or Digest (--auth md5), not hmac');
  const fleet = new Dm2Fleet({
    devices: opts.devices,
    serverUrl: opts.server.split(',')[0]!,
    capabilityOid: opts.capabilityOid,
    authType: opts.auth,
    imeiStart: opts.imeiStart.slice(0, 14),
    phonePrefix: opts.phonePrefix,
    serverId: opts.serverId,
    listen: opts.listen,
    ...(opts.fumoRoot !== undefined ? { fumoRoot: opts.fumoRoot } : {}),
    ...(opts.scomoRoot !== undefined ? { scomoRoot: opts.scomoRoot } : {}),
    ...(opts.installMs !== undefined ? { installMs: opts.installMs } : {}),
  });
  const { url } = await fleet.start();
  log(`simulate: ${opts.devices} DM 2.0 devices; DM server ${opts.server}`);
  log(`simulate: listening on ${url} (POST /notify/<deviceId>, Package#0 version 2)`);
  if (opts.credentialsCsv) {
    await fs.writeFile(opts.credentialsCsv, fleet.credentialsCsv());
    log(`simulate: credentials written to ${opts.credentialsCsv} (import with importDeviceInstances)`);
  }
  return {
    fleet,
    url,
    async stop() {
      await fleet.stop();
      const n = fleet.notifications;
      log(`simulate: stopped; notifications sessions=${n.sessions} duplicates=${n.duplicates} rejected=${n.rejected}`);
    },
  };
}
