/**
 * A release's notify batch in bulk (DeploymentBroker.processNotifyBatch), on
 * SQLite and PostgreSQL, with a real Redis (request queue, notification gate,
 * task queue) and real HTTP notifications to a local receiver: the common
 * path's tasks end as task-by-task processing left them, a mixed batch
 * behaves exactly as processNotify task by task did, and a batch run again
 * (as after a worker crash) moves, counts and queues nothing twice.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { NO_TASKS_COUNTED, type Job, type JobStatus, type Task, type TaskStatus } from '../../src/domain/tasks.js';
import { TypeormTaskStore } from '../../src/persistence/task-store.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import type { RedisDeviceRequestQueue } from '../../src/queue/device-request-queue.js';
import { SecretBox } from '../../src/security/secret-box.js';
import type { DeploymentBroker } from '../../src/services/broker/deployment-broker.js';
import type { NotifyFailure } from '../../src/services/broker/ports.js';
import { CAPABILITY, deviceRecordN, imeiN, phoneN } from '../support/fixtures.js';
import { freshDatabase } from '../support/fresh-database.js';
import { startStoreBroker } from '../support/store-broker.js';
import { postgresUrl } from '../support/postgres.js';

const pgUrl = await postgresUrl();
const T0 = 1_700_000_000_000;

const backends = [
  { name: 'sqlite', available: true },
  { name: 'postgres', available: pgUrl !== undefined },
] as const;


/** Devices' notification endpoint: answers 503 to the devices listed in `down`, 200 to others. */
async function startReceiver(down: Set<string>) {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const deviceId = decodeURIComponent(req.url!.slice('/push/'.length));
    hits.push(deviceId);
    req.resume();
    req.on('end', () => {
      res.statusCode = down.has(deviceId) ? 503 : 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = (deviceId: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/push/${encodeURIComponent(deviceId)}`;
  return { hits, url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const newJob = (jobId: string, status: JobStatus, total: number): Job => ({
  jobId,
  status,
  operationName: 'QUERY',
  options: {},
  createdBy: 'test',
  createdAt: new Date(T0),
  updatedAt: new Date(T0),
  total,
  ...NO_TASKS_COUNTED,
});

const newTask = (taskId: string, n: number, jobId: string | undefined, status: TaskStatus = 'QUEUED'): Task => ({
  taskId,
  ...(jobId !== undefined && { jobId, jobSeq: n }),
  deviceId: imeiN(n),
  phoneNumber: phoneN(n),
  operation: { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] },
  status,
  results: [],
  bOptin: false,
  acceptDevicePolicy: 30,
  testCycle: false,
  correlationId: `call-${taskId}`,
  createdBy: 'test',
  createdAt: new Date(T0),
  updatedAt: new Date(T0),
});

for (const backend of backends) {
  describe.skipIf(!backend.available)(`a release's notify batch on ${backend.name}`, () => {
    let ds: DataSource;
    let tx: TypeormTransactor;
    let cleanup: () => Promise<void>;
    let requests: RedisDeviceRequestQueue;
    let closeBroker: () => Promise<void>;
    let broker: DeploymentBroker;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    const down = new Set<string>();
    const prefix = `test-nb-${crypto.randomBytes(4).toString('hex')}`;
    /** Devices 1..n registered so far. */
    let registered = 0;

    beforeAll(async () => {
      ({ ds, cleanup } = await freshDatabase(backend.name, pgUrl));
      tx = new TypeormTransactor(ds, new SecretBox(crypto.randomBytes(32)));
      receiver = await startReceiver(down);
      ({ broker, requests, close: closeBroker } = startStoreBroker({ redisUrl: inject('redisUrl'), prefix, tx, now: () => Date.now() }));
      await tx.stores.capabilities.insert({ ...CAPABILITY, dmVersion: '1.2' }, T0);
    });
    afterAll(async () => {
      await receiver?.close();
      await closeBroker?.();
      await cleanup?.();
    });

    /** Registers `count` new devices (their numbers returned), each with its own notification URL. */
    async function devices(count: number): Promise<number[]> {
      const ns = Array.from({ length: count }, () => ++registered);
      for (const n of ns) {
        await tx.stores.devices.insert({ ...deviceRecordN(n, T0), notificationUrl: receiver.url(imeiN(n)) });
      }
      return ns;
    }

    /** A job's tasks, inserted QUEUED and released, in one unit of work. */
    async function releasedJob(jobId: string, status: JobStatus, tasks: Task[]): Promise<void> {
      await tx.run(async (s) => {
        await s.jobs.insert(newJob(jobId, status, tasks.length), 'created');
        for (const t of tasks) await s.tasks.insert(t, 'created');
        await s.jobs.markReleased(tasks.map((t) => t.taskId), T0 + 1);
      });
    }

    const events = async (taskId: string) => (await tx.stores.tasks.history(taskId)).map((h) => h.event);

    it('moves every QUEUED task of a batch to NOTIFYING, queues its request, wakes its device and notes the delivery', async () => {
      const ns = await devices(20);
      const ids = ns.map((n) => `ok-${n}`);
      await releasedJob('job-ok', 'RUNNING', ns.map((n) => newTask(`ok-${n}`, n, 'job-ok')));
      // PostgreSQL: the statements the batch sends (through the pool: none is in a unit of work).
      const pool = backend.name === 'postgres' ? (ds.driver as unknown as { master: { query: (...a: unknown[]) => unknown } }).master : undefined;
      const statements = pool ? vi.spyOn(pool, 'query') : undefined;
      expect(await broker.processNotifyBatch(ids)).toEqual([]);
      if (statements) {
        // Tasks, move, devices; and the device capability's DM version (read once, then cached in-process).
        // The notes go in groups as the sends finish (one here, unless the sends spread over 20 ms).
        const notes = statements.mock.calls.filter(([q]) => JSON.stringify(q).includes('\\"noted\\" AS (UPDATE')).length;
        expect(statements.mock.calls.length - notes).toBe(4);
        expect(notes).toBeGreaterThanOrEqual(1);
        expect(notes).toBeLessThan(20);
        statements.mockRestore();
      }
      for (const [i, id] of ids.entries()) {
        expect(await tx.stores.tasks.get(id)).toMatchObject({ status: 'NOTIFYING' });
        expect(await events(id)).toEqual(['created', 'notifying', 'notification-delivered']);
        const history = await tx.stores.tasks.history(id);
        expect(history[1]).toMatchObject({ fromStatus: 'QUEUED', toStatus: 'NOTIFYING' });
        expect(history[2]).toMatchObject({ fromStatus: 'NOTIFYING', toStatus: 'NOTIFYING', detail: 'http: HTTP 200' });
        // Its request queued for the device's next session, under the id of the call that created it.
        expect(await requests.pending(imeiN(ns[i]!))).toEqual([expect.objectContaining({ requestId: `task:${id}:run`, correlationId: `call-${id}` })]);
      }
      expect(receiver.hits.filter((d) => ns.some((n) => imeiN(n) === d))).toHaveLength(20);
      expect(await tx.stores.jobs.get('job-ok')).toMatchObject({ total: 20, queued: 0, notifying: 20 });
      expect(await tx.stores.jobs.releasedQueued('job-ok')).toBe(0);
    });

    it('handles a mixed batch exactly as task-by-task processing did', async () => {
      // Two twin worlds, one notified in bulk, one task by task (as the batch job did before).
      const world = async (w: string) => {
        const [ok, cancelled, paused, failing] = await devices(4);
        const unknown = 100_000 + registered; // never registered
        down.add(imeiN(failing!));
        const running = [
          newTask(`${w}-ok`, ok!, `${w}-job`),
          newTask(`${w}-cancelled`, cancelled!, `${w}-job`),
          newTask(`${w}-unknown-device`, unknown, `${w}-job`),
          newTask(`${w}-failing`, failing!, `${w}-job`),
        ];
        await releasedJob(`${w}-job`, 'RUNNING', running);
        await releasedJob(`${w}-paused`, 'PAUSED', [newTask(`${w}-paused`, paused!, `${w}-paused`)]);
        await tx.stores.tasks.transition(`${w}-cancelled`, 'CANCELLED', { event: 'cancelled' }, T0 + 2);
        return [...running.map((t) => t.taskId), `${w}-paused`, `${w}-no-such-task`];
      };
      const bulk = await world('bulk');
      const single = await world('single');

      const bulkFailures = await broker.processNotifyBatch(bulk);
      const singleFailures: NotifyFailure[] = [];
      for (const id of single) {
        await broker.processNotify(id, false).catch((err: Error) => singleFailures.push({ taskId: id, reason: err.message }));
      }

      const twin = (id: string) => id.replace(/^bulk-/, 'single-');
      expect(bulkFailures.map((f) => twin(f.taskId))).toEqual(singleFailures.map((f) => f.taskId));
      expect(bulkFailures.map((f) => f.taskId)).toEqual(['bulk-failing']);
      expect(bulkFailures[0]!.reason).toMatch(/notification to .* failed: HTTP 503/);
      for (const id of bulk) {
        const [b, s] = [await tx.stores.tasks.get(id), await tx.stores.tasks.get(twin(id))];
        expect(b?.status, id).toBe(s?.status);
        const [bh, sh] = [await tx.stores.tasks.history(id), await tx.stores.tasks.history(twin(id))];
        // The same rows, but for the device ids in their details.
        const row = (h: (typeof bh)[number]) => [h.seq, h.fromStatus, h.toStatus, h.event, h.code, h.detail?.replace(/\d{15}/g, 'IMEI')];
        expect(bh.map(row), id).toEqual(sh.map(row));
      }
      expect(await events('bulk-ok')).toEqual(['created', 'notifying', 'notification-delivered']);
      expect(await events('bulk-cancelled')).toEqual(['created', 'cancelled']);
      expect(await events('bulk-unknown-device')).toEqual(['created', 'notifying', 'notification-failed']);
      expect(await events('bulk-failing')).toEqual(['created', 'notifying', 'notification-failed']);
      expect(await events('bulk-paused')).toEqual(['created']);
      // The paused job's task handed back to the dispatcher; job counters alike in both worlds.
      expect(await tx.stores.jobs.releasedQueued('bulk-paused')).toBe(0);
      expect(await tx.stores.jobs.releasedQueued('single-paused')).toBe(0);
      const counters = ({ queued, notifying, cancelled }: Job) => ({ queued, notifying, cancelled });
      expect(counters((await tx.stores.jobs.get('bulk-job'))!)).toEqual({ queued: 0, notifying: 3, cancelled: 1 });
      expect(counters((await tx.stores.jobs.get('single-job'))!)).toEqual(counters((await tx.stores.jobs.get('bulk-job'))!));
    });

    it('moves, counts and queues nothing twice when a batch runs again, as after a worker crash', async () => {
      const ns = await devices(5);
      const ids = ns.map((n) => `again-${n}`);
      await releasedJob('job-again', 'RUNNING', ns.map((n) => newTask(`again-${n}`, n, 'job-again')));
      expect(await broker.processNotifyBatch(ids)).toEqual([]);
      const hits = receiver.hits.length;
      expect(await broker.processNotifyBatch(ids)).toEqual([]);
      for (const [i, id] of ids.entries()) {
        expect(await tx.stores.tasks.get(id)).toMatchObject({ status: 'NOTIFYING' });
        // Past QUEUED, the task takes the task-by-task path: its device's notification is still on its
        // way (the gate), so it shares it and looks again shortly, as processNotify always did.
        expect(await events(id)).toEqual(['created', 'notifying', 'notification-delivered', 'notification-shared']);
        expect(await requests.pending(imeiN(ns[i]!))).toHaveLength(1);
      }
      expect(receiver.hits.length).toBe(hits);
      expect(await tx.stores.jobs.get('job-again')).toMatchObject({ total: 5, queued: 0, notifying: 5 });
    });

    it('notes a large batch in groups, never one statement per task', async () => {
      const ns = await devices(150);
      const ids = ns.map((n) => `many-${n}`);
      await releasedJob('job-many', 'RUNNING', ns.map((n) => newTask(`many-${n}`, n, 'job-many')));
      // On the class: on SQLite each store call gets stores of its own.
      const noteMany = vi.spyOn(TypeormTaskStore.prototype, 'noteMany');
      expect(await broker.processNotifyBatch(ids)).toEqual([]);
      const groups = noteMany.mock.calls.map(([notes]) => notes.length);
      noteMany.mockRestore();
      expect(groups.reduce((a, b) => a + b, 0)).toBe(150);
      expect(Math.max(...groups)).toBeLessThanOrEqual(64);
      expect(groups.length).toBeGreaterThanOrEqual(3);
      for (const id of ids) expect(await events(id)).toEqual(['created', 'notifying', 'notification-delivered']);
    });

    it('still retries a pending cancel whose task got its notification note after the cancel', async () => {
      // As when a batch's note of an armed task lands after the task was cancelled.
      const [n] = await devices(1);
      const id = `late-note-${n}`;
      await tx.run((s) => s.tasks.insert(newTask(id, n!, undefined, 'SCHEDULED'), 'created'));
      await tx.stores.tasks.note(id, { event: 'cancel-requested', detail: 'by test' }, T0 + 10);
      await tx.stores.tasks.note(id, { event: 'notification-delivered', detail: 'http: HTTP 200' }, T0 + 20);
      const hits = receiver.hits.filter((d) => d === imeiN(n!)).length;
      await broker.processNotify(id, false);
      expect((await events(id)).slice(-3)).toEqual(['cancel-requested', 'notification-delivered', 'cancel-retried']);
      expect(receiver.hits.filter((d) => d === imeiN(n!)).length).toBe(hits + 1);
    });
  });
}
