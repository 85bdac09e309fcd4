/**
 * A redis-server of the crash test's own, on a free port, with append-only
 * persistence fsynced on every write, so that the test can kill it with
 * SIGKILL and start it again on the same port and data without touching the
 * Redis the rest of the suite shares.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, pingRedis, redisBinary } from '../../../src/main/redis-launcher.js';

export class RedisChild {
  private child: ChildProcess | undefined;

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async start(dir: string, log: (line: string) => void): Promise<RedisChild> {
    fs.mkdirSync(dir, { recursive: true });
    const redis = new RedisChild(redisBinary(log), dir, await freePort());
    await redis.up();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server (again) on the same port and data, and waits until it answers PING. */
  async up(): Promise<void> {
    const log = fs.openSync(path.join(this.dir, 'redis.log'), 'a');
    const child = spawn(
      this.bin,
      [
        '--port', String(this.port),
        '--bind', '127.0.0.1',
        '--dir', this.dir,
        '--save', '',
        '--appendonly', 'yes',
        '--appendfsync', 'always',
        '--daemonize', 'no',
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    this.child = child;
    const deadline = Date.now() + 20_000;
    while (!(await pingRedis('127.0.0.1', this.port, 200))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}); see ${this.dir}/redis.log`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${this.port}; see ${this.dir}/redis.log`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // PING answers while the append-only file is still being loaded (LOADING errors): wait for that too.
    const loadDeadline = Date.now() + 20_000;
    while ((await infoPersistence(this.port)).includes('loading:1')) {
      if (Date.now() > loadDeadline) throw new Error('redis-server kept loading its append-only file');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL: whatever was acknowledged must already be on disk (appendfsync always). */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}

/** INFO persistence over a raw socket (no client library: it would reconnect by itself). */
function infoPersistence(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const done = () => {
      socket.destroy();
      resolve(text);
    };
    socket.setTimeout(1000, done);
    socket.once('error', done);
    socket.once('connect', () => socket.write('*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n'));
    socket.on('data', (d) => {
      text += d.toString();
      if (/loading:\d/.test(text)) done();
    });
  });
}
