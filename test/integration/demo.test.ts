/**
 * `npm run demo` end to end with a smaller fleet: the compiled CLI's `demo`
 * command in a child process starts its own gateway (embedded SQLite in a
 * temporary folder), Redis (a throwaway redis-server unless the test run
 * itself was given REDIS_URL) and simulated devices, runs the scheduled
 * rollout and prints the summary table. Needs a build.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-demo-test-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

function demoEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TMPDIR: home };
  if (process.env.REDIS_URL) env.REDIS_URL = process.env.REDIS_URL;
  return env;
}

interface Demo {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

function startDemo(args: string[]): Demo {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'dmwsi.mjs'), 'demo', ...args], { cwd: home, env: demoEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => ({ stdout, stderr }), exited };
}

async function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const demo = startDemo(args);
  const timer = setTimeout(() => demo.child.kill('SIGKILL'), 170_000);
  const code = await demo.exited;
  clearTimeout(timer);
  return { code, ...demo.output() };
}

const leftovers = () => fs.readdirSync(home).filter((f) => f.startsWith('dmwsi-'));

function row(stdout: string, name: string): string {
  const m = new RegExp(`^${name} {2,}(.+)$`, 'm').exec(stdout);
  if (!m) throw new Error(`no "${name}" row in the summary:\n${stdout}`);
  return m[1]!;
}

describe('npm run demo', () => {
  it('registers the fleet over SOAP, runs the scheduled rollout to its end and prints the summary and the console URL', async () => {
    const r = await runDemo(['--devices', '100', '--port', '0', '--no-keep-running']);
    expect(r.code, r.stderr).toBe(0);
    // Progress went to standard error, one line per change (no terminal here).
    expect(r.stderr).toMatch(/^job \S+ RUNNING total=100 /m);
    expect(row(r.stdout, 'devices')).toBe('100');
    expect(row(r.stdout, 'registered over SOAP')).toMatch(/^100 in \d+\.\d s$/);
    expect(row(r.stdout, 'job')).toMatch(/^\S+ COMPLETED(_WITH_ERRORS)?$/);
    const [completed, failed, missed] = ['completed', 'failed', 'missed'].map((n) => Number(row(r.stdout, n)));
    expect(completed! + failed! + missed!).toBe(100);
    // The seeded fleet: a few Execs fail, a few phones are off at the moment; most complete.
    expect(failed).toBeGreaterThan(0);
    expect(completed).toBeGreaterThan(80);
    expect(row(r.stdout, 'time taken')).toMatch(/^\d+\.\d s /);
    expect(r.stdout).toMatch(/^console: http:\/\/127\.0\.0\.1:\d+\/console$/m);
    // It cleans up after itself: no data folder or Redis left behind.
    expect(leftovers()).toEqual([]);
  }, 180_000);

  it('keeps the gateway serving after the summary until Ctrl-C, then stops it and cleans up', async () => {
    const demo = startDemo(['--devices', '20', '--port', '0', '--keep-running']);
    try {
      const url = await waitFor(() => /keeps running at (http:\/\/\S+);/.exec(demo.output().stderr)?.[1], 120_000, 'the demo to finish its rollout');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      demo.child.kill('SIGINT');
      expect(await demo.exited).toBe(0);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      expect(leftovers()).toEqual([]);
    } finally {
      demo.child.kill('SIGKILL');
    }
  }, 180_000);

  it('stops everything it started when interrupted halfway (exit 130)', async () => {
    const demo = startDemo(['--devices', '20', '--port', '0', '--no-keep-running', '--lead', '60']);
    try {
      await waitFor(() => /SCHEDULED_EXEC of/.test(demo.output().stderr) || undefined, 120_000, 'the job to be created');
      demo.child.kill('SIGINT');
      expect(await demo.exited).toBe(130);
      expect(leftovers()).toEqual([]);
    } finally {
      demo.child.kill('SIGKILL');
    }
  }, 180_000);
});
