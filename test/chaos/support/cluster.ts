/**
 * The gateway split into its roles, one process each (`dmwsi serve --role
 * api|dm|worker`, the compiled CLI), under a small supervisor: a process
 * that exits is started again (as systemd or Kubernetes would), after a
 * pause the test chooses when it killed the process itself. Each process's
 * output goes to <dir>/logs/<role>.log.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../../bench/support/processes.js';

export type GatewayRole = 'api' | 'dm' | 'worker';
export const ROLES: readonly GatewayRole[] = ['api', 'dm', 'worker'];

interface Member {
  role: GatewayRole;
  port: number;
  child: ChildProcess | undefined;
  /** Not before this time (epoch ms) is it started again. */
  holdUntil: number;
  starts: number;
  unexpectedExits: number;
  restartTimer: NodeJS.Timeout | undefined;
}

export class GatewayCluster {
  private readonly members = new Map<GatewayRole, Member>();
  private stopping = false;

  constructor(
    private readonly opts: {
      dir: string;
      env: Record<string, string>;
      ports: Record<GatewayRole, number>;
      log: (line: string) => void;
    },
  ) {
    fs.mkdirSync(path.join(opts.dir, 'logs'), { recursive: true });
    for (const role of ROLES) {
      this.members.set(role, {
        role,
        port: opts.ports[role],
        child: undefined,
        holdUntil: 0,
        starts: 0,
        unexpectedExits: 0,
        restartTimer: undefined,
      });
    }
  }

  url(role: GatewayRole): string {
    return `http://127.0.0.1:${this.opts.ports[role]}`;
  }

  logFile(role: GatewayRole): string {
    return path.join(this.opts.dir, 'logs', `${role}.log`);
  }

  /** Starts a role's process (supervised from then on) and waits until it answers /healthz. */
  async start(role: GatewayRole, timeoutMs = 60_000): Promise<void> {
    this.spawn(this.member(role));
    await this.ready(role, timeoutMs);
  }

  /** Resolves once the role's process answers /healthz (it may have been restarted meanwhile). */
  async ready(role: GatewayRole, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await fetch(`${this.url(role)}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      if (r?.ok) return;
      if (Date.now() > deadline) throw new Error(`${role} did not answer /healthz within ${timeoutMs} ms (see ${this.logFile(role)})`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  /** kill -9 the role's process; the supervisor starts it again after `downMs`. */
  async kill(role: GatewayRole, downMs: number): Promise<void> {
    const m = this.member(role);
    m.holdUntil = Date.now() + downMs;
    const child = m.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  pid(role: GatewayRole): number | undefined {
    return this.member(role).child?.pid;
  }

  /** Starts and exits not asked for by the test (a crash at start, e.g. while the database was away). */
  summary(): string {
    return ROLES.map((r) => {
      const m = this.member(r);
      return `${r}: ${m.starts} start(s), ${m.unexpectedExits} unexpected exit(s)`;
    }).join('; ');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      ROLES.map(async (role) => {
        const m = this.member(role);
        clearTimeout(m.restartTimer);
        const child = m.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        });
      }),
    );
  }

  private member(role: GatewayRole): Member {
    return this.members.get(role)!;
  }

  private spawn(m: Member): void {
    const out = fs.openSync(this.logFile(m.role), 'a');
    fs.writeSync(out, `\n===== ${new Date().toISOString()} start ${m.starts + 1} =====\n`);
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'dmwsi.mjs'), 'serve', '--role', m.role], {
      cwd: ROOT,
      env: { ...process.env, ...this.opts.env, PORT: String(m.port) },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    m.child = child;
    m.starts += 1;
    child.once('exit', (code, signal) => {
      if (m.child === child) m.child = undefined;
      if (this.stopping) return;
      const killed = signal === 'SIGKILL' && m.holdUntil > Date.now() - 1000;
      if (!killed) {
        m.unexpectedExits += 1;
        this.opts.log(`${m.role} exited by itself (${code ?? signal}); restarting it`);
      }
      this.restartLater(m, Math.max(killed ? 0 : 1000, m.holdUntil - Date.now()));
    });
  }

  /** Starts it again after `ms`, or later if a kill asked meanwhile for a longer pause. */
  private restartLater(m: Member, ms: number): void {
    m.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      if (m.holdUntil > Date.now()) this.restartLater(m, m.holdUntil - Date.now());
      else this.spawn(m);
    }, ms);
  }
}
