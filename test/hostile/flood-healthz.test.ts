/**
 * Hostile bodies cost each request its own linear time, never the process's
 * attention: 1 MiB of `<` sent ten times at once to each SOAP endpoint, to
 * `/dm` and to `/dm2` (what once made the SOAP pre-filter, a backtracking expression,
 * block the event loop for minutes: 80 KB took 4.5 s) leaves `/healthz`
 * answering within 100 ms throughout.
 *
 * A real gateway on an ephemeral port, in this process; the flood comes from
 * a child process (so the gateway's event loop carries only the gateway's
 * share of the work), the probe from here on its own connection (so it never
 * queues behind the flood).
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../../src/wsi/contract/schema.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { rawClient } from './hostile-kit.js';

const BODY_BYTES = 1024 * 1024;
const AT_ONCE = 10;
const HEALTHZ_BUDGET_MS = 100;

let gw: TestGateway;
let probe: ReturnType<typeof rawClient>;

beforeAll(async () => {
  gw = await startTestGateway({ overrides: { dm2AllowPlainHttp: true } });
  probe = rawClient(gw.url, { maxSockets: 1, timeoutMs: 120_000 });
});
afterAll(async () => {
  probe?.close();
  await gw?.stop();
});

interface Target {
  path: string;
  type: string;
}

/** Sends `copies` bodies of '<' to every target at once from a child process; resolves with each answer's status and DmwsiFault code. */
function floodFromChild(baseUrl: string, targets: Target[], copies: number): Promise<{ path: string; status: number; code?: string }[]> {
  const script = `
    const http = require('node:http');
    const [base, targets, copies, bytes] = JSON.parse(process.argv[1]);
    const body = Buffer.alloc(bytes, '<');
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    const url = new URL(base);
    const send = (t) => new Promise((resolve, reject) => {
      const r = http.request({ host: url.hostname, port: url.port, method: 'POST', path: t.path, agent,
        headers: { 'content-type': t.type, 'content-length': body.length } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ path: t.path, status: res.statusCode,
          code: (/<tns:code>(\\w+)</.exec(Buffer.concat(chunks).toString()) || [])[1] }));
      });
      r.on('error', reject);
      r.end(body);
    });
    Promise.all(targets.flatMap((t) => Array.from({ length: copies }, () => send(t))))
      .then((a) => process.stdout.write(JSON.stringify(a)), (e) => { console.error(e); process.exit(1); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, JSON.stringify([baseUrl, targets, copies, BODY_BYTES])], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`flood client exited with ${code}`))));
  });
}

const healthz = () => probe.send({ method: 'GET', path: '/healthz', headers: {}, body: Buffer.alloc(0) });

describe('ten 1 MiB bodies of "<" at once to each SOAP endpoint, to /dm and to /dm2', () => {
  const targets: Target[] = [
    ...SERVICES.map((s) => ({ path: `/dmwsi/${s.name}`, type: 'text/xml; charset=utf-8' })),
    { path: '/dm', type: 'application/vnd.syncml.dm+xml' },
    { path: '/dm2', type: 'application/vnd.oma.dm.initiation+json' },
  ];

  it('leave /healthz answering within 100 ms throughout, and each gets its typed refusal', async () => {
    // Warm up the probe's connection and each endpoint's code: the budget is the gateway's, not the JIT's first pass.
    expect((await healthz()).status).toBe(200);
    await floodFromChild(gw.url, targets, 1);

    let done = false;
    const flood = floodFromChild(gw.url, targets, AT_ONCE).finally(() => {
      done = true;
    });
    const samples: { status: number; ms: number }[] = [];
    while (!done || samples.length < 5) {
      const a = await healthz();
      samples.push({ status: a.status, ms: a.ms });
    }
    const answers = await flood;

    const slow = samples.filter((s) => s.status !== 200 || s.ms > HEALTHZ_BUDGET_MS).map((s) => `${s.status} in ${s.ms.toFixed(0)} ms`);
    expect(slow, `${samples.length} /healthz probes during the flood: ${samples.map((s) => s.ms.toFixed(0)).join(' ')} ms`).toEqual([]);
    const soap = answers.filter((a) => a.path.startsWith('/dmwsi/')).map((a) => `${a.status} ${a.code}`);
    expect(soap).toEqual(Array(AT_ONCE * SERVICES.length).fill('500 InvalidArgument'));
    // Read and refused by the decoder (400), not cut off by the size limit (413).
    expect(answers.filter((a) => a.path === '/dm').map((a) => a.status)).toEqual(Array(AT_ONCE).fill(400));
    // /dm2: refused as a malformed request (no OMADM-DevID, not JSON), never cut off or left unanswered.
    expect(answers.filter((a) => a.path === '/dm2').map((a) => a.status)).toEqual(Array(AT_ONCE).fill(400));
  }, 600_000);
});
