/**
 * Observability as an operator sees it: one correlation id from a SOAP call
 * through its BullMQ job, its task, the DM session that carries its request
 * and the Generic Alert that ends it (the gateway's JSON log lines at debug),
 * and /metrics after real work (DM sessions, notifications, tasks and jobs by
 * state as the database has them, queue depths, SOAP latency with a bounded
 * set of operation labels).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withCorrelation } from '../../src/observability/correlation.js';
import { createLogger } from '../../src/observability/logger.js';
import { enableLongExec } from '../../src/simulator/long-exec.js';
import type { SimulatedDevice } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { CAPABILITY } from '../support/fixtures.js';
import { call, envelope, passwordTextHeader, type SoapClient, soapClient } from '../support/soap.js';
import { postgresUrl } from '../support/postgres.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

interface LogLine {
  msg: string;
  level: number;
  correlationId?: string;
  [key: string]: unknown;
}

const lines: LogLine[] = [];
let partial = '';
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) if (p) lines.push(JSON.parse(p) as LogLine);
    done();
  },
});

const pgUrl = await postgresUrl();
// PostgreSQL when one answers (test/support/postgres.ts; required under CI).
const databases = [
  { name: 'SQLite', url: undefined },
  ...(pgUrl ? [{ name: 'PostgreSQL', url: pgUrl }] : []),
];

let rig: DmRig;
let broker: SoapClient;
let bulk: SoapClient;
const device = (i: number) => rig.fleet.devices[i] as SimulatedDevice;

/** A query with `?` parameters on either database. */
function query(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  let n = 0;
  const text = rig.gw.dataSource.options.type === 'postgres' ? sql.replace(/\?/g, () => `$${++n}`) : sql;
  return rig.gw.dataSource.query(text, params);
}

const execOperation = (uri: string) =>
  `<t:operation><t:name>EXEC</t:name><t:commands><t:command><t:verb>Exec</t:verb><t:uri>${uri}</t:uri></t:command></t:commands>` +
  '<t:awaitResult>true</t:awaitResult></t:operation>';

/** doOperation over raw HTTP, so the test chooses the X-Correlation-Id header and reads the answer's. */
async function doOperation(i: number, operationXml: string, headers: Record<string, string> = {}) {
  const body =
    `<t:doOperation><t:userSession></t:userSession>${operationXml}<t:phoneNumber>${device(i).phoneNumber}</t:phoneNumber>` +
    '<t:bOptin>false</t:bOptin><t:acceptDevicePolicy>30</t:acceptDevicePolicy><t:testCycle>false</t:testCycle></t:doOperation>';
  const r = await fetch(`${rig.gw.url}/dmwsi/DeploymentBroker`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""', ...headers },
    body: envelope(body, passwordTextHeader(ADMIN.username, ADMIN.password)),
  });
  const text = await r.text();
  const taskId = /<(?:\w+:)?taskId>([^<]+)</.exec(text)?.[1];
  if (!taskId) throw new Error(`doOperation failed: ${text}`);
  return { taskId, correlationId: r.headers.get('x-correlation-id') };
}

async function statusOf(taskId: string): Promise<string> {
  return (await call<{ taskData: { status: string } }>(broker, 'getTaskById', { userSession: '', taskId })).taskData.status;
}

const reaches = (taskId: string, status: string, ms = 20_000) =>
  waitFor(async () => ((await statusOf(taskId)) === status ? true : undefined), ms, `task ${taskId} ${status}`);

async function metricsText(): Promise<string> {
  return (await fetch(`${rig.gw.url}/metrics`)).text();
}

