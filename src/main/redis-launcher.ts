/**
 * Makes sure a Redis is there. `npm start` uses REDIS_URL, else a Redis on
 * 127.0.0.1:6379, else starts a redis-server child (append-only persistence
 * under <dataDir>/redis) and stops it on exit; when no redis-server binary
 * exists and this is a Debian/Ubuntu machine with root, it installs the
 * package. Tests ask for a throwaway Redis on a free port.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisHandle {
  url: string;
  /** True when this process started the server (and stop() ends it). */
  owned: boolean;
  stop(): Promise<void>;
}

export interface RedisLaunchOptions {
  /** 'default': probe 127.0.0.1:6379 first; 'throwaway': always a fresh server on a free port. */
  mode: 'default' | 'throwaway';
  /** Where a started server keeps its append-only file (default mode). */
  dataDir?: string;
  /**
   * A throwaway server also listens on a Unix socket in its directory, and the URL names that
   * (`redis://localhost?path=…`, read by ioredis): on one box a command then costs no loopback TCP
   * on either side (the benches measure both transports).
   */
  unixSocket?: boolean;
  log?: (message: string) => void;
}

export class RedisUnavailableError extends Error {}

/** Sends PING over a raw socket: no client library needed to ask "is anyone there?". */
export function pingRedis(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG') || d.toString().startsWith('-NOAUTH')));
  });
}

/** Ports freePort has handed out in this process: never one twice, though its taker may not listen on it yet. */
const handedOut = new Set<number>();

/** The lowest port freePort picks from, below the kernel's ephemeral range. */
const LOW_PORT = 10_000;

/**
 * A port on 127.0.0.1 that nothing listens on now, and that this process
 * has not handed out before. Where Linux names its ephemeral range, a port
 * below it: listen(0) answers from that range, from which any outgoing
 * connection also takes its local port, so in the seconds between this
 * probe and its taker's listen (a gateway process waits for the first
 * one's migrations) the port could be taken, and the probe's port could be
 * handed out again by the next probe (a bench's fleet and one of its
 * gateway processes once got the same one: EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  const ephemeralLow = ephemeralPortLow();
  if (ephemeralLow !== undefined && ephemeralLow - LOW_PORT > 1000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = LOW_PORT + crypto.randomInt(ephemeralLow - LOW_PORT);
      if (handedOut.has(port) || (await listenOnce(port)) === undefined) continue;
      handedOut.add(port);
      return port;
    }
  }
  for (;;) {
    const port = await listenOnce(0);
    if (port === undefined) throw new Error('no free port on 127.0.0.1');
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** The lowest of the kernel's ephemeral ports (Linux), undefined elsewhere. */
function ephemeralPortLow(): number | undefined {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) ? low : undefined;
  } catch {
    return undefined;
  }
}

/** Listens on 127.0.0.1:port (0: any) and closes again: the port it got, undefined when it could not. */
function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const got = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(got));
    });
  });
}

function findRedisServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const d of dirs) {
    const candidate = path.join(d, 'redis-server');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function canInstallWithApt(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get');
}

function installRedis(log: (m: string) => void): void {
  log('redis-server is not installed: installing the Debian package redis-server (apt-get) ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-q', 'redis-server'], { stdio: 'inherit', env });
}

/** The redis-server binary: found on PATH, else installed where that is possible; throws RedisUnavailableError otherwise. */
export function redisBinary(log: (m: string) => void): string {
  let bin = findRedisServer();
  if (!bin && canInstallWithApt()) {
    installRedis(log);
    bin = findRedisServer();
  }
  if (!bin) {
    throw new RedisUnavailableError(
      'No Redis answers on 127.0.0.1:6379 and no redis-server is installed. Install one ' +
        '(Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`) ' +
        'or point REDIS_URL at a running Redis.',
    );
  }
  return bin;
}

async function waitForPing(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new RedisUnavailableError(`redis-server exited with code ${child.exitCode}`);
    if (await pingRedis('127.0.0.1', port, 200)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new RedisUnavailableError(`redis-server did not answer on port ${port} within ${timeoutMs} ms`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function ensureRedis(url: string | undefined, opts: RedisLaunchOptions): Promise<RedisHandle> {
  const log = opts.log ?? (() => undefined);
  if (url) return { url, owned: false, stop: async () => undefined };
  if (opts.mode === 'default' && (await pingRedis('127.0.0.1', 6379))) {
    return { url: 'redis://127.0.0.1:6379', owned: false, stop: async () => undefined };
  }
  const bin = redisBinary(log);
  const port = opts.mode === 'default' ? 6379 : await freePort();
  const dir =
    opts.mode === 'default'
      ? path.resolve(opts.dataDir ?? './data/redis')
      : fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-redis-'));
  fs.mkdirSync(dir, { recursive: true });
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', opts.mode === 'default' ? 'yes' : 'no',
    '--daemonize', 'no',
    '--logfile', '',
  ];
  const socket = opts.mode === 'throwaway' && opts.unixSocket === true ? path.join(dir, 'redis.sock') : undefined;
  if (socket !== undefined) args.push('--unixsocket', socket, '--unixsocketperm', '700');
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  // If the parent dies hard, do not leave the server behind it.
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  try {
    await waitForPing(port, child, 10_000);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  log(`started redis-server on 127.0.0.1:${port}${socket !== undefined ? ` and ${socket}` : ''} (data in ${dir})`);
  return {
    url: socket !== undefined ? `redis://localhost?path=${encodeURIComponent(socket)}` : `redis://127.0.0.1:${port}`,
    owned: true,
    stop: async () => {
      process.removeListener('exit', onExit);
      await stopChild(child);
      if (opts.mode === 'throwaway') fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
