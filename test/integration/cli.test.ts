/** `dmwsi user add` and `dmwsi migrate`, run in-process against a fresh database. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/main/cli.js';
import { openDatabase } from '../../src/persistence/data-source.js';
import { verifyPassword } from '../../src/security/password-hash.js';
import { SecretBox } from '../../src/security/secret-box.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-cli-'));
const key = crypto.randomBytes(32).toString('hex');
const saved = { ...process.env };

beforeAll(() => {
  Object.assign(process.env, {
    DATA_DIR: dir,
    DATABASE_URL: `sqlite:${path.join(dir, 'cli.sqlite')}`,
    DMWSI_SECRET_KEY: key,
    DMWSI_NEW_USER_PASSWORD: 'care-agent-password',
  });
});
afterAll(() => {
  process.env = saved;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('dmwsi CLI', () => {
  it('migrates a new database', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await main(['node', 'dmwsi', 'migrate']);
    expect(log).toHaveBeenCalledWith(expect.stringContaining('database is up to date'));
    log.mockRestore();
  });

  it('adds a user with an argon2id hash and the password sealed for PasswordDigest', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await main(['node', 'dmwsi', 'user', 'add', 'agent1', '--role', 'care']);
    log.mockRestore();
    const ds = await openDatabase({ url: process.env.DATABASE_URL! });
    const [row] = await ds.query("SELECT role, password_hash, password_sealed FROM api_user WHERE username = 'agent1'");
    await ds.destroy();
    expect(row.role).toBe('care');
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(row.password_hash, 'care-agent-password')).toBe(true);
    expect(new SecretBox(Buffer.from(key, 'hex')).open(row.password_sealed)).toBe('care-agent-password');
  });

  it('refuses an unknown role', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const out = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await main(['node', 'dmwsi', 'user', 'add', 'x', '--role', 'root']).catch(() => undefined);
    expect(exit).toHaveBeenCalled();
    exit.mockRestore();
    err.mockRestore();
    out.mockRestore();
  });
});