/** The value of one sample line, e.g. `dmwsi_tasks{state="COMPLETED"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

describe.each(databases)('on $name', ({ url }) => {
  beforeAll(async () => {
    lines.length = 0;
    rig = await startDmRig({
      devices: 6,
      gateway: { logger: createLogger('debug', 'dmwsi', sink), stateMetricsTtl: { ms: 0, endedTasksMs: 0 } },
      overrides: { logLevel: 'debug', longOperationSeconds: 30, taskRetrySeconds: 600, soapMaxBodyBytes: 256 * 1024 },
      ...(url ? { postgresUrl: url } : {}),
    });
    broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
    bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  });
  afterAll(() => rig?.stop());

  describe('the correlation id', () => {
    it('is the caller’s X-Correlation-Id on the SOAP call, the worker’s job, the DM session and the final Generic Alert of its task', async () => {
      enableLongExec(device(0), { uri: './Ext/Sim/Install', afterMs: 300 });
      const id = 'trace-0123456789abcdef';
      const { taskId, correlationId } = await doOperation(0, execOperation('./Ext/Sim/Install'), { 'x-correlation-id': id });
      expect(correlationId).toBe(id);
      await reaches(taskId, 'COMPLETED');
      const stored = await query('SELECT correlation_id AS c FROM task WHERE task_id = ?', [taskId]);
      expect(stored).toEqual([{ c: id }]);

      const mine = lines.filter((l) => l.correlationId === id);
      const messages = new Set(mine.map((l) => l.msg));
      expect(mine.find((l) => l.msg === 'SOAP call')).toMatchObject({ operation: 'doOperation', service: 'DeploymentBroker' });
      expect(mine.filter((l) => l.msg === 'task job').map((l) => l.job)).toEqual(expect.arrayContaining(['notify']));
      expect(messages).toContain('DM request taken into the session');
      expect(mine.find((l) => l.msg === 'DM request answered')).toMatchObject({ requestId: expect.stringContaining(taskId), statuses: [202] });
      expect(mine.find((l) => l.msg === 'Generic Alert read as a final alert')).toMatchObject({
        taskId,
        correlator: `exec-${taskId}`,
        reading: { ends: true, to: 'COMPLETED' },
      });
      // Nothing of this task's trail is logged under another id.
      const elsewhere = lines.filter((l) => l.correlationId !== undefined && l.correlationId !== id && JSON.stringify(l).includes(taskId));
      expect(elsewhere).toEqual([]);
    });

    it('is named in the answer and on the log line of a call refused before it is read (a body over the limit)', async () => {
      const id = 'too-large-000001';
      const r = await fetch(`${rig.gw.url}/dmwsi/DeploymentBroker`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', 'x-correlation-id': id },
        body: envelope(`<t:getStatus><t:userSession>${'x'.repeat(rig.gw.config.soapMaxBodyBytes)}</t:userSession></t:getStatus>`),
      });
      expect(r.status).toBe(500);
      expect(r.headers.get('x-correlation-id')).toBe(id);
      expect(lines.find((l) => l.correlationId === id && l.msg === 'SOAP fault')).toMatchObject({ code: 'InvalidArgument' });
    });

    it('is made for a call without one, or with a malformed one, and differs per call', async () => {
      const a = await doOperation(1, execOperation('./Ext/Sim/Nothing'));
      const b = await doOperation(2, execOperation('./Ext/Sim/Nothing'), { 'x-correlation-id': 'not well formed; "quoted" text' });
      const c = await doOperation(3, execOperation('./Ext/Sim/Nothing'), { 'x-correlation-id': 'x'.repeat(65) });
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
      for (const r of [a, b, c]) expect(r.correlationId).toMatch(uuid);
      expect(new Set([a.correlationId, b.correlationId, c.correlationId]).size).toBe(3);
      expect(lines.some((l) => JSON.stringify(l).includes('not well formed'))).toBe(false);
      for (const r of [a, b, c]) {
        expect(lines.some((l) => l.msg === 'SOAP call' && l.correlationId === r.correlationId)).toBe(true);
      }
    });

    it('is the task’s own on work queued without one (the stalled-task sweep, the resume at start)', async () => {
      const ctx = { caller: 'test', operation: 'setup' };
      const phoneNumber = '+15550001234';
      await rig.gw.deviceManager.createDeviceInstance(ctx, { deviceId: 'IMEI:490154203237518', phoneNumber, capabilityOid: CAPABILITY.oid });
      const id = 'sweep-0000000001';
      const taskId = await withCorrelation(id, () =>
        rig.gw.broker.doOperation({ ...ctx, correlationId: id }, {
          operation: { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] },
          phoneNumber,
          bOptin: false,
          acceptDevicePolicy: 30,
          testCycle: false,
        }),
      );
      // The device has no notification channel: the task waits NOTIFYING for it. Its first try logs
      // after the move: that line must be in before the sweep's is looked for.
      await reaches(taskId, 'NOTIFYING');
      await waitFor(() => lines.some((l) => l.msg === 'device notified' && l.taskId === taskId) || undefined);
      const seen = lines.length;
      await withCorrelation(undefined, () => rig.gw.broker.processNotify(taskId, true));
      const notified = lines.slice(seen).filter((l) => l.msg === 'device notified' && l.taskId === taskId);
      expect(notified).toEqual([expect.objectContaining({ correlationId: id, channel: 'none', delivered: false })]);
    });

    it('is kept on a bulk job and every task it creates', async () => {
      const id = 'job-call-00000001';
      bulk.addHttpHeader('X-Correlation-Id', id);
      try {
        const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
          userSession: '',
          operation: { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Man' }] } },
          targets: [device(4).devId, device(5).devId],
        });
        const job = await query('SELECT correlation_id AS c FROM job WHERE job_id = ?', [jobId]);
        expect(job).toEqual([{ c: id }]);
        const tasks = await query('SELECT correlation_id AS c FROM task WHERE job_id = ?', [jobId]);
        expect(tasks).toEqual([{ c: id }, { c: id }]);
        await waitFor(async () => {
          const open = await query("SELECT COUNT(*) AS n FROM task WHERE job_id = ? AND status <> 'COMPLETED'", [jobId]);
          return Number(open[0]!.n) === 0 ? true : undefined;
        }, 20_000, 'the job’s tasks COMPLETED');
        expect(lines.some((l) => l.correlationId === id && l.msg === 'DM request answered')).toBe(true);
      } finally {
        bulk.clearHttpHeaders();
      }
    });
  });

  describe('/metrics after real work', () => {
    it('counts DM sessions, notifications, tasks and jobs by state as the database has them, and queue depths', async () => {
      // On PostgreSQL a job ends just after the commit that ended its last task (job-counters.ts): on a
      // loaded box that look can come after the tasks read COMPLETED, so wait for it before the first scrape.
      await waitFor(async () => {
        const running = await query("SELECT COUNT(*) AS n FROM job WHERE status = 'RUNNING'");
        return Number(running[0]!.n) === 0 ? true : undefined;
      }, 20_000, 'the job ended');
      let text = await metricsText();
      const tasks = await query('SELECT status, COUNT(*) AS n FROM task GROUP BY status');
      expect(tasks.length).toBeGreaterThan(0);
      for (const state of ['QUEUED', 'NOTIFYING', 'IN_SESSION', 'SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED']) {
        const inDb = Number(tasks.find((t) => t.status === state)?.n ?? 0);
        expect(sample(text, `dmwsi_tasks{state="${state}"}`), state).toBe(inDb);
      }
      const completed = Number(tasks.find((t) => t.status === 'COMPLETED')?.n ?? 0);
      expect(completed).toBeGreaterThanOrEqual(3);
      expect(sample(text, 'dmwsi_jobs{state="COMPLETED"}')).toBe(1);
      expect(sample(text, 'dmwsi_jobs{state="RUNNING"}')).toBe(0);
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        expect(sample(text, `dmwsi_queue_jobs{queue="tasks",state="${state}"}`), state).toBeGreaterThanOrEqual(0);
      }
      // Every task woke its device (HTTP to the fleet's listener) and ran in a session of its own or more
      // (the last session's end is counted just after its outcomes were handed over: wait for it).
      text = await waitFor(async () => {
        const t = await metricsText();
        return (sample(t, 'dmwsi_dm_sessions_completed_total') ?? 0) >= completed ? t : undefined;
      }, 5000, 'the sessions counted');
      expect(sample(text, 'dmwsi_dm_sessions_started_total')).toBeGreaterThanOrEqual(completed);
      expect(sample(text, 'dmwsi_dm_sessions_completed_total')).toBeGreaterThanOrEqual(completed);
      expect(sample(text, 'dmwsi_dm_session_duration_seconds_count{outcome="completed"}')).toBe(sample(text, 'dmwsi_dm_sessions_completed_total'));
      expect(sample(text, 'dmwsi_notifications_sent_total{channel="http",purpose="trigger"}')).toBeGreaterThanOrEqual(completed);
      // The device registered without a notification channel (above): its task's two attempts.
      expect(sample(text, 'dmwsi_notifications_failed_total{channel="none",purpose="trigger",retryable="false"}')).toBe(2);
      expect(sample(text, 'dmwsi_soap_requests_total{service="DeploymentBroker",operation="doOperation",outcome="ok"}')).toBeGreaterThanOrEqual(4);
    });

    it('counts a session refused before it started (a device no longer registered) as failed, by reason, with no duration', async () => {
      const before = await metricsText();
      const failed = (t: string) => sample(t, 'dmwsi_dm_sessions_failed_total{reason="unknown-device"}') ?? 0;
      await rig.gw.deviceManager.deleteDeviceInstance({ caller: 'test', operation: 'setup' }, device(5).devId);
      await device(5).runSession({ kind: 'client-initiated' });
      const after = await metricsText();
      expect(failed(after)).toBe(failed(before) + 1);
      expect(sample(after, 'dmwsi_dm_sessions_started_total')).toBe(sample(before, 'dmwsi_dm_sessions_started_total'));
      expect(sample(after, 'dmwsi_dm_session_duration_seconds_count{outcome="failed"}')).toBe(
        sample(before, 'dmwsi_dm_session_duration_seconds_count{outcome="failed"}'),
      );
    });

    it('gives an unknown SOAP operation the label "unknown", never its name', async () => {
      const before = sample(await metricsText(), 'dmwsi_soap_requests_total{service="DeploymentBroker",operation="unknown",outcome="InvalidArgument"}') ?? 0;
      for (const name of ['noSuchOperation', 'anotherMadeUpName']) {
        const r = await fetch(`${rig.gw.url}/dmwsi/DeploymentBroker`, {
          method: 'POST',
          headers: { 'content-type': 'text/xml; charset=utf-8' },
          body: envelope(`<t:${name}><t:userSession></t:userSession></t:${name}>`),
        });
        expect(r.status).toBe(500);
      }
      const text = await metricsText();
      expect(text).not.toContain('noSuchOperation');
      expect(text).not.toContain('anotherMadeUpName');
      expect(sample(text, 'dmwsi_soap_requests_total{service="DeploymentBroker",operation="unknown",outcome="InvalidArgument"}')).toBe(before + 2);
    });
  });
});
