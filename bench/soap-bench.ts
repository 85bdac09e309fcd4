/**
 * SOAP throughput of the device registry: createDeviceInstance and
 * getDeviceInstanceByDeviceID against a gateway process, each beside a bare
 * express route answering the same bytes on the same box; and the time to
 * import 100,000 CSV rows in one call.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { luhnValid } from '../src/domain/device-id.js';
import { freePort } from '../src/main/redis-launcher.js';
import { GATEWAY_NODE_ARGS, ROOT, rssOf, type Started, spawnGateway, startNodeWith, waitForHttp } from './support/processes.js';

export interface SoapBenchOptions {
  redisUrl: string;
  durationSeconds: number;
  connections: number;
  importRows: number;
}

export interface LoadFigure {
  name: string;
  requestsPerSecond: number;
  p99Ms: number;
  errors: number;
}

export interface SoapBenchResult {
  pairs: { soap: LoadFigure; bare: LoadFigure; ratio: number }[];
  importRows: number;
  importSeconds: number;
  gatewayPeakRssBytes: number | undefined;
}

const NS = 'urn:dmwsi-gateway:1.0';

function envelope(body: string): string {
  return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="${NS}"><s:Body>${body}</s:Body></s:Envelope>`;
}

function imei(n: number): string {
  const body = `86${String(n).padStart(12, '0')}`;
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return `IMEI:${body}${d}`;
  throw new Error('unreachable');
}

const phone = (n: number) => `+4470${String(n).padStart(9, '0')}`;

async function soapCall(url: string, body: string): Promise<string> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: envelope(body) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`SOAP call failed: ${text.slice(0, 400)}`);
  return text;
}

function figure(name: string, r: autocannon.Result): LoadFigure {
  return {
    name,
    requestsPerSecond: Math.round(r.requests.average),
    p99Ms: r.latency.p99,
    errors: r.errors + r.non2xx,
  };
}

function load(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

export async function runSoapBench(o: SoapBenchOptions): Promise<SoapBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gateway = spawnGateway([], {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    REDIS_URL: o.redisUrl,
    DMWSI_ADMIN_PASSWORD: 'bench-admin-password',
    DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    QUEUE_PREFIX: `bench-${crypto.randomBytes(3).toString('hex')}`,
    LOG_LEVEL: 'warn',
  });
  const barePort = await freePort();
  let bare: Started | undefined;
  try {
    await waitForHttp(`${base}/healthz`);
    const dm = `${base}/dmwsi/DeviceManager`;
    const login = await soapCall(dm, '<t:login><t:username>admin</t:username><t:password>bench-admin-password</t:password></t:login>');
    const session = /<userSession>([^<]+)<\/userSession>/.exec(login)![1]!;
    await soapCall(
      dm,
      `<t:createDeviceCapability><t:userSession>${session}</t:userSession><t:capability><t:oid>bench-cap</t:oid><t:make>Bench</t:make><t:model>B1</t:model><t:firmwareVersion>1</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion><t:sseRoot>./SSE</t:sseRoot></t:capability></t:createDeviceCapability>`,
    );

    const create = (n: number) =>
      envelope(
        `<t:createDeviceInstance><t:userSession>${session}</t:userSession><t:device><t:deviceId>${imei(n)}</t:deviceId><t:phoneNumber>${phone(n)}</t:phoneNumber><t:capabilityOid>bench-cap</t:capabilityOid><t:notificationUrl>http://127.0.0.1:9/n/${n}</t:notificationUrl></t:device></t:createDeviceInstance>`,
      );
    const getOne = envelope(
      `<t:getDeviceInstanceByDeviceID><t:userSession>${session}</t:userSession><t:deviceId>${imei(0)}</t:deviceId></t:getDeviceInstanceByDeviceID>`,
    );
    // The exact answers, for the bare route to send back.
    const createAnswer = await (await fetch(dm, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: create(0) })).text();
    const getAnswer = await (await fetch(dm, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: getOne })).text();

    let next = 1;
    const headers = { 'content-type': 'text/xml; charset=utf-8' };
    const common = { connections: o.connections, duration: o.durationSeconds, method: 'POST' as const, headers };
    const soapCreate = await load({
      ...common,
      url: dm,
      requests: [{ setupRequest: (req) => ({ ...req, body: create(next++) }) }],
    });
    const soapGet = await load({ ...common, url: dm, body: getOne });

    const pairs: SoapBenchResult['pairs'] = [];
    for (const [name, soapResult, answer, reqBody] of [
      ['createDeviceInstance', soapCreate, createAnswer, create(0)],
      ['getDeviceInstanceByDeviceID', soapGet, getAnswer, getOne],
    ] as const) {
      const file = path.join(dir, `${name}.xml`);
      fs.writeFileSync(file, answer);
      // With the gateway's V8 options too, so the two differ only in what answers.
      bare = startNodeWith(GATEWAY_NODE_ARGS, path.join(ROOT, 'dist', 'bench', 'bare-server.js'), [String(barePort), file], {});
      await waitForHttp(`http://127.0.0.1:${barePort}/healthz`);
      const bareResult = await load({ ...common, url: `http://127.0.0.1:${barePort}/bare`, body: reqBody });
      await bare.stop();
      bare = undefined;
      const s = figure(`SOAP ${name}`, soapResult);
      const b = figure(`bare express, same bytes`, bareResult);
      pairs.push({ soap: s, bare: b, ratio: s.requestsPerSecond / b.requestsPerSecond });
    }

    const lines = ['deviceId,phoneNumber,capabilityOid,notificationUrl,clientUsername,clientPassword,serverPassword'];
    for (let i = 0; i < o.importRows; i++) {
      const n = 1_000_000 + i;
      lines.push(`${imei(n)},${phone(n)},bench-cap,http://127.0.0.1:9/n/${n},,,`);
    }
    const started = performance.now();
    const imported = await soapCall(
      dm,
      `<t:importDeviceInstances><t:userSession>${session}</t:userSession><t:csv>${lines.join('\n')}</t:csv></t:importDeviceInstances>`,
    );
    const importSeconds = (performance.now() - started) / 1000;
    const count = Number(/<imported>(\d+)<\/imported>/.exec(imported)?.[1]);
    if (count !== o.importRows) throw new Error(`import stored ${count} of ${o.importRows} rows`);
    return {
      pairs,
      importRows: o.importRows,
      importSeconds,
      gatewayPeakRssBytes: gateway.child.pid ? await rssOf(gateway.child.pid) : undefined,
    };
  } finally {
    await bare?.stop();
    await gateway.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
