/**
 * The gateway split into its roles, one or more processes each (`dmwsi serve
 * --role api|dm|worker`, the compiled CLI), under a small supervisor: a
 * process that exits is started again (as systemd or Kubernetes would), after
 * a pause the test chooses when it killed the process itself. Each process's
 * output goes to <dir>/logs/<role>.log (<role>-<n>.log with several a role).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../../bench/support/processes.js';

export type GatewayRole = 'api' | 'dm' | 'worker';
export const ROLES: readonly GatewayRole[] = ['api', 'dm', 'worker'];

interface Member {
  role: GatewayRole;
  /** 0-based, among the role's processes. */
  index: number;
  port: number;
  logFile: string;
  child: ChildProcess | undefined;
  /** Not before this time (epoch ms) is it started again. */
  holdUntil: number;
  starts: number;
  unexpectedExits: number;
  restartTimer: NodeJS.Timeout | undefined;
}

export class GatewayCluster {
  private readonly members = new Map<GatewayRole, Member[]>();
  private stopping = false;

  constructor(
    private readonly opts: {
      dir: string;
      env: Record<string, string>;
      /** One port per process of the role. */
      ports: Record<GatewayRole, number[]>;
      log: (line: string) => void;
    },
  ) {
    fs.mkdirSync(path.join(opts.dir, 'logs'), { recursive: true });
    for (const role of ROLES) {
      const ports = opts.ports[role];
      this.members.set(
        role,
        ports.map((port, index) => ({
          role,
          index,
          port,
          logFile: path.join(opts.dir, 'logs', ports.length === 1 ? `${role}.log` : `${role}-${index + 1}.log`),
          child: undefined,
          holdUntil: 0,
          starts: 0,
          unexpectedExits: 0,
          restartTimer: undefined,
        })),
      );
    }
  }

  /** How many processes the role has. */
  count(role: GatewayRole): number {
    return this.all(role).length;
  }

  url(role: GatewayRole, index = 0): string {
    return `http://127.0.0.1:${this.member(role, index).port}`;
  }

  urls(role: GatewayRole): string[] {
    return this.all(role).map((m) => `http://127.0.0.1:${m.port}`);
  }

  /**
   * Starts the role's processes not started yet (supervised from then on),
   * or only the `only`th, and waits until they answer /healthz.
   */
  async start(role: GatewayRole, opts: { only?: number; timeoutMs?: number } = {}): Promise<void> {
    const members = opts.only === undefined ? this.all(role) : [this.member(role, opts.only)];
    for (const m of members) if (m.starts === 0) this.spawn(m);
    await this.ready(role, opts.timeoutMs ?? 60_000);
  }

  /** Resolves once every process of the role answers /healthz (it may have been restarted meanwhile). */
  async ready(role: GatewayRole, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const m of this.all(role).filter((x) => x.starts > 0)) {
      for (;;) {
        const r = await fetch(`http://127.0.0.1:${m.port}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
        if (r?.ok) break;
        if (Date.now() > deadline) throw new Error(`${role} did not answer /healthz within ${timeoutMs} ms (see ${m.logFile})`);
        await new Promise((res) => setTimeout(res, 200));
      }
    }
  }

  /** kill -9 one process of the role; the supervisor starts it again after `downMs`. */
  async kill(role: GatewayRole, downMs: number, index = 0): Promise<void> {
    const m = this.member(role, index);
    m.holdUntil = Date.now() + downMs;
    const child = m.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  pid(role: GatewayRole, index = 0): number | undefined {
    return this.member(role, index).child?.pid;
  }

  /** Starts and exits not asked for by the test (a crash at start, e.g. while the database was away). */
  summary(): string {
    return ROLES.flatMap((r) =>
      this.all(r).map((m) => `${r}${this.count(r) > 1 ? `#${m.index + 1}` : ''}: ${m.starts} start(s), ${m.unexpectedExits} unexpected exit(s)`),
    ).join('; ');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      ROLES.flatMap((role) => this.all(role)).map(async (m) => {
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

  private all(role: GatewayRole): Member[] {
    return this.members.get(role)!;
  }

  private member(role: GatewayRole, index: number): Member {
    const m = this.all(role)[index];
    if (!m) throw new Error(`${role} has no process #${index + 1}`);
    return m;
  }

  private spawn(m: Member): void {
    const out = fs.openSync(m.logFile, 'a');
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
        this.opts.log(`${m.role}${this.count(m.role) > 1 ? `#${m.index + 1}` : ''} exited by itself (${code ?? signal}); restarting it`);
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
