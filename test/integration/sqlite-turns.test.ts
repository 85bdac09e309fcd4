/**
 * SQLite has one connection: units of work must take turns, and a plain write
 * must never join (and be rolled back with) someone else's transaction.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/persistence/data-source.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { SecretBox } from '../../src/security/secret-box.js';
import type { Stores } from '../../src/services/ports.js';
import { CAPABILITY } from '../support/fixtures.js';

let ds: DataSource;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-turns-'));
const sealer = new SecretBox(crypto.randomBytes(32));
const pause = () => new Promise((r) => setTimeout(r, 2));

beforeAll(async () => {
  ds = await openDatabase({ url: `sqlite:${path.join(dir, 'db.sqlite')}` });
});
afterAll(async () => {
  await ds.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function concurrentUnits(tx: TypeormTransactor, prefix: string) {
  return Promise.allSettled(
    Array.from({ length: 20 }, (_, i) =>
      tx.run(async (s) => {
        await s.audit.record({ caller: prefix, operation: 'a', outcome: 'ok' }, i);
        await pause();
        await s.audit.record({ caller: prefix, operation: 'b', outcome: 'ok' }, i);
      }),
    ),
  );
}

describe('units of work on SQLite', () => {
  it('collide without the turn queue (the failure this guards against is real)', async () => {
    const results = await concurrentUnits(new TypeormTransactor(ds, sealer, { serialise: false }), 'raw');
    expect(results.some((r) => r.status === 'rejected')).toBe(true);
  });

  it('all succeed when they take turns', async () => {
    const results = await concurrentUnits(new TypeormTransactor(ds, sealer), 'queued');
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    const [row] = await ds.query("SELECT count(*) AS n FROM audit_log WHERE caller = 'queued'");
    expect(Number(row.n)).toBe(40);
  });

  it('keeps a plain write made while another unit of work is open and then rolls back', async () => {
    const tx = new TypeormTransactor(ds, sealer);
    const failing = tx.run(async (s) => {
      await s.audit.record({ caller: 'doomed', operation: 'x', outcome: 'ok' }, 1);
      await pause();
      await pause();
      throw new Error('roll back');
    });
    await pause();
    const plain = tx.stores.audit.record({ caller: 'bystander', operation: 'y', outcome: 'ok' }, 2);
    await expect(failing).rejects.toThrow('roll back');
    await plain;
    const rows = await ds.query("SELECT caller FROM audit_log WHERE caller IN ('doomed', 'bystander')");
    expect(rows).toEqual([{ caller: 'bystander' }]);
  });

  it('lets a unit of work use the outer stores without deadlocking', async () => {
    const tx = new TypeormTransactor(ds, sealer);
    await tx.run(async () => {
      await tx.stores.audit.record({ caller: 'nested', operation: 'z', outcome: 'ok' }, 3);
    });
    const [row] = await ds.query("SELECT count(*) AS n FROM audit_log WHERE caller = 'nested'");
    expect(Number(row.n)).toBe(1);
  });
});

describe('units of work sharing a commit on SQLite (group commit)', () => {
  const callers = async (prefix: string) =>
    (await ds.query(`SELECT caller FROM audit_log WHERE caller LIKE '${prefix}%' ORDER BY caller`)).map(
      (r: { caller: string }) => r.caller,
    );
  const record = (caller: string) => (s: Stores) => s.audit.record({ caller, operation: 'g', outcome: 'ok' }, 1);

  it('rolls back a failing unit alone, first in its transaction or not', async () => {
    const tx = new TypeormTransactor(ds, sealer);
    const failing = (caller: string) => async (s: Stores) => {
      await record(caller)(s);
      throw new Error(`${caller} fails`);
    };
    // Queued in one tick: they share transactions.
    const results = await Promise.allSettled([
      tx.run(failing('g1-first')),
      tx.run(record('g1-a')),
      tx.run(failing('g1-middle')),
      tx.run(record('g1-b')),
      tx.stores.audit.record({ caller: 'g1-plain', operation: 'g', outcome: 'ok' }, 1),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(await callers('g1-')).toEqual(['g1-a', 'g1-b', 'g1-plain']);
  });

  it('answers no unit before the shared COMMIT: when it fails, every unit of it fails and nothing is kept', async () => {
    const tx = new TypeormTransactor(ds, sealer);
    const now = Date.now();
    const results = await Promise.allSettled([
      tx.run(record('g2-innocent')),
      tx.run(async (s) => {
        await record('g2-culprit')(s);
        // A foreign key checked only at COMMIT, so the COMMIT itself fails.
        await ds.query('PRAGMA defer_foreign_keys = ON');
        await ds.query(
          `INSERT INTO device_instance (device_id, phone_number, capability_oid, auth_type, state, attributes, client_username, secrets, client_nonce, server_nonce, created_at, updated_at)
           VALUES ('g2-device', '+440000000002', 'no-such-capability', 'md5', 'REGISTERED', '{}', 'u', 's', 'n', 'n', ${now}, ${now})`,
        );
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY/);
    expect(await callers('g2-')).toEqual([]);
    // The queue goes on working after a failed COMMIT.
    await tx.run(record('g2-after'));
    expect(await callers('g2-')).toEqual(['g2-after']);
  });
});

describe('reads on SQLite', () => {
  it('run outside any transaction: another process holding the write lock does not hold them up', { timeout: 30_000 }, async () => {
    const tx = new TypeormTransactor(ds, sealer);
    // Another process's connection to the file, in the middle of a write transaction.
    const other = new Database(path.join(dir, 'db.sqlite'));
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      const started = Date.now();
      // Queued in one tick, as under load: before, they shared a transaction that took the write lock first.
      const results = await Promise.allSettled([
        tx.stores.devices.get('IMEI:490154203237518'),
        tx.stores.users.get('nobody'),
        tx.stores.jobs.get('no-such-job'),
        tx.stores.capabilities.get('no-such-capability'),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      other.prepare('ROLLBACK').run();
      other.close();
    }
  });

  it('inside a shared transaction see the turns before them, and a failing unit after them is rolled back alone', async () => {
    const tx = new TypeormTransactor(ds, sealer);
    const cap = { ...CAPABILITY, oid: 'r1-capability', dmVersion: '1.2' as const };
    // Queued in one tick: the read is not at the head, so it joins the unit of work's transaction.
    const results = await Promise.allSettled([
      tx.run((s) => s.capabilities.insert(cap, 1)),
      tx.stores.capabilities.get(cap.oid),
      tx.run(async (s) => {
        await s.audit.record({ caller: 'r1-doomed', operation: 'g', outcome: 'ok' }, 1);
        throw new Error('r1 fails');
      }),
      tx.run((s) => s.audit.record({ caller: 'r1-after', operation: 'g', outcome: 'ok' }, 1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseFulfilledResult<unknown>).value).toMatchObject({ oid: cap.oid });
    const rows = await ds.query("SELECT caller FROM audit_log WHERE caller LIKE 'r1-%' ORDER BY caller");
    expect(rows).toEqual([{ caller: 'r1-after' }]);
  });

  it('run a lone task move, a store call of several statements, in a transaction of its own: a failing history row undoes the move', async () => {
    const tx = new TypeormTransactor(ds, sealer);
    const at = 1_700_000_000_000;
    await tx.run((s) =>
      s.tasks.insert(
        {
          taskId: 'atomic-move',
          deviceId: 'IMEI:490154203237518',
          operation: { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] },
          status: 'QUEUED',
          results: [],
          bOptin: false,
          acceptDevicePolicy: 10,
          testCycle: false,
          createdBy: 'care',
          createdAt: new Date(at),
          updatedAt: new Date(at),
        },
        'created',
      ),
    );
    // The move's history row (seq 2) is taken already: its INSERT fails after the task's UPDATE.
    await ds.query(
      "INSERT INTO task_history (task_id, seq, at, from_status, to_status, event) VALUES ('atomic-move', 2, 0, 'QUEUED', 'QUEUED', 'squatter')",
    );
    await expect(tx.stores.tasks.transition('atomic-move', 'NOTIFYING', { event: 'notifying' }, at + 1)).rejects.toThrow();
    expect(await tx.stores.tasks.get('atomic-move')).toMatchObject({ status: 'QUEUED' });
  });
});
