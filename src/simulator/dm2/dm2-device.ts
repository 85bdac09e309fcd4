/**
 * A simulated DM 2.0 device: the same management tree as a DM 1.2 simulated
 * device (DevInfo, DevDetail, a SingleShotExec MO, executable nodes), spoken
 * to in DM 2.0 JSON packages over HTTP (seed 001): Package#1 with
 * `OMADM-DevID`, the server's command list run in order, Package#3 with one
 * status per command, in order, to the URI CONT gave, until END.
 *
 * Behaviour where the notes leave it open follows the gateway's choices in
 * src/dm2/constants.ts (they are the same choices, seen from the client):
 * - GET answers `{"sc":200,"Data":…,"DataType":…}`.
 * - HGET fetches ServerURI and stores it at ClientURI: created when absent,
 *   replaced when present; the media type `application/vnd.oma.dm.node`
 *   makes an interior node; the `x-omadm-format` header gives the Format.
 * - EXEC with a ServerURI reports asynchronously: 202 now, and later a
 *   Package#1 POSTed to that ServerURI carrying a Generic Alert (Data = the
 *   result code, SourceURI = the executed ClientURI). Without one, the status
 *   comes in Package#3 (synchronous).
 * - A SingleShotExec Go with a ServerURI is armed (202); at AtTime the target
 *   runs once and the SSE report goes, as a Generic Alert, to that ServerURI.
 * - Authentication: HTTP Basic when the account is `basic`, else Digest
 *   (SHA-256) answering the server's 401 challenge, the nonce kept for later
 *   requests.
 */
import { toDevicePath } from '../../dm2/client-uri.js';
import {
  ALERT_CLIENT_INITIATED,
  ALERT_SERVER_INITIATED,
  DEVID_HEADER,
  FORMAT_HEADER,
  INTERIOR_NODE_MEDIA_TYPE,
  MEDIA_PACKAGE1,
  MEDIA_PACKAGE2,
  MEDIA_PACKAGE3,
} from '../../dm2/constants.js';
import { digestAuthorization } from '../../dm2/http-auth.js';
import { Dm2HttpClient, type Dm2TlsOptions } from './dm2-http.js';
import type { AlertCommand } from '../../dm/codec/types.js';
import { applyEdits, DEFAULT_DELIVERY, type DeliveryContext, newDeliveryCounters } from '../mo/delivery.js';
import { defineFumoMo, installFumoClient, runFumoJob } from '../mo/fumo.js';
import { defineScomoMo, installScomoClient, runScomoJob } from '../mo/scomo.js';
import { fireSchedule, installSseClient, type SseSchedule } from '../tree/sse.js';
import type { ManagementTree } from '../tree/management-tree.js';
import { createStandardTree } from '../tree/standard-tree.js';

/** The alert type the simulator reports an asynchronous EXEC's outcome with (any type is accepted by the gateway). */
export const SIM_EXEC_RESULT_ALERT = 'org.dmwsi.simulator.execresult';

export interface Dm2DeviceOptions {
  deviceId: string;
  phoneNumber?: string;
  /** The gateway's `/dm2` URL. */
  serverUrl: string;
  authType: 'basic' | 'md5';
  clientUsername: string;
  clientPassword: string;
  /** Default `./SSE`; false: none. */
  sseRoot?: string | false;
  /** Executable nodes; default `./Ext/Sim/Reboot`, `./FUMO/fw1/Update`. */
  execTargets?: readonly string[];
  /** A FUMO node (e.g. `./FUMO`) and a SCOMO root (e.g. `./SCOMO`): long operations answered 202, reported later. */
  fumoRoot?: string;
  scomoRoot?: string;
  /** false: GET (optional for clients) is answered 501, and values leave only by HPOST/HPUT. Default true. */
  getSupported?: boolean;
  /** Simulated install time of FUMO/SCOMO jobs; default 1000 ms. */
  installMs?: number;
  /**
   * TLS: a client certificate or a PSK. With either, the device sends no Authorization header
   * (the TLS identity authenticates it, contract); `authType` then only says what it would use.
   */
  tls?: Dm2TlsOptions;
  /** How long a post waits for the server's answer before the device gives up; default 30 s. */
  httpTimeoutMs?: number;
}

interface JsonAlert {
  AlertType: string;
  NotificationID?: number;
  SourceURI?: string;
  Mark?: string;
  DataType?: string;
  /** Text, or DM 1.x alert content wrapped as `{"DM1x": …}` (notes §7). */
  Data?: string | { DM1x: string };
}

interface JsonStatus {
  sc: number;
  URI?: string[];
  Data?: string;
  DataType?: string;
}

export interface Dm2SessionReport {
  ok: boolean;
  /** Commands received, by name. */
  commands: string[];
  error?: string;
}

