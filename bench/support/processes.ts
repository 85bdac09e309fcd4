/** Starting the gateway and helper servers as separate processes for benchmarks. */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root: the nearest folder above this file holding
 * package.json. The benches run this file from dist/bench/support, the
 * crash-safety tests (test/chaos) from its source, so no fixed depth fits both.
 */
export const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/**
 * V8 options of the gateway as `npm start` and the Docker image run it, so
 * every bench measures that: a 32 MiB young-generation semi-space instead of
 * V8's 16 MiB. Fewer scavenges, and fewer short-lived objects (a DM message's
 * parse tree, session state, reply) promoted to the old generation: at 10,000
 * devices the gateway's CPU per arming session went from 1.88 to 1.59 ms
 * (64 and 128 MiB measured no better, at more RSS).
 */
export const GATEWAY_NODE_ARGS: readonly string[] = ['--max-semi-space-size=32'];

/** The simulated fleet's (`dmwsi simulate`): 64 MiB, its CPU per arming session 0.92 -> 0.62 ms (32 MiB: 0.66). */
export const FLEET_NODE_ARGS: readonly string[] = ['--max-semi-space-size=64'];

export interface Started {
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      // Each attempt gives up after a second: the gateway listens before it
      // attaches its request handler (gateway.ts), and a request accepted in
      // between is never answered, which hung the whole bench.
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

export function startNode(script: string, args: string[], env: Record<string, string>): Started {
  return startNodeWith([], script, args, env);
}

/** `dmwsi serve ...args` with the gateway's V8 options (GATEWAY_NODE_ARGS) and `nodeArgs`. */
export function spawnGateway(args: string[], env: Record<string, string>, nodeArgs: string[] = []): Started {
  return startNodeWith([...GATEWAY_NODE_ARGS, ...nodeArgs], path.join(ROOT, 'bin', 'dmwsi.mjs'), ['serve', ...args], env);
}

/** Peak resident set size of a process, from /proc (Linux). */
export async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** `waitForHttp` with a chosen per-attempt limit (kept for the benches that name it). */
export function waitForHttpAnswer(url: string, timeoutMs = 30_000, _attemptMs = 1000): Promise<void> {
  return waitForHttp(url, timeoutMs);
}

/** `startNode` with options for node itself first (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
export function startNodeWith(nodeArgs: readonly string[], script: string, args: string[], env: Record<string, string>): Started {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return {
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
