/**
 * A gateway killed (SIGKILL) while it writes the tasks of a createDeployments
 * by targetFilter over 20,000 devices: the job is left CREATED, its cursor
 * where the last chunk committed. A worker that starts afterwards finishes the
 * job from that cursor: every device gets exactly one task, sequence 1..n
 * without a gap, one history row each, and the job's counters say so.
 * Runs the compiled CLI as a user does (needs a build: npx tsc -p tsconfig.build.json).
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { type Gateway, startGateway } from '../../src/main/gateway.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { CSV_HEADER } from '../support/csv.js';
import { call, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEVICES = 20_000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-expansion-crash-'));
const file = path.join(dir, 'gw.sqlite');
const secretKey = crypto.randomBytes(32).toString('hex');
const queuePrefix = `test-${crypto.randomBytes(4).toString('hex')}`;
let worker: Gateway | undefined;
afterAll(async () => {
  await worker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `dmwsi serve --role api` in its own process, chunks of 100 devices; resolves with its URL once listening. */
function startApiProcess(): Promise<{ url: string; kill: () => Promise<void> }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'dmwsi.mjs'), 'serve', '--role', 'api'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      DATA_DIR: dir,
      DATABASE_URL: `sqlite:${file}`,
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: queuePrefix,
      DMWSI_SECRET_KEY: secretKey,
      DMWSI_ADMIN_PASSWORD: ADMIN.password,
      EXPANSION_CHUNK_DEVICES: '100',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "gateway listening" within 60 s\n${out}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before listening\n${out}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"gateway listening"'));
      if (!line) return;
      clearTimeout(timer);
      resolve({
        url: (JSON.parse(line) as { url: string }).url,
        kill: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

it('finishes a filter job whose writer was killed mid-way, without a duplicate or a lost target', { timeout: 120_000 }, async () => {
  const api = await startApiProcess();
  const dm = await soapClient(api.url, 'DeviceManager', { kind: 'text', ...ADMIN });
  const bulk = await soapClient(api.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  await call(dm, 'createDeviceCapability', { userSession: '', capability: CAPABILITY });
  const lines = [CSV_HEADER];
  for (let i = 0; i < DEVICES; i++) lines.push(`${imeiN(i)},${phoneN(i)},${CAPABILITY.oid},,,,`);
  await call(dm, 'importDeviceInstances', { userSession: '', csv: lines.join('\n') });

  // The call is left to run; the process is killed once a tenth of the tasks are written.
  const db = new Database(file, { readonly: true });
  void call(bulk, 'createDeployments', {
    userSession: '',
    operation: { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } },
    options: { startAt: new Date(Date.now() + 3600_000).toISOString(), targetFilter: { allDevices: true } },
  }).catch(() => undefined);
  const progress = () => db.prepare('SELECT next_seq AS next, done FROM job_expansion').get() as { next: number; done: number } | undefined;
  await waitFor(async () => ((progress()?.next ?? 0) > DEVICES / 10 ? true : undefined), 60_000, 'a tenth of the tasks written');
  await api.kill();
  const left = progress()!;
  const [job] = db.prepare('SELECT job_id AS jobId, status, total FROM job').all() as { jobId: string; status: string; total: number }[];
  db.close();
  expect(left.done).toBe(0);
  expect(job!.status).toBe('CREATED');
  expect(job!.total).toBe(left.next - 1);
  expect(job!.total).toBeLessThan(DEVICES);

  // A worker starts: it queues a tick for every CREATED job, and the tick finishes the writing first.
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      role: 'worker',
      redisUrl: inject('redisUrl'),
      dataDir: dir,
      databaseUrl: `sqlite:${file}`,
      secretKey,
      queuePrefix,
      adminPassword: ADMIN.password,
      logLevel: 'silent',
    },
  );
  worker = await startGateway(config);
  const jobId = job!.jobId;
  const done = await waitFor(
    async () => {
      const j = await worker!.bulk.getJobById(jobId);
      return j.total === DEVICES ? j : undefined;
    },
    60_000,
    'the job written to the end',
  );
  expect(done).toMatchObject({ status: 'CREATED', total: DEVICES, queued: DEVICES });
  const rows = (await worker.dataSource.query(
    'SELECT COUNT(*) AS n, COUNT(DISTINCT device_id) AS devices, MIN(job_seq) AS lo, MAX(job_seq) AS hi, ' +
      '(SELECT COUNT(*) FROM task_history h JOIN task t2 ON t2.task_id = h.task_id WHERE t2.job_id = ?) AS history FROM task WHERE job_id = ?',
    [jobId, jobId],
  )) as { n: number; devices: number; lo: number; hi: number; history: number }[];
  expect(rows[0]).toEqual({ n: DEVICES, devices: DEVICES, lo: 1, hi: DEVICES, history: DEVICES });
  const history = await worker.bulk.getJobHistory(jobId, { offset: 0, limit: 10 });
  expect(history.map((h) => h.event)).toEqual(['created', 'targets-expanded']);
});
