/**
 * Several gateway processes (api, dm, worker) may share one SQLite file. A
 * unit of work that reads and then writes must not fail because another
 * process committed in between: it takes the write lock first, so the other
 * process waits for it (busy timeout) instead.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../src/persistence/data-source.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { queryTaskN } from '../support/fixtures.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-processes-'));
const file = path.join(dir, 'db.sqlite');
let ds: DataSource;

beforeAll(async () => {
  ds = await openDatabase({ url: `sqlite:${file}` });
});
afterAll(async () => {
  await ds.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Another process's write to the task row: started now, it resolves with its exit code once done. */
function writeFromAnotherProcess(taskId: string): Promise<number | null> {
  const script = `
    import Database from 'better-sqlite3';
    const db = new Database(process.argv[1]);
    db.pragma('busy_timeout = 10000');
    db.prepare('UPDATE task SET updated_at = updated_at + 1 WHERE task_id = ?').run(process.argv[2]);
    db.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, file, taskId], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

it('lets a unit of work read then write while another process writes the same row', { timeout: 30_000 }, async () => {
  const tx = new TypeormTransactor(ds, new SecretBox(crypto.randomBytes(32)));
  const at = Date.now();
  await tx.stores.tasks.insert(queryTaskN(1, 'shared', at), 'created');
  let other: Promise<number | null> | undefined;
  await tx.run(async (s) => {
    expect((await s.tasks.get('shared'))?.status).toBe('QUEUED');
    other = writeFromAnotherProcess('shared');
    // Long enough for the other process to start and reach its write.
    await new Promise((r) => setTimeout(r, 1500));
    await s.tasks.transition('shared', 'NOTIFYING', { event: 'notifying' }, at + 10);
  });
  expect(await other).toBe(0);
  const rows = (await ds.query('SELECT status, updated_at AS at FROM task WHERE task_id = ?', ['shared'])) as { status: string; at: number }[];
  // Ours first, then the other process's increment on top of it.
  expect(rows).toEqual([{ status: 'NOTIFYING', at: at + 11 }]);
});
