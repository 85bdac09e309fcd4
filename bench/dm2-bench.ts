/**
 * DM 2.0 beside DM 1.2 on one gateway process: steady client-initiated
 * sessions with nothing queued (DM 1.2: Pkg1 with an md5 Cred on the last
 * nonce, answered by one closing reply; DM 2.0: Package#1 with a Digest
 * Authorization on the last nonce, answered by `{"CMD":[["END"]]}`), the same
 * number in flight, windows alternating 1.2, 2.0, 1.2, 2.0… so the box's
 * background load weighs on both alike. What compares fairly on a loaded
 * 2-core box is the gateway's CPU per message, read from /proc for its
 * process; sessions/s also carry the client's own cost (the DM 2.0 client
 * is fetch/undici, the DM 1.2 one node:http with its SyncML codec).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/main/redis-launcher.js';
import { Dm2SimulatedDevice } from '../src/simulator/dm2/dm2-device.js';
import { CREDENTIALS_CSV_COLUMNS, Fleet } from '../src/simulator/fleet.js';
import { cpuSecondsOf, escapeXml, soapCall } from './support/broker-load.js';
import { BenchTransport, type LoadWindow, runEveryDeviceOnce, runSessionLoad, type SessionLoadResult, summarise } from './support/dm-load.js';
import { spawnGateway, waitForHttpAnswer } from './support/processes.js';

export interface Dm2BenchOptions {
  redisUrl: string;
  /** Devices per generation. */
  devices: number;
  concurrency: number;
  durationSeconds: number;
}

export interface Dm2BenchResult {
  devices: number;
  concurrency: number;
  dm12: SessionLoadResult;
  dm20: SessionLoadResult;
}

const ADMIN_PASSWORD = 'bench-admin-password';
const WINDOW_SECONDS = 2;
const LEAD_IN_MS = 300;

