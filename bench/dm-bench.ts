/**
 * DM endpoint throughput: a fleet of simulated DM 1.2 devices (md5 auth, XML
 * or WBXML) running client-initiated sessions against `POST /dm` of a real
 * gateway process, beside a bare `node:http` server answering the same bytes.
 *
 * Setup: the devices are registered through SOAP (createDeviceCapability,
 * importDeviceInstances with the fleet's credentials CSV), then every device
 * runs one full first session (401 challenge, resend with the new nonce,
 * DevDetail fetched because the model is unknown). After that a
 * client-initiated session with nothing queued is steady: Pkg1 with a Cred on
 * the nonce of the last session, and the gateway's one reply (header Status
 * 212 with the next nonce, its own Cred, Final) closes it. No SOAP operation
 * queues device commands yet and the queue's Redis format is internal, so
 * plain sessions are what is measured; messages per session is printed.
 *
 * The comparison, made fair on purpose:
 * - Same client process, same client work: both runs are the same Fleet
 *   objects (same devices, each encoding its Pkg1, computing its md5 Cred and
 *   parsing the reply) through the same transport instance (one keep-alive
 *   http.Agent, maxSockets = concurrency); for the bare run the transport only
 *   sends the bytes to another origin. Devices keep their trees between
 *   sessions (less client CPU on a 2-core box, the same in both runs), and
 *   the check of the server's credential is off in both measured runs (the
 *   warm-up sessions do check it), because the bare server's fixed reply
 *   carries one device's server Cred.
 * - Same bytes: the bare server answers every POST with a reply the gateway
 *   gave during its run (captured at the transport) and the same content
 *   type; the request bodies are the devices' own Pkg1s in both runs, so the
 *   same sizes both ways. Devices accept the fixed reply as a closing 212, so
 *   a bare session is one message, as a gateway session is.
 * - Same concurrency and timing: the same closed loop (C sessions in flight,
 *   devices round-robin), `duration` seconds each, measured in ~2 s windows
 *   that alternate gateway, bare, gateway, bare... (each after a short
 *   uncounted lead-in), so other work on the box weighs on both alike.
 *   Before each bare window the devices' client nonces are saved and put
 *   back after it, so the next gateway window is still steady state.
 * The gateway process also runs its Redis client, BullMQ workers and SQLite;
 * Redis itself is a separate process (throwaway) on the same 2 cores.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SyncMlEncoding } from '../src/dm/codec/types.js';
import { freePort } from '../src/main/redis-launcher.js';
import { Fleet } from '../src/simulator/fleet.js';
import {
  BenchTransport,
  type CapturedExchange,
  type LoadWindow,
  runEveryDeviceOnce,
  runSessionLoad,
  type SessionLoadResult,
  saveClientNonces,
  summarise,
} from './support/dm-load.js';
import { cpuSecondsOf } from './support/broker-load.js';
import { GATEWAY_NODE_ARGS, ROOT, rssOf, type Started, spawnGateway, startNodeWith, waitForHttpAnswer } from './support/processes.js';

export interface DmBenchOptions {
  redisUrl: string;
  /** Simulated devices per encoding. */
  devices: number;
  /** Sessions in flight. */
  concurrency: number;
  durationSeconds: number;
  encodings: readonly SyncMlEncoding[];
  /** Write a CPU profile of the gateway process (node --cpu-prof) into this directory. */
  cpuProfileDir?: string;
}

export interface DmBenchRow {
  encoding: SyncMlEncoding;
  /** Messages the first sessions took (challenge, resend, DevDetail). */
  warmupMessages: number;
  gateway: SessionLoadResult;
  bare: SessionLoadResult;
  /** Gateway messages/s ÷ bare server messages/s. */
  ratio: number;
  requestBytes: number;
  replyBytes: number;
  contentType: string;
  /** The gateway reply the bare server sent back, and the request it answered. */
  reply: Buffer;
  request: Buffer;
}

export interface DmBenchResult {
  devices: number;
  concurrency: number;
  rows: DmBenchRow[];
  gatewayPeakRssBytes: number | undefined;
}

const NS = 'urn:dmwsi-gateway:1.0';
const CAPABILITY_OID = 'bench-dm-cap';
const ADMIN_PASSWORD = 'bench-admin-password';
/** Length of one measured window; `duration` is split into about this many seconds per turn. */
const WINDOW_SECONDS = 2;
/** Unmeasured load at the start of each window (the first one of each target gets 1 s). */
const LEAD_IN_MS = 300;
/** More failed sessions than this share aborts the run. */
const MAX_FAILED_SHARE = 0.01;

