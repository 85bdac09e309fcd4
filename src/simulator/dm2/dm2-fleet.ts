/**
 * A handful of simulated DM 2.0 devices behind one HTTP listener for the
 * gateway's notifications (`POST /notify/<deviceId>` with a Package#0
 * version 2, src/dm2/package0.ts): the SERVER-ID must be ours and the
 * SHA256-DIGEST must verify with the device's server password (no auth
 * data) and its TIMESTAMP be within 5 minutes, else 400; a
 * NOTIFICATION-ID seen in the last 30 s is a duplicate (200, no second
 * session); otherwise a server-initiated session starts, its
 * ServerInitiatedMgmt alert carrying the NOTIFICATION-ID. Registered
 * through the gateway's CSV import like the DM 1.2 fleet.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { luhnValid } from '../../domain/device-id.js';
import { Package0Error, parsePackage0V2, verifyPackage0V2 } from '../../dm2/package0.js';
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
  /** FUMO node, SCOMO root and install time for every device (see Dm2DeviceOptions). */
  fumoRoot?: string;
  scomoRoot?: string;
  installMs?: number;
  /** The notification listener; default 127.0.0.1 on an ephemeral port. */
  listen?: { host: string; port: number };
  /** DMAcc ServerID the notifications must name; default `dmwsi-gateway`. */
  serverId?: string;
  /** TLS credentials per device (a client certificate or a PSK), when the device authenticates in TLS. */
  tls?: (deviceId: string) => Dm2TlsOptions | undefined;
  /** How long each device's post waits for an answer; default 30 s. */
  httpTimeoutMs?: number;
}

export class Dm2Fleet {
  readonly devices: Dm2SimulatedDevice[] = [];
  private server: http.Server | undefined;
  private base = '';
  private readonly passwords = new Map<string, string>();
  private readonly serverPasswords = new Map<string, string>();
  /** deviceId → NOTIFICATION-ID → when it was last seen. */
  private readonly seen = new Map<string, Map<number, number>>();
  /** Notifications by outcome. */
  readonly notifications = { sessions: 0, duplicates: 0, rejected: 0 };

  constructor(private readonly opts: Dm2FleetOptions) {
    for (let i = 0; i < opts.devices; i++) {
      const body = (BigInt(opts.imeiStart) + BigInt(i)).toString().padStart(14, '0');
      let check = 0;
      while (!luhnValid(body + check)) check++;
      const deviceId = `IMEI:${body}${check}`;
      const password = crypto.randomBytes(12).toString('base64url');
      this.passwords.set(deviceId, password);
      this.serverPasswords.set(deviceId, crypto.randomBytes(12).toString('base64url'));
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
          ...(opts.fumoRoot ? { fumoRoot: opts.fumoRoot } : {}),
          ...(opts.scomoRoot ? { scomoRoot: opts.scomoRoot } : {}),
          ...(opts.installMs !== undefined ? { installMs: opts.installMs } : {}),
          ...(opts.httpTimeoutMs !== undefined ? { httpTimeoutMs: opts.httpTimeoutMs } : {}),
        }),
      );
    }
  }

  async start(): Promise<{ url: string }> {
    this.server = http.createServer((req, res) => {
      const m = /^\/notify\/([^/]+)$/.exec(req.url ?? '');
      const device = m ? this.devices.find((d) => d.deviceId === decodeURIComponent(m[1]!)) : undefined;
      if (req.method !== 'POST' || device === undefined) {
        req.resume();
        res.writeHead(404).end();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const id = this.accept(device.deviceId, Buffer.concat(chunks));
        if (id === 'rejected') {
          this.notifications.rejected++;
          res.writeHead(400).end();
          return;
        }
        res.writeHead(200).end();
        if (id === 'duplicate') {
          this.notifications.duplicates++;
          return;
        }
        this.notifications.sessions++;
        void device.runSession('server', [], undefined, id);
      });
    });
    const { host, port } = this.opts.listen ?? { host: '127.0.0.1', port: 0 };
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    this.base = `http://${shown}:${(this.server.address() as AddressInfo).port}`;
    return { url: this.base };
  }

  /** The NOTIFICATION-ID of a valid new notification, or why it starts no session. */
  private accept(deviceId: string, bytes: Buffer): number | undefined | 'duplicate' | 'rejected' {
    let parsed: ReturnType<typeof parsePackage0V2>;
    try {
      parsed = parsePackage0V2(bytes);
    } catch (err) {
      if (err instanceof Package0Error) return 'rejected';
      throw err;
    }
    if (parsed.serverId !== (this.opts.serverId ?? 'dmwsi-gateway')) return 'rejected';
    if (!verifyPackage0V2(bytes, parsed, { password: this.serverPasswords.get(deviceId)!, authData: Buffer.alloc(0) })) return 'rejected';
    // A notification older (or newer) than 5 minutes is a replay or a wrong clock.
    if (parsed.timestamp !== undefined && Math.abs(parsed.timestamp - Date.now() / 1000) > 300) return 'rejected';
    const id = parsed.notificationId;
    if (id === undefined) return undefined;
    const now = Date.now();
    const seen = this.seen.get(deviceId) ?? new Map<number, number>();
    this.seen.set(deviceId, seen);
    const last = seen.get(id);
    seen.set(id, now);
    return last !== undefined && now - last < 30_000 ? 'duplicate' : id;
  }

  credentialsCsv(): string {
    const lines = [[...CREDENTIALS_CSV_COLUMNS, 'authType'].join(',')];
    for (const d of this.devices) {
      lines.push(
        [d.deviceId, d.phoneNumber ?? '', this.opts.capabilityOid, `${this.base}/notify/${encodeURIComponent(d.deviceId)}`,
          `u${d.deviceId.slice(5)}`, this.passwords.get(d.deviceId)!, this.serverPasswords.get(d.deviceId)!, this.opts.authType ?? 'md5'].join(','),
      );
    }
    return `${lines.join('\n')}\n`;
  }

  async stop(): Promise<void> {
    for (const d of this.devices) d.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
