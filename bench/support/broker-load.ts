/**
 * Helpers of the deployment broker benchmark: the simulated fleet in its own
 * process (`dmwsi simulate`), CPU time of a process from /proc, raw SOAP
 * calls, autocannon as a promise, and a read-only view of the gateway's task
 * table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import type { FleetStats } from '../../src/simulator/fleet.js';
import { FLEET_NODE_ARGS, ROOT, type Started } from './processes.js';

export const NS = 'urn:dmwsi-gateway:1.0';

export function envelope(body: string, header = ''): string {
  const head = header ? `<s:Header>${header}</s:Header>` : '';
  return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="${NS}">${head}<s:Body>${body}</s:Body></s:Envelope>`;
}

export const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function soapCall(url: string, body: string): Promise<string> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: envelope(body) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`SOAP call failed (${r.status}): ${text.slice(0, 400)}`);
  return text;
}

/**
 * Registers devices through importDeviceInstances, `chunk` CSV rows (after the
 * header) per call; throws unless every row of a call was stored.
 */
export async function importCsvRows(deviceManagerUrl: string, session: string, header: string, rows: string[], chunk: number): Promise<void> {
  for (let i = 0; i < rows.length; i += chunk) {
    const part = rows.slice(i, i + chunk);
    const answer = await soapCall(
      deviceManagerUrl,
      `<t:importDeviceInstances><t:userSession>${session}</t:userSession><t:csv>${escapeXml([header, ...part].join('\n'))}</t:csv></t:importDeviceInstances>`,
    );
    const count = Number(/<imported>(\d+)<\/imported>/.exec(answer)?.[1]);
    if (count !== part.length) throw new Error(`import stored ${count} of ${part.length} rows: ${answer.slice(0, 400)}`);
  }
}

export function load(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/**
 * CPU seconds every process named `name` (its /proc comm, e.g. "postgres": the server and each
 * backend) has used so far, with what their exited children used (cutime and cstime: the
 * PostgreSQL server reaps its backends, so a pool connection closed mid-window, idle past the
 * pool's timeout, still counts); undefined where there is no /proc. Read synchronously, and each pid's name once: the fleet bench calls
 * this every second on a box whose two cores the measured processes share, and a promise-based
 * read of every pid's comm (four thread-pool round trips each) cost the bench process a few
 * percent of a core.
 */
export async function cpuSecondsOfAll(name: string): Promise<number | undefined> {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  let total = 0;
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    let comm = commOf.get(pid);
    if (comm === undefined) {
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        continue; // gone meanwhile
      }
      commOf.set(pid, comm);
    }
    if (comm === name) total += cpuSecondsNow(Number(pid), true) ?? 0;
  }
  return total;
}

/** Each pid's /proc comm as first read (a pid reused within one bench run by another program is unlikely). */
const commOf = new Map<string, string>();

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
export async function cpuSecondsOf(pid: number | undefined): Promise<number | undefined> {
  return pid === undefined ? undefined : cpuSecondsNow(pid);
}

/** `reaped`: with the CPU of its exited children it waited for. */
function cpuSecondsNow(pid: number, reaped = false): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime (14) + stime (15), and cutime (16) + cstime (17)
    const ticks = Number(rest[11]) + Number(rest[12]) + (reaped ? Number(rest[13]) + Number(rest[14]) : 0);
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

export interface FleetProcessOptions {
  devices: number;
  /** The gateway's DM URL. */
  serverUrl: string;
  listenPort: number;
  csvPath: string;
  capabilityOid: string;
  imeiStart: string;
  phonePrefix: string;
  secretSeed: string;
  maxSessions: number;
  /** Options for node itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** More `simulate` options (e.g. --fumo-root ./FUMO). */
  simulateArgs?: string[];
}

export interface FleetProcess extends Started {
  url: string;
  stats(): Promise<FleetStats>;
}

/**
 * Runs `dmwsi simulate` as a child process and resolves once it has written
 * the credentials CSV (its listener is up by then).
 */
export async function startFleetProcess(o: FleetProcessOptions, timeoutMs = 120_000): Promise<FleetProcess> {
  const args = [
    ...FLEET_NODE_ARGS,
    ...(o.nodeArgs ?? []),
    path.join(ROOT, 'bin', 'dmwsi.mjs'),
    'simulate',
    '--devices',
    String(o.devices),
    '--server',
    o.serverUrl,
    '--listen',
    `127.0.0.1:${o.listenPort}`,
    '--credentials-csv',
    o.csvPath,
    '--capability-oid',
    o.capabilityOid,
    '--imei-start',
    o.imeiStart,
    '--phone-prefix',
    o.phonePrefix,
    '--secret-seed',
    o.secretSeed,
    '--max-sessions',
    String(o.maxSessions),
    '--stats-interval',
    '0',
    ...(o.simulateArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  const url = `http://127.0.0.1:${o.listenPort}`;
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`simulate did not write its CSV within ${timeoutMs} ms`)), timeoutMs);
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`simulate exited (${code}) before it was ready: ${out.slice(-400)}`));
      };
      child.once('exit', onExit);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        if (out.length < 65536) out += chunk;
        if (/credentials written/.test(out)) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve();
        }
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    child,
    url,
    stop,
    async stats() {
      const r = await fetch(`${url}/stats`);
      return (await r.json()) as FleetStats;
    },
  };
}

/** Read-only view of the gateway's SQLite task table (WAL: reading never blocks the gateway's writes). */
export class TaskTable {
  private readonly db: Database.Database;
  private readonly byStatus: Database.Statement<[], { status: string; n: number }>;
  private readonly byStatusOf: Database.Statement<[string], { status: string; n: number }>;

  constructor(file: string) {
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 1000');
    this.byStatus = this.db.prepare('SELECT status, count(*) AS n FROM task GROUP BY status');
    this.byStatusOf = this.db.prepare('SELECT status, count(*) AS n FROM task WHERE operation_name = ? GROUP BY status');
  }

  /** Task count per status (of one operation, when given). */
  counts(operationName?: string): Record<string, number> {
    const out: Record<string, number> = {};
    const rows = operationName === undefined ? this.byStatus.all() : this.byStatusOf.all(operationName);
    for (const row of rows) out[row.status] = row.n;
    return out;
  }

  close(): void {
    this.db.close();
  }
}

export const sumCounts = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
export const formatCounts = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

/** Commands Redis has run, per command (INFO commandstats). */
export async function redisCommandCalls(redis: { info(section: string): Promise<string> }): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Per-command growth between two `redisCommandCalls`, biggest first, and the total. */
export function commandGrowth(a: Record<string, number>, b: Record<string, number>): { total: number; top: [string, number][] } {
  const rows: [string, number][] = Object.entries(b)
    .map(([k, v]): [string, number] => [k, v - (a[k] ?? 0)])
    .filter(([, v]) => v > 0)
    .sort((x, y) => y[1] - x[1]);
  return { total: rows.reduce((s, [, v]) => s + v, 0), top: rows };
}

/** DM messages the gateway has answered so far, by HTTP status (from its /metrics). */
export async function dmMessagesByStatus(gatewayBase: string): Promise<Record<string, number>> {
  const r = await fetch(`${gatewayBase}/metrics`).catch(() => undefined);
  const text = r?.ok ? await r.text() : '';
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^dmwsi_dm_message_duration_seconds_count\{status="(\d+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/**
 * SIGTERM, then SIGKILL only after `graceMs`: a gateway with work in flight
 * (and a CPU profile to write) can take longer to close than Started.stop's 5 s.
 */
export function stopPatiently(child: ChildProcess, graceMs = 30_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
