/**
 * A Redis Cluster of the test's own on free loopback ports: `masters`
 * redis-server processes (`--cluster-enabled yes`), each with `replicas`
 * replicas, joined by `redis-cli --cluster create ... --cluster-yes`, in a
 * temporary folder removed by stop(). kill() ends one node with SIGKILL (a
 * crashed master, for failover); promotion of its replica is Redis's own.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, pingRedis } from '../../src/main/redis-launcher.js';

const run = promisify(execFile);

export interface ClusterNodeProcess {
  port: number;
  child: ChildProcess;
}

/** Where the binaries are, or why a cluster cannot be started here (the skip message says it). */
export async function redisClusterSupport(): Promise<{ server: string; cli: string } | { missing: string }> {
  const find = async (name: string) => (await run('sh', ['-c', `command -v ${name} || ls /usr/sbin/${name} 2>/dev/null`]).catch(() => undefined))?.stdout.trim() || undefined;
  const server = await find('redis-server');
  const cli = await find('redis-cli');
  if (!server) return { missing: 'no redis-server is installed' };
  if (!cli) return { missing: 'no redis-cli is installed (it creates the cluster)' };
  const version = (await run(server, ['--version'])).stdout;
  const major = Number(/v=(\d+)\./.exec(version)?.[1] ?? 0);
  // Cluster mode and `redis-cli --cluster create` came with Redis 3 and 5.
  if (major < 5) return { missing: `redis-server lacks cluster support usable here (${version.trim()}; needs Redis >= 5)` };
  return { server, cli };
}

export class RedisClusterUnderTest {
  readonly nodes: ClusterNodeProcess[] = [];

  private constructor(
    private readonly bins: { server: string; cli: string },
    readonly dir: string,
  ) {}

  /** Starts and joins the cluster; resolves once every node reports cluster_state:ok. */
  static async start(o: { masters: number; replicas?: number; dir?: string }): Promise<RedisClusterUnderTest> {
    const support = await redisClusterSupport();
    if ('missing' in support) throw new Error(`cannot start a Redis Cluster: ${support.missing}`);
    const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-redis-cluster-'));
    fs.mkdirSync(dir, { recursive: true });
    const cluster = new RedisClusterUnderTest(support, dir);
    try {
      const count = o.masters * (1 + (o.replicas ?? 0));
      const ports: number[] = [];
      while (ports.length < count) {
        const p = await freePort();
        // The cluster bus listens on port + 10000: both must be free.
        if (p + 10000 <= 65535 && !ports.includes(p) && (await portFree(p + 10000))) ports.push(p);
      }
      for (const port of ports) cluster.nodes.push(cluster.spawnNode(port));
      await Promise.all(cluster.nodes.map((n) => waitForPing(n)));
      await run(support.cli, [
        '--cluster', 'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas', String(o.replicas ?? 0),
        '--cluster-yes',
      ]);
      await cluster.waitUntilOk(30_000);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  private spawnNode(port: number): ClusterNodeProcess {
    const nodeDir = path.join(this.dir, String(port));
    fs.mkdirSync(nodeDir, { recursive: true });
    const log = fs.openSync(path.join(nodeDir, 'redis.log'), 'a');
    const child = spawn(
      this.bins.server,
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', path.join(nodeDir, 'nodes.conf'),
        // A master that stops answering is failed over after this (default 15 s: too slow for a test).
        '--cluster-node-timeout', '2000',
        '--dir', nodeDir,
        '--save', '',
        '--appendonly', 'yes',
        '--appendfsync', 'always',
        '--daemonize', 'no',
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    return { port, child };
  }

  /** CLUSTER INFO / CLUSTER NODES of one node, through redis-cli. */
  async cli(port: number, ...args: string[]): Promise<string> {
    return (await run(this.bins.cli, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 })).stdout;
  }

  /** The ports of the nodes that are masters now (as a live node sees it). */
  async masters(): Promise<number[]> {
    const alive = this.live()[0];
    if (!alive) return [];
    const text = await this.cli(alive.port, 'cluster', 'nodes');
    const masters: number[] = [];
    for (const line of text.split('\n')) {
      // <id> <ip:port@bus> <flags> ... ; flags e.g. "myself,master", "master,fail"
      const [, address, flags = ''] = line.split(' ');
      const f = flags.split(',');
      if (f.includes('master') && !f.includes('fail') && !f.includes('fail?')) masters.push(Number(/:(\d+)@/.exec(address ?? '')?.[1]));
    }
    return masters;
  }

  /** The slot of `key` (CLUSTER KEYSLOT), asked of a live node. */
  async keySlot(key: string): Promise<number> {
    return Number((await this.cli(this.live()[0]!.port, 'cluster', 'keyslot', key)).trim());
  }

  /** The port of the live master serving `slot` now, as a live node sees it (undefined while none does). */
  async slotOwner(slot: number): Promise<number | undefined> {
    const text = await this.cli(this.live()[0]!.port, 'cluster', 'nodes');
    for (const line of text.split('\n')) {
      const [, address, flags = '', , , , , , ...ranges] = line.split(' ');
      const f = flags.split(',');
      if (!f.includes('master') || f.includes('fail') || f.includes('fail?')) continue;
      for (const r of ranges) {
        const [from, to = from] = r.split('-').map(Number);
        if (from !== undefined && to !== undefined && slot >= from && slot <= to) return Number(/:(\d+)@/.exec(address ?? '')?.[1]);
      }
    }
    return undefined;
  }

  private live(): ClusterNodeProcess[] {
    return this.nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  }

  async waitUntilOk(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = this.live();
      const states = await Promise.all(live.map((n) => this.cli(n.port, 'cluster', 'info').catch(() => '')));
      if (states.every((s) => s.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline) throw new Error(`the Redis Cluster did not reach cluster_state:ok within ${timeoutMs} ms (logs in ${this.dir})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** SIGKILL the node on `port`; its replica (if any) is promoted by the cluster. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    if (!node || node.child.exitCode !== null || node.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      node.child.once('exit', () => resolve());
      node.child.kill('SIGKILL');
    });
  }

  /** Ends every node and removes the folder. */
  async stop(keep = false): Promise<void> {
    await Promise.all(
      this.nodes.map(
        (n) =>
          new Promise<void>((resolve) => {
            if (n.child.exitCode !== null || n.child.signalCode !== null) return resolve();
            const timer = setTimeout(() => n.child.kill('SIGKILL'), 5000);
            n.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            n.child.kill('SIGTERM');
          }),
      ),
    );
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function waitForPing(n: ClusterNodeProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await pingRedis('127.0.0.1', n.port, 200))) {
    if (n.child.exitCode !== null) throw new Error(`redis-server on ${n.port} exited (${n.child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`redis-server on ${n.port} did not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
