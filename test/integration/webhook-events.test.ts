/**
 * The webhook event pump over real databases: which history rows are events,
 * that a pass writes each delivery once, and (PostgreSQL) that a history row
 * committed late by a long transaction is not skipped by a cursor that other
 * commits moved past its place in id order.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Task } from '../../src/domain/tasks.js';
import { openDatabase } from '../../src/persistence/data-source.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { RedisBrokerCache } from '../../src/queue/broker-cache.js';
import { connectRedis } from '../../src/queue/redis.js';
import { BullWebhookDeliveries } from '../../src/queue/webhook-jobs.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { systemClock } from '../../src/services/ports.js';
import { WebhookPump } from '../../src/services/webhooks/event-pump.js';
import { imeiN, queryTaskN } from '../support/fixtures.js';
import { dropSchema, newSchemaName, POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';
import { ownDatabase } from '../support/own-database.js';
import { waitFor } from '../support/wait.js';

const sharedPg = await postgresUrl();
// A database of its own: the event pump waits for running transactions of its database only.
const pgUrl = sharedPg ? await ownDatabase(sharedPg, 'dmwsi_webhooks') : undefined;
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);
const sealer = new SecretBox(crypto.randomBytes(32));

const task = (taskId: string, at: number): Task => queryTaskN(1, taskId, at);

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !pgUrl)(`webhook event pump on ${backend}`, () => {
    let ds: DataSource;
    let tx: TypeormTransactor;
    let pump: WebhookPump;
    let cleanup: () => Promise<void>;
    const schema = newSchemaName();
    const redis = connectRedis(inject('redisUrl'), 'webhook-events-test');
    const prefix = `test-${crypto.randomBytes(4).toString('hex')}`;
    const queue = new BullWebhookDeliveries(redis, prefix, { attempts: 3, retryMs: 1000 });

    beforeAll(async () => {
      if (backend === 'sqlite') {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-webhook-events-'));
        ds = await openDatabase({ url: `sqlite:${path.join(dir, 'db.sqlite')}` });
        cleanup = async () => fs.rmSync(dir, { recursive: true, force: true });
      } else {
        ds = await openDatabase({ url: pgUrl!, schema });
        cleanup = () => dropSchema(pgUrl!, schema);
      }
      tx = new TypeormTransactor(ds, sealer);
      pump = new WebhookPump({ tx, queue, lock: new RedisBrokerCache(redis, prefix), clock: systemClock, logger: pino({ level: 'silent' }) });
      await tx.run(async (s) => {
        await s.webhooks.startCursor('task');
        await s.webhooks.startCursor('job');
        await s.webhooks.insert({ webhookId: 'all', url: 'http://127.0.0.1:9/', events: ['*'], createdBy: 't', createdAt: new Date() }, sealer.seal('x'.repeat(16)));
        await s.webhooks.insert(
          { webhookId: 'created', url: 'http://127.0.0.1:9/', events: ['task.created'], createdBy: 't', createdAt: new Date() },
          sealer.seal('x'.repeat(16)),
        );
      });
    });
    afterAll(async () => {
      await queue.queue.obliterate({ force: true });
      await queue.close();
      await redis.quit();
      await ds?.destroy();
      await cleanup?.();
    });

    const deliveries = async (webhookId: string) =>
      (await tx.stores.webhooks.deliveries({ webhookId }, { offset: 0, limit: 1000 })).map((d) => d.eventId).sort();

    it('moves a stream’s cursor only from the position it was read at (two pumps never both win)', async () => {
      const from = await tx.stores.webhooks.cursor('job');
      expect(await tx.stores.webhooks.moveCursor('job', `${from}-stale`, 'elsewhere')).toBe(false);
      expect(await tx.stores.webhooks.cursor('job')).toBe(from);
      expect(await tx.stores.webhooks.moveCursor('job', from, from!)).toBe(true);
    });

    it('makes a creation and each change of state an event, a note none; each delivery once however often the pump passes', async () => {
      const at = Date.now();
      await tx.run(async (s) => {
        await s.tasks.insert(task('t1', at), 'created');
        await s.tasks.note('t1', { event: 'notification-sent' }, at + 1);
        await s.tasks.transition('t1', 'NOTIFYING', { event: 'notifying' }, at + 2);
      });
      // On a shared PostgreSQL, other sessions' transactions still running hold the read back a moment.
      await waitFor(async () => {
        await pump.pass();
        return (await deliveries('all')).length >= 2;
      }, 15_000);
      await pump.pass();
      expect(await deliveries('all')).toEqual(['task-t1-1', 'task-t1-3']);
      expect(await deliveries('created')).toEqual(['task-t1-1']);
      const [status] = await tx.stores.webhooks.deliveries({ webhookId: 'all', state: 'PENDING' }, { offset: 0, limit: 1 });
      expect(JSON.parse(status!.body)).toMatchObject({ id: 'task-t1-3', type: 'task.status', data: { fromStatus: 'QUEUED', status: 'NOTIFYING' } });
      // Queued once each, under the delivery's id.
      expect((await queue.queue.getJobs(['waiting', 'delayed'])).map((j) => j.id).sort()).toEqual([
        'whd-all-task-t1-1',
        'whd-all-task-t1-3',
        'whd-created-task-t1-1',
      ]);
    });

    it.skipIf(backend !== 'postgres')('holds the cursor below a transaction still running, so its rows are read once it commits', async () => {
      const at = Date.now();
      // A long unit of work: its task history row has a lower transaction id than the commits after it.
      const runner = ds.createQueryRunner();
      await runner.startTransaction();
      await runner.query(
        'INSERT INTO "task" ("task_id", "device_id", "operation_name", "operation", "status", "created_by", "created_at", "updated_at", "history_seq") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)',
        ['slow', imeiN(1), 'QUERY', '{}', 'QUEUED', 'test', at, at],
      );
      await runner.query(
        'INSERT INTO "task_history" ("task_id", "seq", "at", "to_status", "event") VALUES ($1, 1, $2, $3, $4)',
        ['slow', at, 'QUEUED', 'created'],
      );
      await tx.run((s) => s.tasks.insert(task('fast', at), 'created'));
      await pump.pass();
      // "fast" committed, but its transaction came after "slow"'s, which still runs: neither is read yet.
      expect(await deliveries('created')).not.toContain('task-fast-1');
      await runner.commitTransaction();
      await runner.release();
      await waitFor(async () => {
        await pump.pass();
        const ids = await deliveries('created');
        return ids.includes('task-slow-1') && ids.includes('task-fast-1');
      }, 15_000);
    });

    it.skipIf(backend !== 'postgres')('is not held back by a transaction running in another database of the server', async () => {
      const other = new pg.Client({ connectionString: sharedPg! });
      await other.connect();
      try {
        await other.query('BEGIN');
        // An id of its own, lower than any transaction of this test: a snapshot's xmin would stop at it.
        await other.query('SELECT pg_current_xact_id()');
        await tx.run((s) => s.tasks.insert(task('elsewhere', Date.now()), 'created'));
        await waitFor(async () => {
          await pump.pass();
          return (await deliveries('created')).includes('task-elsewhere-1');
        }, 10_000);
      } finally {
        await other.query('ROLLBACK').catch(() => undefined);
        await other.end();
      }
    });
  });
}
