/**
 * `dmwsi serve` and `npm start` (scripts/run.mjs start) as a user runs them:
 * the compiled CLI in a child process, configured only by its environment.
 * Needs a build (npx tsc -p tsconfig.build.json).
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-serve-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Env = Record<string, string>;

/** A clean environment: nothing from the test run's own (REDIS_URL, NODE_ENV, ...) leaks in. */
function baseEnv(extra: Env): Env {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...extra };
}

function gatewayEnv(extra: Env): Env {
  const own = fs.mkdtempSync(path.join(dir, 'gw-'));
  return baseEnv({
    DATA_DIR: own,
    DATABASE_URL: `sqlite:${path.join(own, 'gw.sqlite')}`,
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: `test-${crypto.randomBytes(4).toString('hex')}`,
    DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ...extra,
  });
}

interface Listening {
  role: string;
  url: string;
}

/** Starts `dmwsi serve ...args`, waits for its "gateway listening" line, stops it; returns that line. */
async function serveUntilListening(args: string[], env: Env): Promise<Listening> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'dmwsi.mjs'), 'serve', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    return await new Promise<Listening>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "gateway listening" within 30 s\n${out}\n${err}`)), 30_000);
      child.once('exit', (code) => reject(new Error(`serve exited (${code}) before listening\n${out}\n${err}`)));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        for (const line of out.split('\n')) {
          if (!line.includes('"gateway listening"')) continue;
          clearTimeout(timer);
          const { role, url } = JSON.parse(line) as Listening;
          resolve({ role, url });
        }
      });
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

describe('dmwsi serve: which role', () => {
  it('runs the role DMWSI_ROLE names when --role is not given', async () => {
    const listening = await serveUntilListening([], gatewayEnv({ DMWSI_ROLE: 'dm' }));
    expect(listening.role).toBe('dm');
  });

  it('runs the role --role names even when DMWSI_ROLE names another', async () => {
    const listening = await serveUntilListening(['--role', 'api'], gatewayEnv({ DMWSI_ROLE: 'dm' }));
    expect(listening.role).toBe('api');
  });

  it('runs every role when neither says otherwise', async () => {
    const listening = await serveUntilListening([], gatewayEnv({}));
    expect(listening.role).toBe('all');
  });
});

interface Run {
  code: number | null;
  stderr: string;
  stdout: string;
}

function runToEnd(args: string[], env: Env): Promise<Run> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // A start that wrongly goes on to serve is ended here, inside the test's time.
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/**
 * A folder put first on PATH whose `npm` and `redis-server` only note that they
 * were run (and fail), so a start that would install packages or start a
 * private Redis is seen, and does neither for real.
 */
function tripwires(): { bin: string; ran: () => string[] } {
  const bin = fs.mkdtempSync(path.join(dir, 'bin-'));
  const ledger = path.join(bin, 'ran.txt');
  for (const name of ['npm', 'redis-server']) {
    const file = path.join(bin, name);
    fs.writeFileSync(file, `#!/bin/sh\necho "${name} $*" >> "${ledger}"\nexit 1\n`);
    fs.chmodSync(file, 0o755);
  }
  return { bin, ran: () => (fs.existsSync(ledger) ? fs.readFileSync(ledger, 'utf8').trim().split('\n') : []) };
}

describe('production start (NODE_ENV=production)', () => {
  const commands: [string, string[]][] = [
    ['dmwsi serve', [path.join(ROOT, 'bin', 'dmwsi.mjs'), 'serve']],
    ['npm start (scripts/run.mjs start)', [path.join(ROOT, 'scripts', 'run.mjs'), 'start']],
  ];

  for (const [name, args] of commands) {
    it(`${name}: without REDIS_URL and PUBLIC_DM_URL exits non-zero with one line naming both, and installs and starts nothing`, async () => {
      const wires = tripwires();
      const own = fs.mkdtempSync(path.join(dir, 'prod-'));
      const env = baseEnv({
        PATH: `${wires.bin}${path.delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
        NODE_ENV: 'production',
        DATA_DIR: own,
        DATABASE_URL: `sqlite:${path.join(own, 'gw.sqlite')}`,
        DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
        HOST: '127.0.0.1',
        PORT: '0',
      });
      const r = await runToEnd(args, env);
      expect(wires.ran()).toEqual([]);
      expect(r.code).not.toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/REDIS_URL/);
      expect(lines[0]).toMatch(/PUBLIC_DM_URL/);
      expect(r.stdout).not.toMatch(/gateway listening/);
    });
  }

  it('dmwsi serve names only what is missing: PUBLIC_DM_URL when REDIS_URL is given', async () => {
    const own = fs.mkdtempSync(path.join(dir, 'prod-'));
    const r = await runToEnd(
      [path.join(ROOT, 'bin', 'dmwsi.mjs'), 'serve'],
      baseEnv({
        NODE_ENV: 'production',
        REDIS_URL: inject('redisUrl'),
        DATA_DIR: own,
        DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
      }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/^dmwsi: invalid configuration: NODE_ENV=production: serve requires PUBLIC_DM_URL \(/);
  });
});