export async function runDm2Bench(o: Dm2BenchOptions): Promise<Dm2BenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-dm2-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gateway = spawnGateway([], {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    REDIS_URL: o.redisUrl,
    DMWSI_ADMIN_PASSWORD: ADMIN_PASSWORD,
    DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    QUEUE_PREFIX: `bench2-${crypto.randomBytes(3).toString('hex')}`,
    LOG_LEVEL: 'warn',
    DM2_ALLOW_PLAIN_HTTP: 'true',
  });
  const transport = new BenchTransport(o.concurrency);
  let fleet: Fleet | undefined;
  try {
    await waitForHttpAnswer(`${base}/healthz`);
    const soap = `${base}/dmwsi/DeviceManager`;
    const login = await soapCall(soap, `<t:login><t:username>admin</t:username><t:password>${ADMIN_PASSWORD}</t:password></t:login>`);
    const session = /<userSession>([^<]+)<\/userSession>/.exec(login)![1]!;
    const capability = (oid: string, version: string) =>
      soapCall(
        soap,
        `<t:createDeviceCapability><t:userSession>${session}</t:userSession><t:capability><t:oid>${oid}</t:oid><t:make>DmwsiSim</t:make><t:model>${oid}</t:model><t:firmwareVersion>1.0.0</t:firmwareVersion><t:dmVersion>${version}</t:dmVersion><t:sseRoot>./SSE</t:sseRoot></t:capability></t:createDeviceCapability>`,
      );
    await capability('bench-12', '1.2');
    await capability('bench-20', '2.0');
    const importCsv = async (csv: string) => {
      const r = await soapCall(soap, `<t:importDeviceInstances><t:userSession>${session}</t:userSession><t:csv>${escapeXml(csv)}</t:csv></t:importDeviceInstances>`);
      const count = Number(/<imported>(\d+)<\/imported>/.exec(r)?.[1]);
      if (count !== o.devices) throw new Error(`import stored ${count} of ${o.devices} devices: ${r.slice(0, 300)}`);
    };

    fleet = new Fleet({
      devices: o.devices,
      serverUrl: `${base}/dm`,
      capabilityOid: 'bench-12',
      encoding: 'xml',
      authType: 'md5',
      imeiStart: '36000000000000',
      phonePrefix: '+1560',
      secretSeed: 'dm2-bench-12',
      listen: false,
      maxConcurrentSessions: o.concurrency,
      transport,
      profile: { keepTrees: true },
    });
    await fleet.start();
    await importCsv(fleet.credentialsCsv());

    const passwords = Array.from({ length: o.devices }, () => crypto.randomBytes(12).toString('base64url'));
    const dm2 = passwords.map((clientPassword, i) => {
      const body = String(37_000_000_000_000 + i);
      return new Dm2SimulatedDevice({
        deviceId: `IMEI:${body}${luhnDigit(body)}`,
        phoneNumber: `+1570${String(i).padStart(7, '0')}`,
        serverUrl: `${base}/dm2`,
        authType: 'md5',
        clientUsername: `b${i}`,
        clientPassword,
      });
    });
    const rows = dm2.map((d, i) => [d.deviceId, d.phoneNumber, 'bench-20', '', `b${i}`, passwords[i], 'server-pw-bench', 'md5'].join(','));
    await importCsv(`${[...CREDENTIALS_CSV_COLUMNS, 'authType'].join(',')}\n${rows.join('\n')}\n`);
    for (const d of dm2) d.keepSessions = 1;

    // First sessions: DM 1.2 challenge and DevDetail; DM 2.0 Digest challenge.
    await runEveryDeviceOnce(fleet, transport, o.concurrency);
    fleet.profile.verifyServerCred = false;
    await inPool(dm2, o.concurrency, async (d) => {
      const r = await d.runSession('client');
      if (!r.ok) throw new Error(`${d.deviceId}: ${r.error}`);
    });

    const rounds = Math.max(1, Math.round(o.durationSeconds / WINDOW_SECONDS));
    const durationMs = (o.durationSeconds * 1000) / rounds;
    const serverCpuSeconds = () => cpuSecondsOf(gateway.child.pid);
    const w12: LoadWindow[] = [];
    const w20: LoadWindow[] = [];
    for (let round = 0; round < rounds; round++) {
      const leadInMs = round === 0 ? 1000 : LEAD_IN_MS;
      w12.push(await runSessionLoad(fleet, transport, { concurrency: o.concurrency, durationMs, leadInMs, serverCpuSeconds }));
      w20.push(await dm2Window(dm2, { concurrency: o.concurrency, durationMs, leadInMs, serverCpuSeconds }));
    }
    return { devices: o.devices, concurrency: o.concurrency, dm12: summarise(w12), dm20: summarise(w20) };
  } finally {
    transport.close();
    await fleet?.stop();
    await gateway.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The same closed loop as runSessionLoad, over DM 2.0 devices. */
async function dm2Window(
  devices: Dm2SimulatedDevice[],
  o: { concurrency: number; durationMs: number; leadInMs: number; serverCpuSeconds: () => Promise<number | undefined> },
): Promise<LoadWindow> {
  let next = 0;
  let measuring = false;
  let stop = false;
  let sessions = 0;
  let sessionsFailed = 0;
  let messages = 0;
  let firstError: string | undefined;
  const latencies: number[] = [];
  const worker = async () => {
    while (!stop) {
      const d = devices[next++ % devices.length]!;
      const before = d.messages;
      const started = performance.now();
      const r = await d.runSession('client');
      if (!measuring || stop) continue;
      sessions++;
      messages += d.messages - before;
      latencies.push(performance.now() - started);
      if (!r.ok) {
        sessionsFailed++;
        firstError ??= `${d.deviceId}: ${r.error}`;
      }
    }
  };
  const workers = Array.from({ length: o.concurrency }, worker);
  await new Promise((r) => setTimeout(r, o.leadInMs));
  const cpuAtStart = await o.serverCpuSeconds();
  const clientAtStart = process.cpuUsage();
  measuring = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, o.durationMs));
  const seconds = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientAtStart);
  const cpuAtEnd = await o.serverCpuSeconds();
  const counted = { sessions, sessionsFailed, messages, latencies: latencies.slice(), firstError };
  stop = true;
  await Promise.all(workers);
  return {
    ...(cpuAtStart !== undefined && cpuAtEnd !== undefined ? { serverCpuSeconds: cpuAtEnd - cpuAtStart } : {}),
    clientCpuSeconds: (client.user + client.system) / 1e6,
    seconds,
    messageFailures: 0,
    ...counted,
  };
}

async function inPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

function luhnDigit(body14: string): number {
  for (let d = 0; d <= 9; d++) {
    const s = body14 + d;
    let sum = 0;
    for (let k = 0; k < s.length; k++) {
      let n = Number(s[s.length - 1 - k]);
      if (k % 2 === 1) n = n * 2 > 9 ? n * 2 - 9 : n * 2;
      sum += n;
    }
    if (sum % 10 === 0) return d;
  }
  return 0;
}
