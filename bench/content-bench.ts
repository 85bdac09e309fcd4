/**
 * Package downloads: many devices fetching ranges of one package at once,
 * through the gateway's GET /dl/<token> (token check, task and content
 * lookup, `send`) and through a bare node:http server streaming the same file
 * (bench/bare-file-server.ts), in the same run, alternating. Also the
 * gateway's RSS before and after: a download must not hold the package in
 * memory.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { freePort } from '../src/main/redis-launcher.js';
import { openDatabase } from '../src/persistence/data-source.js';
import { TypeormTransactor } from '../src/persistence/transactor.js';
import { DownloadLinks, downloadLinkKey } from '../src/security/download-links.js';
import { SecretBox } from '../src/security/secret-box.js';
import { median } from './support/median.js';
import { ROOT, type Started, spawnGateway, startNodeWith, waitForHttp } from './support/processes.js';

export interface ContentBenchOptions {
  redisUrl: string;
  packageMiB: number;
  clients: number;
  rangeMiB: number;
  /** Requests per client per round. */
  requestsPerClient: number;
  rounds: number;
  /** Write a CPU profile of the gateway process here. */
  cpuProfDir?: string;
}

export interface DownloadRun {
  target: 'gateway' | 'bare';
  requests: number;
  bytes: number;
  seconds: number;
  mibPerSecond: number;
  errors: number;
  /** Resident memory of the serving process right after the run. */
  rssAfterBytes?: number;
}

export interface ContentBenchResult {
  runs: DownloadRun[];
  gatewayMibPerSecond: number;
  bareMibPerSecond: number;
  ratio: number;
  /** The median over rounds of each round's gateway/bare ratio (the two ran back to back). */
  medianRoundRatio: number;
  rssBeforeBytes: number | undefined;
  rssAfterBytes: number | undefined;
  rssPeakBytes: number | undefined;
}

const MiB = 1024 * 1024;

async function soapCall(url: string, body: string): Promise<string> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8' },
    body: `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:dmwsi-gateway:1.0"><s:Body>${body}</s:Body></s:Envelope>`,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`SOAP call failed: ${text.slice(0, 300)}`);
  return text;
}

