/**
 * A handful of simulated DM 2.0 devices behind one HTTP listener for the
 * gateway's notifications (`POST /notify/<deviceId>`: any notification body
 * starts a server-initiated session; Package#0 version 2 is not built yet,
 * so the gateway wakes DM 2.0 devices with the same trigger as DM 1.2 ones,
 * whose digest this listener does not check). Registered through the
 * gateway's CSV import like the DM 1.2 fleet.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { luhnValid } from '../../domain/device-id.js';
import { CREDENTIALS_CSV_COLUMNS } from '../fleet.js';
import { Dm2SimulatedDevice } from './dm2-device.js';
import type { Dm2TlsOptions } from './dm2-http.js';

export interface Dm2FleetOptions {
  devices: number;
  /** The gateway's `/dm2` URL. */
  serverUrl: string;
  capabilityOid: string;
  authType?: 'basic' | 'md5';
  /** 14 digits; device i gets this + i and a check digit. */
  imeiStart: string;
  /** Phone numbers: this prefix + a 7-digit counter. */
  phonePrefix?: string;
  firstPhone?: number;
  /** TLS credentials per device (a client certificate or a PSK), when the device authenticates in TLS. */
  tls?: (deviceId: string) => Dm2TlsOptions | undefined;
}

export class Dm2Fleet {
  readonly devices: Dm2SimulatedDevice[] = [];
  private server: http.Server | undefined;
  private base = '';
  private readonly passwords = new Map<string, string>();

  constructor(private readonly opts: Dm2FleetOptions) {
    for (let i = 0; i < opts.devices; i++) {
      const body = (BigInt(opts.imeiStart) + BigInt(i)).toString().padStart(14, '0');
      let check = 0;
      while (!luhnValid(body + check)) check++;
      const deviceId = `IMEI:${body}${check}`;
      const password = crypto.randomBytes(12).toString('base64url');
      this.passwords.set(deviceId, password);
      const tls = opts.tls?.(deviceId);
      this.devices.push(
        new Dm2SimulatedDevice({
          deviceId,
          phoneNumber: `${opts.phonePrefix ?? '+1666'}${String((opts.firstPhone ?? 0) + i).padStart(7, '0')}`,
          serverUrl: opts.serverUrl,
          authType: opts.authType ?? 'md5',
          clientUsername: `u${body}${check}`,
          clientPassword: password,
          ...(tls ? { tls } : {}),
        }),
      );
    }
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const m = /^\/notify\/([^/]+)$/.exec(req.url ?? '');
      req.resume();
      const device = m ? this.devices.find((d) => d.deviceId === decodeURIComponent(m[1]!)) : undefined;
      if (req.method !== 'POST' || device === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200).end();
      void device.runSession('server');
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  credentialsCsv(): string {
    const lines = [[...CREDENTIALS_CSV_COLUMNS, 'authType'].join(',')];
    for (const d of this.devices) {
      lines.push(
        [d.deviceId, d.phoneNumber ?? '', this.opts.capabilityOid, `${this.base}/notify/${encodeURIComponent(d.deviceId)}`,
          `u${d.deviceId.slice(5)}`, this.passwords.get(d.deviceId)!, crypto.randomBytes(12).toString('base64url'), this.opts.authType ?? 'md5'].join(','),
      );
    }
    return `${lines.join('\n')}\n`;
  }

  async stop(): Promise<void> {
    for (const d of this.devices) d.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
