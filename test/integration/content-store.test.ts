/**
 * The content store and the "open tasks using this content" query against
 * both databases (a fresh SQLite file and a fresh PostgreSQL schema), with
 * migrations applied as in production.
 */
import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Content } from '../../src/domain/content.js';
import type { Task, TaskStatus } from '../../src/domain/tasks.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { imeiN } from '../support/fixtures.js';
import { freshDatabase } from '../support/fresh-database.js';
import { POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';

const pgUrl = await postgresUrl();
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);
const sealer = new SecretBox(crypto.randomBytes(32));


const content = (n: number, patch: Partial<Content> = {}): Content => ({
  contentId: `content-${n}`,
  name: `fw-${n}`,
  version: `1.${n}`,
  kind: 'firmware',
  sha256: 'ab'.repeat(32),
  // Beyond 32 bits: sizes are bigint columns.
  size: 5 * 1024 ** 3 + n,
  capabilityOids: ['acme-x1-1.0'],
  state: 'AWAITING_UPLOAD',
  createdBy: 'admin',
  createdAt: new Date(1_700_000_000_000 + n),
  ...patch,
});

const task = (n: number, status: TaskStatus, contentId?: string): Task => ({
  taskId: `task-${n}`,
  deviceId: imeiN(n),
  operation: { name: 'CUSTOM', commands: [] },
  status,
  results: [],
  bOptin: false,
  acceptDevicePolicy: 30,
  testCycle: false,
  ...(contentId && { contentId }),
  createdBy: 'admin',
  createdAt: new Date(1_700_000_000_000),
  updatedAt: new Date(1_700_000_000_000),
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !pgUrl)(`content store on ${backend}`, () => {
    let tx: TypeormTransactor;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      let ds: DataSource;
      ({ ds, cleanup } = await freshDatabase(backend, pgUrl));
      tx = new TypeormTransactor(ds, sealer);
    });
    afterAll(() => cleanup?.());

    it('keeps a record as given and lists records oldest first', async () => {
      await tx.stores.contents.insert(content(2, { url: 'https://cdn.example.com/fw-2.bin', state: 'READY', capabilityOids: [] }));
      await tx.stores.contents.insert(content(1));
      expect(await tx.stores.contents.get('content-1')).toEqual(content(1));
      expect(await tx.stores.contents.get('content-2')).toEqual(
        content(2, { url: 'https://cdn.example.com/fw-2.bin', state: 'READY', capabilityOids: [] }),
      );
      expect((await tx.stores.contents.list({ offset: 0, limit: 10 })).map((c) => c.contentId)).toEqual(['content-1', 'content-2']);
      expect((await tx.stores.contents.list({ offset: 1, limit: 10 })).map((c) => c.contentId)).toEqual(['content-2']);
      expect(await tx.stores.contents.get('nope')).toBeUndefined();
    });

    it('moves a record to READY once only', async () => {
      await tx.stores.contents.insert(content(3));
      expect(await tx.stores.contents.markReady('content-3', 1)).toBe(true);
      expect(await tx.stores.contents.markReady('content-3', 2)).toBe(false);
      expect((await tx.stores.contents.get('content-3'))?.state).toBe('READY');
      expect(await tx.stores.contents.markReady('nope', 2)).toBe(false);
    });

    it('counts the tasks using a content that are not in an end state', async () => {
      await tx.run(async (s) => {
        await s.tasks.insert(task(10, 'QUEUED', 'content-1'), 'created');
        await s.tasks.insert(task(11, 'SCHEDULED', 'content-1'), 'created');
        await s.tasks.insert(task(12, 'COMPLETED', 'content-1'), 'created');
        await s.tasks.insert(task(13, 'CANCELLED', 'content-1'), 'created');
        await s.tasks.insert(task(14, 'QUEUED', 'content-2'), 'created');
        await s.tasks.insert(task(15, 'QUEUED'), 'created');
      });
      expect(await tx.stores.tasks.openTasksUsing('content-1')).toBe(2);
      expect(await tx.stores.tasks.openTasksUsing('content-2')).toBe(1);
      expect(await tx.stores.tasks.openTasksUsing('content-3')).toBe(0);
      expect((await tx.stores.tasks.get('task-10'))?.contentId).toBe('content-1');
      expect((await tx.stores.tasks.get('task-15'))?.contentId).toBeUndefined();
      await tx.run((s) => s.tasks.transition('task-10', 'CANCELLED', { event: 'cancelled' }, 1_700_000_000_001));
      expect(await tx.stores.tasks.openTasksUsing('content-1')).toBe(1);
    });

    it('deletes a record', async () => {
      expect(await tx.stores.contents.delete('content-3')).toBe(true);
      expect(await tx.stores.contents.get('content-3')).toBeUndefined();
      expect(await tx.stores.contents.delete('content-3')).toBe(false);
    });
  });
}