export class Dm2SimulatedDevice {
  readonly deviceId: string;
  readonly phoneNumber: string | undefined;
  readonly tree: ManagementTree;
  readonly sessions: Dm2SessionReport[] = [];
  /** Whether GET is supported (optional for clients); false answers it 501. */
  getSupported: boolean;
  /** HTTP posts made (a 401 challenge and its retry count as two). */
  messages = 0;
  /** Keep only the last this many session reports (a bench runs thousands). */
  keepSessions = 1000;
  private readonly opts: Dm2DeviceOptions;
  private digestChallenge: string | undefined;
  private nc = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly longExecs = new Map<string, { afterMs: number; resultCode: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly execs = new Map<string, number>();
  private readonly http: Dm2HttpClient;

  constructor(opts: Dm2DeviceOptions) {
    this.opts = opts;
    this.getSupported = opts.getSupported !== false;
    this.http = new Dm2HttpClient(opts.tls, opts.httpTimeoutMs);
    this.deviceId = opts.deviceId;
    this.phoneNumber = opts.phoneNumber;
    this.tree = createStandardTree({
      devId: opts.deviceId,
      man: 'DmwsiSim',
      mod: 'SimPhone-2',
      dmV: '1.2',
      lang: 'en-US',
      fwV: '1.0.0',
      swV: '1.0.0',
      hwV: 'rev-a',
      devTyp: 'phone',
      oem: 'DmwsiSim',
      lrgObj: true,
    });
    this.tree.setValue('./DevInfo/DmV', '2.0');
    // A place the server may write: UPDATE and DELETE of settings under it.
    this.tree.define('./Ext/Sim', { format: 'node', access: ['Get', 'Add'] });
    for (const uri of opts.execTargets ?? (opts.fumoRoot ? ['./Ext/Sim/Reboot'] : ['./Ext/Sim/Reboot', './FUMO/fw1/Update'])) {
      if (!this.tree.exists(uri)) this.tree.define(uri, { format: 'chr', data: '', access: ['Get', 'Exec'] });
    }
    const sseRoot = opts.sseRoot ?? './SSE';
    if (sseRoot !== false) installSseClient(this.tree, { root: sseRoot, arm: (s) => this.arm(s) });
    // FUMO and SCOMO: the DM 1.2 simulator's MOs and jobs; the job's final alert goes out in DM 2.0 form.
    if (opts.fumoRoot) {
      defineFumoMo(this.tree, opts.fumoRoot);
      installFumoClient(this.tree, opts.fumoRoot, (job) => this.startJob(() => runFumoJob(this.deliveryContext(), job)));
    }
    if (opts.scomoRoot) {
      defineScomoMo(this.tree, opts.scomoRoot);
      installScomoClient(this.tree, opts.scomoRoot, (job) => this.startJob(() => runScomoJob(this.deliveryContext(), job)));
    }
  }

  private startJob(run: () => Promise<void>): void {
    setImmediate(() => void run().catch(() => undefined));
  }

  private deliveryContext(): DeliveryContext {
    this.deliveryCounters ??= newDeliveryCounters();
    return {
      options: { ...DEFAULT_DELIVERY, installMs: this.opts.installMs ?? DEFAULT_DELIVERY.installMs },
      counters: this.deliveryCounters,
      fwVUri: './DevDetail/FwV',
      random: Math.random,
      read: (fn) => fn(this.tree),
      edit: (edits) => applyEdits(this.tree, edits),
      wait: (ms) => new Promise<void>((resolve) => this.later(ms, resolve)),
      report: (alert) => void this.reportDm1Alert(alert),
    };
  }

  private deliveryCounters: ReturnType<typeof newDeliveryCounters> | undefined;

  /** A DM 1.x Generic Alert (what the FUMO/SCOMO jobs build) sent in DM 2.0 form, to its EXEC's ServerURI. */
  private reportDm1Alert(alert: AlertCommand): Promise<Dm2SessionReport> {
    const alerts: JsonAlert[] = alert.items.map((item) => ({
      AlertType: item.meta?.type ?? '',
      ...(item.source?.locUri !== undefined ? { SourceURI: item.source.locUri } : {}),
      ...(item.meta?.mark !== undefined ? { Mark: item.meta.mark } : {}),
      DataType: 'text/plain',
      // FUMO/SCOMO are DM 1.x MOs: their alert data travels wrapped as DM 1.x content.
      Data: { DM1x: item.data === undefined ? '' : typeof item.data === 'string' ? item.data : item.data.toString('utf8') },
    }));
    const url = (alert.correlator !== undefined ? this.reportUrls.get(alert.correlator) : undefined) ?? this.opts.serverUrl;
    return this.runSession('client', alerts, url);
  }

  /** correlator → the ServerURI its EXEC named (where its report goes). */
  private readonly reportUrls = new Map<string, string>();

  /** Exec on `uri` with a ServerURI answers 202 and reports `resultCode` after `afterMs`. */
  enableLongExec(uri: string, afterMs: number, resultCode: number): void {
    this.longExecs.set(uri, { afterMs, resultCode });
  }

  executionCount(uri: string): number {
    return this.tree.execCount(uri);
  }

  /** A server-initiated session (the answer to a notification); sessions run one at a time. */
  runSession(initiator: 'server' | 'client' = 'server', alerts: JsonAlert[] = [], url = this.opts.serverUrl, notificationId?: number): Promise<Dm2SessionReport> {
    const run = this.chain.then(() => this.session(initiator, alerts, url, notificationId));
    this.chain = run.catch(() => undefined);
    return run;
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.http.close();
  }

  private async session(initiator: 'server' | 'client', alerts: JsonAlert[], url: string, notificationId?: number): Promise<Dm2SessionReport> {
    const report: Dm2SessionReport = { ok: false, commands: [] };
    this.sessions.push(report);
    if (this.sessions.length > this.keepSessions) this.sessions.shift();
    try {
      const opening = {
        AlertType: initiator === 'server' ? ALERT_SERVER_INITIATED : ALERT_CLIENT_INITIATED,
        ...(notificationId !== undefined ? { NotificationID: notificationId } : {}),
      };
      let answer = await this.post(url, MEDIA_PACKAGE1, { Alert: [opening, ...alerts] });
      for (let round = 0; round < 100; round++) {
        const commands = readCommands(answer);
        const statuses: JsonStatus[] = [];
        let next: string | undefined;
        let end = false;
        for (const [name, ...params] of commands) {
          report.commands.push(name);
          if (name === 'END') {
            end = true;
            break;
          }
          if (name === 'CONT') {
            next = params[0];
            statuses.push({ sc: 200 });
            continue;
          }
          statuses.push(await this.run(name, params));
        }
        if (end) {
          report.ok = true;
          return report;
        }
        answer = await this.post(next ?? this.opts.serverUrl, MEDIA_PACKAGE3, { Status: statuses });
      }
      throw new Error('too many packages in one session');
    } catch (err) {
      report.error = (err as Error).message;
      return report;
    }
  }

  private async run(name: string, params: string[]): Promise<JsonStatus> {
    const path = params[name === 'HGET' || name === 'HPUT' || name === 'HPOST' ? 1 : 0];
    const node = path === undefined ? undefined : toDevicePath(path);
    switch (name) {
      case 'GET': {
        if (!this.getSupported) return { sc: 501 };
        if (node === undefined) return { sc: 404 };
        const got = this.tree.get(node);
        if (!got.ok) return { sc: got.status };
        const data = typeof got.data === 'string' ? got.data : Buffer.from(got.data).toString('base64');
        return { sc: 200, Data: data, DataType: got.type ?? 'text/plain' };
      }
      case 'HGET': {
        if (node === undefined) return { sc: 404 };
        const res = await this.http.request(params[0] ?? '', { method: 'GET' });
        if (res.status !== 200) return { sc: 404 };
        const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
        const format = String(res.headers[FORMAT_HEADER] ?? 'chr');
        const bytes = res.body;
        if (type === INTERIOR_NODE_MEDIA_TYPE) return { sc: this.tree.exists(node) ? 200 : this.tree.add(node, { format: 'node' }) };
        const data = format === 'bin' ? bytes : bytes.toString('utf8');
        const content = { format, type, data };
        const sc = this.tree.exists(node) ? this.tree.replace(node, content) : this.tree.add(node, content);
        return sc === 200 ? { sc, URI: [path!] } : { sc };
      }
      case 'DELETE':
        return { sc: node === undefined ? 404 : this.tree.delete(node) };
      case 'EXEC':
        return this.exec(node, params[0] ?? '', params[1] ?? '', params[2]);
      case 'HPUT':
      case 'HPOST': {
        // The ClientURI's value goes to ServerURI (a leaf's value; an interior node's child names).
        if (node === undefined) return { sc: 404 };
        const got = this.tree.get(node);
        if (!got.ok) return { sc: got.status };
        const body = typeof got.data === 'string' ? got.data : Buffer.from(got.data);
        const res = await this.http.request(params[0] ?? '', { method: name === 'HPUT' ? 'PUT' : 'POST', headers: { 'content-type': got.type ?? 'text/plain' }, body });
        return { sc: res.status >= 200 && res.status < 300 ? 200 : 500 };
      }
      case 'SHOW':
      case 'DEFAULT':
        return { sc: 501 };
      default:
        return { sc: 400 };
    }
  }

  private exec(node: string | undefined, clientUri: string, serverUri: string, data: string | undefined): JsonStatus {
    if (node === undefined) return { sc: 404 };
    const long = this.longExecs.get(node);
    // The correlator the server put in the ServerURI: the SSE Go arms with it; reports go there.
    const correlator = serverUri === '' ? undefined : decodeURIComponent(serverUri.slice(serverUri.lastIndexOf('/') + 1));
    const status = this.tree.exec(node, data, correlator);
    this.execs.set(node, (this.execs.get(node) ?? 0) + 1);
    if (serverUri === '' || status >= 300) return { sc: status };
    if (correlator !== undefined) this.reportUrls.set(correlator, serverUri);
    // The node's own handler took it as a long operation (FUMO, SCOMO): its job reports when done.
    if (status === 202) return { sc: 202 };
    if (this.isSseGo(node)) {
      this.goServerUris.set(node.slice(0, -'/Go'.length), serverUri);
      return { sc: 202 };
    }
    const resultCode = long?.resultCode ?? status;
    this.later(long?.afterMs ?? 20, () =>
      this.runSession('client', [{ AlertType: SIM_EXEC_RESULT_ALERT, SourceURI: clientUri, DataType: 'text/plain', Data: String(resultCode) }], serverUri),
    );
    return { sc: 202 };
  }

  private readonly goServerUris = new Map<string, string>();

  private isSseGo(node: string): boolean {
    const root = this.opts.sseRoot ?? './SSE';
    return root !== false && node.startsWith(`${root}/`) && node.endsWith('/Go');
  }

  private arm(schedule: SseSchedule): void {
    this.later(Math.max(0, schedule.atTime.getTime() - Date.now()), () => {
      const fired = fireSchedule(this.tree, schedule, new Date());
      // A timer may fire a millisecond before Date.now() reaches AtTime (Node's timers run on the
      // monotonic clock): armed again, as the DM 1.2 device does, instead of losing the schedule.
      if (!fired.report) {
        if (fired.reason === 'not-due') this.arm(schedule);
        return;
      }
      const r = fired.report;
      const url = this.goServerUris.get(schedule.moUri) ?? this.opts.serverUrl;
      void this.runSession('client', [{ AlertType: r.type, SourceURI: r.source, Mark: r.mark, DataType: 'text/plain', Data: String(r.resultCode) }], url);
    });
  }

  private later(ms: number, fn: () => unknown): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private async post(url: string, contentType: string, body: unknown): Promise<unknown> {
    const bytes = JSON.stringify(body);
    for (let attempt = 0; attempt < 3; attempt++) {
      this.messages += 1;
      const res = await this.http.request(url, {
        method: 'POST',
        headers: { 'content-type': contentType, accept: MEDIA_PACKAGE2, [DEVID_HEADER]: this.deviceId, ...this.authorization(url) },
        body: bytes,
      });
      if (res.status === 401) {
        // node:http joins repeated WWW-Authenticate headers with ", ": split them again at each scheme.
        const challenges = String(res.headers['www-authenticate'] ?? '').split(/,\s*(?=Digest |Basic )/);
        const digest = challenges.find((c) => c.startsWith('Digest') && c.includes('SHA-256'));
        if (this.opts.authType === 'basic' || digest === undefined || attempt === 2) throw new Error(`HTTP 401 from ${url}`);
        this.digestChallenge = digest;
        this.nc = 0;
        continue;
      }
      if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${url}: ${res.body.toString('utf8').slice(0, 200)}`);
      return JSON.parse(res.body.toString('utf8'));
    }
    throw new Error('unreachable');
  }

  private authorization(url: string): Record<string, string> {
    if (this.opts.tls?.psk !== undefined || this.opts.tls?.cert !== undefined) return {};
    if (this.opts.authType === 'basic') {
      return { authorization: `Basic ${Buffer.from(`${this.opts.clientUsername}:${this.opts.clientPassword}`).toString('base64')}` };
    }
    if (this.digestChallenge === undefined) return {};
    const u = new URL(url);
    this.nc += 1;
    return {
      authorization: digestAuthorization({
        challenge: this.digestChallenge,
        method: 'POST',
        uri: `${u.pathname}${u.search}`,
        username: this.opts.clientUsername,
        password: this.opts.clientPassword,
        nc: this.nc,
      }),
    };
  }
}

function readCommands(answer: unknown): [string, ...string[]][] {
  const cmd = (answer as { CMD?: unknown })?.CMD;
  if (!Array.isArray(cmd)) throw new Error('Package#2 without CMD');
  return cmd.map((c) => {
    if (!Array.isArray(c) || c.length === 0 || !c.every((p) => typeof p === 'string')) throw new Error('malformed command');
    return c as [string, ...string[]];
  });
}