async function memoryOf(pid: number): Promise<{ rss?: number; peak?: number }> {
  try {
    const status = await fs.promises.readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => {
      const m = new RegExp(`${name}:\\s+(\\d+) kB`).exec(status);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return {};
  }
}

/** A file of random bytes and its SHA-256, written in 1 MiB pieces. */
async function makePackage(file: string, mib: number): Promise<string> {
  const hash = crypto.createHash('sha256');
  const out = fs.createWriteStream(file);
  for (let i = 0; i < mib; i++) {
    const chunk = crypto.randomBytes(MiB);
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return hash.digest('hex');
}

/** `clients` concurrent clients, each making `perClient` random range requests one after another; bodies counted, never kept. */
async function downloadLoad(url: string, size: number, o: ContentBenchOptions, target: DownloadRun['target']): Promise<DownloadRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients });
  const rangeBytes = o.rangeMiB * MiB;
  let bytes = 0;
  let errors = 0;
  let requests = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const start = Math.floor(Math.random() * (size - rangeBytes));
      const req = http.get(url, { agent, headers: { range: `bytes=${start}-${start + rangeBytes - 1}` } }, (res) => {
        let got = 0;
        res.on('data', (c: Buffer) => {
          got += c.length;
        });
        res.on('end', () => {
          requests++;
          bytes += got;
          if (res.statusCode !== 206 || got !== rangeBytes) errors++;
          resolve();
        });
        res.on('error', () => {
          errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: o.clients }, async () => {
      for (let i = 0; i < o.requestsPerClient; i++) await one();
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  return { target, requests, bytes, seconds, mibPerSecond: bytes / MiB / seconds, errors };
}

export async function runContentBench(o: ContentBenchOptions): Promise<ContentBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-content-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const secretKey = crypto.randomBytes(32);
  const packageFile = path.join(dir, 'package.bin');
  const sha256 = await makePackage(packageFile, o.packageMiB);
  const size = o.packageMiB * MiB;
  const gateway = spawnGateway([], {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    REDIS_URL: o.redisUrl,
    DMWSI_ADMIN_PASSWORD: 'bench-admin-password',
    DMWSI_SECRET_KEY: secretKey.toString('hex'),
    QUEUE_PREFIX: `bench-${crypto.randomBytes(3).toString('hex')}`,
    LOG_LEVEL: 'warn',
  }, o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : []);
  let bare: Started | undefined;
  try {
    await waitForHttp(`${base}/healthz`);
    const bulk = `${base}/dmwsi/BulkOperationsManager`;
    const login = await soapCall(bulk, '<t:login><t:username>admin</t:username><t:password>bench-admin-password</t:password></t:login>');
    const session = /<userSession>([^<]+)<\/userSession>/.exec(login)![1]!;
    const created = await soapCall(
      bulk,
      `<t:createContent><t:userSession>${session}</t:userSession><t:content><t:name>bench-fw</t:name><t:version>1</t:version><t:kind>firmware</t:kind><t:sha256>${sha256}</t:sha256><t:size>${size}</t:size></t:content></t:createContent>`,
    );
    const contentId = /<contentId>([^<]+)<\/contentId>/.exec(created)![1]!;
    // The upload, streamed from the file as a client would.
    const uploaded = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${base}/content/${contentId}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${session}`, 'content-length': String(size) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      pipeline(fs.createReadStream(packageFile), req).catch(reject);
    });
    if (uploaded !== 201) throw new Error(`upload answered ${uploaded}`);
    // A task delivering it (nothing sets content_id through the API yet): written to the gateway's database.
    const ds = await openDatabase({ url: `sqlite:${path.join(dir, 'dmwsi.sqlite')}` });
    const taskId = `bench-task-${crypto.randomUUID()}`;
    const now = new Date();
    await new TypeormTransactor(ds, new SecretBox(secretKey)).run((s) =>
      s.tasks.insert(
        {
          taskId,
          deviceId: 'IMEI:490154203237518',
          operation: { name: 'CUSTOM', commands: [] },
          status: 'IN_SESSION',
          results: [],
          bOptin: false,
          acceptDevicePolicy: 30,
          testCycle: false,
          contentId,
          createdBy: 'bench',
          createdAt: now,
          updatedAt: now,
        },
        'created',
      ),
    );
    await ds.destroy();
    const link = new DownloadLinks(downloadLinkKey(secretKey), base).url({ taskId, contentId, expiresAt: Date.now() + 3_600_000 });

    const barePort = await freePort();
    bare = startNodeWith(
      o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(o.cpuProfDir, 'bare')}`] : [],
      path.join(ROOT, 'dist', 'bench', 'bare-file-server.js'),
      [String(barePort), path.join(dir, 'content', contentId)],
      {},
    );
    await waitForHttp(`http://127.0.0.1:${barePort}/healthz`);
    const bareUrl = `http://127.0.0.1:${barePort}/package`;

    // Warm both (page cache, JIT) with one small round.
    await downloadLoad(link, size, { ...o, clients: 50, requestsPerClient: 2 }, 'gateway');
    await downloadLoad(bareUrl, size, { ...o, clients: 50, requestsPerClient: 2 }, 'bare');
    const before = await memoryOf(gateway.child.pid!);
    const runs: DownloadRun[] = [];
    const measured = async (target: DownloadRun['target']) => {
      const run = await downloadLoad(target === 'bare' ? bareUrl : link, size, o, target);
      const rss = (await memoryOf((target === 'bare' ? bare! : gateway).child.pid!)).rss;
      runs.push({ ...run, ...(rss !== undefined && { rssAfterBytes: rss }) });
    };
    // Alternating, and which goes first too: the box is shared, and its load drifts.
    for (let round = 0; round < o.rounds; round++) {
      const order: DownloadRun['target'][] = round % 2 === 0 ? ['bare', 'gateway'] : ['gateway', 'bare'];
      for (const target of order) await measured(target);
    }
    const after = await memoryOf(gateway.child.pid!);
    const rate = (t: DownloadRun['target']) => {
      const rs = runs.filter((r) => r.target === t);
      return rs.reduce((n, r) => n + r.bytes, 0) / MiB / rs.reduce((n, r) => n + r.seconds, 0);
    };
    const medianRoundRatio = median(
      Array.from({ length: o.rounds }, (_, i) => {
        const pair = runs.slice(2 * i, 2 * i + 2);
        return pair.find((r) => r.target === 'gateway')!.mibPerSecond / pair.find((r) => r.target === 'bare')!.mibPerSecond;
      }),
    );
    const gatewayMibPerSecond = rate('gateway');
    const bareMibPerSecond = rate('bare');
    return {
      runs,
      gatewayMibPerSecond,
      bareMibPerSecond,
      ratio: gatewayMibPerSecond / bareMibPerSecond,
      medianRoundRatio,
      rssBeforeBytes: before.rss,
      rssAfterBytes: after.rss,
      rssPeakBytes: after.peak,
    };
  } finally {
    await bare?.stop();
    await gateway.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