function envelope(body: string): string {
  return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="${NS}"><s:Body>${body}</s:Body></s:Envelope>`;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

async function soapCall(url: string, body: string): Promise<string> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: envelope(body) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`SOAP call failed: ${text.slice(0, 400)}`);
  return text;
}

export async function runDmBench(o: DmBenchOptions): Promise<DmBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-dm-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    REDIS_URL: o.redisUrl,
    DMWSI_ADMIN_PASSWORD: ADMIN_PASSWORD,
    DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    QUEUE_PREFIX: `bench-${crypto.randomBytes(3).toString('hex')}`,
    LOG_LEVEL: 'warn',
  };
  const nodeArgs: string[] = [];
  if (o.cpuProfileDir !== undefined) {
    // Written when the gateway exits (it exits on SIGTERM once closed).
    fs.mkdirSync(o.cpuProfileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(o.cpuProfileDir)}`);
  }
  const gateway = spawnGateway([], env, nodeArgs);
  const transport = new BenchTransport(o.concurrency);
  let bare: Started | undefined;
  try {
    await waitForHttpAnswer(`${base}/healthz`);
    const soap = `${base}/dmwsi/DeviceManager`;
    const login = await soapCall(
      soap,
      `<t:login><t:username>admin</t:username><t:password>${ADMIN_PASSWORD}</t:password></t:login>`,
    );
    const session = /<userSession>([^<]+)<\/userSession>/.exec(login)![1]!;
    await soapCall(
      soap,
      `<t:createDeviceCapability><t:userSession>${session}</t:userSession><t:capability><t:oid>${CAPABILITY_OID}</t:oid><t:make>DmwsiSim</t:make><t:model>SimPhone-1</t:model><t:firmwareVersion>1.0.0</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion><t:sseRoot>./SSE</t:sseRoot></t:capability></t:createDeviceCapability>`,
    );

    const rows: DmBenchRow[] = [];
    for (const [k, encoding] of o.encodings.entries()) {
      const fleet = new Fleet({
        devices: o.devices,
        serverUrl: `${base}/dm`,
        capabilityOid: CAPABILITY_OID,
        encoding,
        authType: 'md5',
        // Disjoint IMEIs and phone numbers per encoding: both fleets live in one registry.
        imeiStart: `${35 + k}000000000000`,
        phonePrefix: `+1${555 + k}`,
        secretSeed: `dm-bench-${k}`,
        listen: false,
        maxConcurrentSessions: o.concurrency,
        transport,
        profile: { keepTrees: true },
      });
      await fleet.start();
      try {
        const imported = await soapCall(
          soap,
          `<t:importDeviceInstances><t:userSession>${session}</t:userSession><t:csv>${escapeXml(fleet.credentialsCsv())}</t:csv></t:importDeviceInstances>`,
        );
        const count = Number(/<imported>(\d+)<\/imported>/.exec(imported)?.[1]);
        if (count !== o.devices) throw new Error(`import stored ${count} of ${o.devices} devices: ${imported.slice(0, 400)}`);

        // First contact of every device, with the server's credentials checked.
        const warmupMessages = await runEveryDeviceOnce(fleet, transport, o.concurrency);
        // From here on both runs skip that check (see the module comment).
        fleet.profile.verifyServerCred = false;
        const rounds = Math.max(1, Math.round(o.durationSeconds / WINDOW_SECONDS));
        const window = { concurrency: o.concurrency, durationMs: (o.durationSeconds * 1000) / rounds };

        // The reply the bare server sends back: one the gateway gave in steady state.
        let captured: CapturedExchange | undefined;
        transport.onExchange = (x) => {
          if (x.response.status === 200) captured = x;
        };
        const gatewayCpu = () => cpuSecondsOf(gateway.child.pid);
        const gwWindows = [await runSessionLoad(fleet, transport, { ...window, leadInMs: 1000, serverCpuSeconds: gatewayCpu })];
        transport.onExchange = undefined;
        if (!captured) throw new Error('no DM reply captured');
        const contentType = captured.response.headers['content-type'] ?? '';
        const replyFile = path.join(dir, `reply-${encoding}.bin`);
        fs.writeFileSync(replyFile, captured.response.body);
        const barePort = await freePort();
        // With the gateway's V8 options too, so the two differ only in what answers.
        bare = startNodeWith(GATEWAY_NODE_ARGS, path.join(ROOT, 'dist', 'bench', 'bare-dm-server.js'), [String(barePort), replyFile, contentType], {});
        await waitForHttpAnswer(`http://127.0.0.1:${barePort}/healthz`);
        const bareCpu = () => cpuSecondsOf(bare?.child.pid);

        // Gateway and bare windows take turns, so a change in the box's
        // background load (other work on the 2 cores) hits both alike.
        const bareWindows: LoadWindow[] = [];
        for (let round = 0; ; round++) {
          const restore = saveClientNonces(fleet);
          transport.origin = `http://127.0.0.1:${barePort}`;
          bareWindows.push(
            await runSessionLoad(fleet, transport, { ...window, leadInMs: round === 0 ? 1000 : LEAD_IN_MS, serverCpuSeconds: bareCpu }),
          );
          transport.origin = undefined;
          restore();
          if (round === rounds - 1) break;
          gwWindows.push(await runSessionLoad(fleet, transport, { ...window, leadInMs: LEAD_IN_MS, serverCpuSeconds: gatewayCpu }));
        }
        await bare.stop();
        bare = undefined;
        const gw = summarise(gwWindows);
        const bareResult = summarise(bareWindows);
        // A few failures are the gateway's to explain (they are printed); many mean the run measured nothing.
        for (const [name, r] of [
          ['gateway', gw],
          ['bare', bareResult],
        ] as const) {
          if (r.sessions === 0 || r.sessionsFailed > r.sessions * MAX_FAILED_SHARE) {
            throw new Error(`${r.sessionsFailed} of ${r.sessions} ${name} sessions failed, e.g. ${r.firstError}`);
          }
        }

        rows.push({
          encoding,
          warmupMessages,
          gateway: gw,
          bare: bareResult,
          ratio: gw.messagesPerSecond / bareResult.messagesPerSecond,
          requestBytes: captured.requestBody.length,
          replyBytes: captured.response.body.length,
          contentType,
          reply: captured.response.body,
          request: captured.requestBody,
        });
      } finally {
        await fleet.stop();
      }
    }
    return {
      devices: o.devices,
      concurrency: o.concurrency,
      rows,
      gatewayPeakRssBytes: gateway.child.pid ? await rssOf(gateway.child.pid) : undefined,
    };
  } finally {
    transport.close();
    await bare?.stop();
    await gateway.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
