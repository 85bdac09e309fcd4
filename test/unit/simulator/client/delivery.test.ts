/**
 * FUMO and SCOMO on a simulated device, driven by raw DM commands from a fake
 * DM server, downloading from a real local HTTP server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertCommand, Command } from '../../../../src/dm/codec/types.js';
import { parseScomoResultData } from '../../../../src/dm/mo/index.js';
import type { FailureKind } from '../../../../src/simulator/mo/delivery.js';
import { makeSimulatedPackage } from '../../../../src/simulator/mo/package.js';
import { type DmAccount, SimulatedDevice, type SimulatedDeviceOptions } from '../../../../src/simulator/simulated-device.js';
import { waitFor } from '../../../support/wait.js';
import { add, addNode, exec, get, replace } from '../fixtures.js';
import { FakeDmServer, SERVER_URL } from './fake-server.js';

const DEV_ID = 'IMEI:493005100592801';
const SERVER_ID = 'dm.example.com';

const FIRMWARE = makeSimulatedPackage({ kind: 'firmware', name: 'sim-phone', version: '2.0.1', size: 4096 });
const BIG_FIRMWARE = makeSimulatedPackage({ kind: 'firmware', name: 'sim-phone', version: '3.0', size: 600_000 });
const APP_A = makeSimulatedPackage({ kind: 'component', name: 'com.example.maps', version: '1.2', size: 2048 });
const APP_B = makeSimulatedPackage({ kind: 'component', name: 'com.example.mail', version: '4.0', size: 2048 });
const CORRUPT = Buffer.from(FIRMWARE);
CORRUPT.writeUInt8(CORRUPT.readUInt8(CORRUPT.length - 1) ^ 0x01, CORRUPT.length - 1);

const packages = new Map<string, Buffer>([
  ['/fw.bin', FIRMWARE],
  ['/big.bin', BIG_FIRMWARE],
  ['/corrupt.bin', CORRUPT],
  ['/maps.pkg', APP_A],
  ['/mail.pkg', APP_B],
]);
const requests: { path: string; range: string | undefined }[] = [];
let pkgServer: http.Server;
let base = '';

beforeAll(async () => {
  pkgServer = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ path, range: req.headers.range });
    const body = packages.get(path.replace(/^\/no-range/, ''));
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const m = path.startsWith('/no-range/') ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      const start = Number(m[1]);
      res.writeHead(206, {
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'content-length': body.length - start,
      });
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    // Several writes, so a simulated interruption has a middle to drop at.
    for (let i = 0; i < body.length; i += 65_536) res.write(body.subarray(i, i + 65_536));
    res.end();
  });
  await new Promise<void>((r) => pkgServer.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(pkgServer.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => pkgServer.close(() => r())));

function setup(opts: Partial<SimulatedDeviceOptions> = {}) {
  let draw = 0;
  const acct: DmAccount = {
    accName: 'dmacc',
    serverUrl: SERVER_URL,
    serverId: SERVER_ID,
    authType: 'md5',
    clientUsername: DEV_ID,
    clientPassword: 'client-password-1',
    serverPassword: 'server-password-1',
    clientNonce: Buffer.alloc(0),
    serverNonce: Buffer.from('srv-nonce-0'),
  };
  const server = new FakeDmServer({
    accounts: new Map([
      [
        DEV_ID,
        { username: DEV_ID, password: acct.clientPassword, authType: 'md5', serverId: SERVER_ID, serverPassword: acct.serverPassword },
      ],
    ]),
  });
  const device = new SimulatedDevice({
    devId: DEV_ID,
    account: acct,
    transport: server,
    fumoRoot: './FUMO',
    scomoRoot: './SCOMO',
    // Varies, so that each session gets a new SessionID (the fake server keys sessions by it).
    random: () => {
      draw = (draw + 0.381966) % 1;
      return draw;
    },
    ...opts,
    delivery: { failureShares: {}, interruptedShare: 0, installMs: 5, downloadTimeoutMs: 5_000, ...opts.delivery },
  });
  return { device, server };
}

/** Runs a session carrying `commands`, then waits for the device's next report to reach the server. */
async function runAndAwaitReport(device: SimulatedDevice, server: FakeDmServer, commands: Command[]): Promise<AlertCommand> {
  const before = server.seen(DEV_ID).alerts.length;
  server.enqueue(DEV_ID, commands);
  await device.runSession();
  const alert = await waitFor(() => server.seen(DEV_ID).alerts[before], 10_000, 'a Generic Alert');
  await device.idle();
  return alert;
}

/** The status of the last Exec the device answered (the fake server renumbers CmdIDs). */
function lastExecStatus(server: FakeDmServer): number | undefined {
  return server.seen(DEV_ID).statuses.filter((s) => s.cmd === 'Exec').at(-1)?.data;
}

const fumoDownloadAndUpdate = (url: string): Command[] => [
  replace(2, './FUMO/DownloadAndUpdate/PkgURL', url),
  exec(3, './FUMO/DownloadAndUpdate', 'fw-job-1'),
];

describe('Simulated FUMO', () => {
  it('answers 202, downloads, installs, reports 200 with the correlator and then holds the new FwV', async () => {
    const { device, server } = setup();
    expect(device.firmwareVersion).not.toBe('2.0.1');
    const alert = await runAndAwaitReport(device, server, fumoDownloadAndUpdate(`${base}/fw.bin`));
    expect(lastExecStatus(server)).toBe(202);
    expect(alert).toMatchObject({
      data: 1226,
      correlator: 'fw-job-1',
      items: [
        {
          source: { locUri: './FUMO' },
          meta: { type: 'org.openmobilealliance.dm.firmwareupdate.downloadandupdate', format: 'int' },
          data: '200',
        },
      ],
    });
    const reporting = server.seen(DEV_ID).messages.find((m) => m.body.some((c) => c.kind === 'Alert' && c.data === 1226))!;
    expect(reporting.body[0]).toMatchObject({ kind: 'Alert', data: 1201 });
    expect(device.firmwareVersion).toBe('2.0.1');
    expect(device.delivery).toMatchObject({ downloadsStarted: 1, downloadsCompleted: 1, bytesDownloaded: FIRMWARE.length });
    expect(device.delivery.results).toEqual([{ mo: 'fumo', node: './FUMO/DownloadAndUpdate', resultCode: 200, correlator: 'fw-job-1' }]);

    // A later session reads the new version and the final State from the (rebuilt) tree.
    expect(device.hasTree).toBe(false);
    server.enqueue(DEV_ID, [get(2, './DevDetail/FwV', './FUMO/State', './FUMO')]);
    await device.runSession();
    const items = server.seen(DEV_ID).results.flatMap((r) => r.items);
    expect(items.find((i) => i.source?.locUri === './DevDetail/FwV')?.data).toBe('2.0.1');
    expect(items.find((i) => i.source?.locUri === './FUMO/State')?.data).toBe('100');
    expect(items.find((i) => i.source?.locUri === './FUMO')?.meta?.type).toBe('urn:oma:mo:oma-fumo:1.0');
  });

  const fumoCodes: Record<FailureKind, number> = {
    downloadFailed: 503,
    outOfMemory: 501,
    corruptPackage: 402,
    installFailed: 410,
    userPostponed: 401,
  };
  for (const [kind, code] of Object.entries(fumoCodes) as [FailureKind, number][]) {
    it(`reports ${code} and keeps the old FwV when the ${kind} share strikes`, async () => {
      const { device, server } = setup({ delivery: { failureShares: { [kind]: 1 } } as never });
      const fwBefore = device.firmwareVersion;
      const alert = await runAndAwaitReport(device, server, fumoDownloadAndUpdate(`${base}/big.bin`));
      expect(lastExecStatus(server)).toBe(202);
      expect(alert.items[0]?.data).toBe(String(code));
      expect(alert.items[0]?.meta?.mark).toBe('critical');
      expect(alert.correlator).toBe('fw-job-1');
      expect(device.firmwareVersion).toBe(fwBefore);
    });
  }

  it('reports 402 for a package whose payload does not match its SHA-256', async () => {
    const { device, server } = setup();
    const alert = await runAndAwaitReport(device, server, fumoDownloadAndUpdate(`${base}/corrupt.bin`));
    expect(alert.items[0]?.data).toBe('402');
  });

  it('resumes an interrupted download with Range and reassembles the package exactly', async () => {
    const { device, server } = setup({ delivery: { interruptedShare: 1 } as never });
    requests.length = 0;
    const alert = await runAndAwaitReport(device, server, fumoDownloadAndUpdate(`${base}/big.bin`));
    expect(alert.items[0]?.data).toBe('200');
    const ranged = requests.filter((r) => r.path === '/big.bin' && r.range !== undefined);
    expect(ranged).toHaveLength(1);
    const start = Number(/^bytes=(\d+)-$/.exec(ranged[0]!.range!)?.[1]);
    expect(start).toBeGreaterThan(0);
    expect(start).toBeLessThan(BIG_FIRMWARE.length);
    expect(device.delivery.downloadsResumed).toBe(1);
    expect(device.firmwareVersion).toBe('3.0');
  });

  it('keeps the report through failed sessions and delivers it once the server answers again', async () => {
    let down = false;
    let server!: FakeDmServer;
    const { device, server: fake } = setup({
      alertRetryMs: 20,
      transport: {
        post: (url, body, headers) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : server.post(url, body, headers)),
      },
    });
    server = fake;
    server.enqueue(DEV_ID, fumoDownloadAndUpdate(`${base}/fw.bin`));
    await device.runSession();
    down = true;
    await waitFor(() => device.delivery.results.length === 1 && device.sessionsFailed >= 2, 10_000, 'failed report sessions');
    expect(server.seen(DEV_ID).alerts).toHaveLength(0);
    down = false;
    const alert = await waitFor(() => server.seen(DEV_ID).alerts[0], 10_000, 'the report');
    expect(alert).toMatchObject({ correlator: 'fw-job-1', items: [{ data: '200' }] });
    await device.idle();
    expect(device.pendingAlerts).toHaveLength(0);
  });

  it('refuses a second Exec with 400 while the first job runs, and an Update with nothing to install', async () => {
    const { device } = setup();
    const tree = device.tree;
    expect(tree.exec('./FUMO/Update', undefined, 'u-0')).toBe(400);
    expect(tree.replace('./FUMO/DownloadAndUpdate/PkgURL', { data: `${base}/fw.bin` })).toBe(200);
    expect(tree.exec('./FUMO/DownloadAndUpdate', undefined, 'c-1')).toBe(202);
    expect(tree.exec('./FUMO/DownloadAndUpdate', undefined, 'c-2')).toBe(400);
    await waitFor(() => device.delivery.results.length === 1, 10_000, 'the first job');
    expect(device.delivery.results.map((r) => r.correlator)).toEqual(['c-1']);
  });

  it('installs a package delivered in Update/PkgData, and answers a missing PkgURL with 411', async () => {
    const { device } = setup();
    const tree = device.tree;
    expect(tree.replace('./FUMO/Update/PkgData', { format: 'bin', data: FIRMWARE })).toBe(200);
    expect(tree.exec('./FUMO/Update', undefined, 'u-1')).toBe(202);
    await waitFor(() => device.delivery.results.length === 1, 10_000, 'the update');
    expect(device.delivery.results[0]).toMatchObject({ node: './FUMO/Update', resultCode: 200 });
    expect(device.firmwareVersion).toBe('2.0.1');
    expect(device.delivery.downloadsStarted).toBe(0);
    tree.replace('./FUMO/DownloadAndUpdate/PkgURL', { data: `${base}/missing.bin` });
    expect(tree.exec('./FUMO/DownloadAndUpdate', undefined, 'c-404')).toBe(202);
    await waitFor(() => device.delivery.results.length === 2, 10_000, 'the failed download');
    expect(device.delivery.results[1]).toMatchObject({ resultCode: 411, failure: 'download-error' });
    expect(tree.get('./FUMO/State')).toMatchObject({ data: '20' });
  });

  it('resumes from a server that ignores Range by skipping the bytes it already holds', async () => {
    const { device, server } = setup({ delivery: { interruptedShare: 1 } as never });
    requests.length = 0;
    const alert = await runAndAwaitReport(device, server, fumoDownloadAndUpdate(`${base}/no-range/big.bin`));
    expect(alert.items[0]?.data).toBe('200');
    expect(requests.filter((r) => r.range !== undefined)).toHaveLength(1);
    expect(device.delivery.bytesDownloaded).toBeGreaterThan(BIG_FIRMWARE.length);
    expect(device.firmwareVersion).toBe('3.0');
  });

  it('downloads with Download, then installs the held package with Update', async () => {
    const { device, server } = setup();
    const first = await runAndAwaitReport(device, server, [
      replace(2, './FUMO/Download/PkgURL', `${base}/fw.bin`),
      exec(3, './FUMO/Download', 'dl-1'),
    ]);
    expect(first.items[0]?.meta?.type).toBe('org.openmobilealliance.dm.firmwareupdate.download');
    expect(first.items[0]?.data).toBe('200');
    expect(device.firmwareVersion).not.toBe('2.0.1');
    const second = await runAndAwaitReport(device, server, [exec(2, './FUMO/Update', 'up-1')]);
    expect(second).toMatchObject({ correlator: 'up-1', items: [{ meta: { type: 'org.openmobilealliance.dm.firmwareupdate.update' }, data: '200' }] });
    expect(device.firmwareVersion).toBe('2.0.1');
  });
});

const scomoInstall = (x: string, url: string, op: 'DownloadInstall' | 'DownloadInstallInactive', corr: string): Command[] => [
  addNode(2, `./SCOMO/Download/${x}`),
  add(3, `./SCOMO/Download/${x}/PkgID`, `pkg-${x}`),
  add(4, `./SCOMO/Download/${x}/Name`, x),
  add(5, `./SCOMO/Download/${x}/PkgURL`, url),
  exec(6, `./SCOMO/Download/${x}/Operations/${op}`, corr),
];

describe('Simulated SCOMO', () => {
  it('installs active and inactive, activates, deactivates and removes, keeping the inventory across sessions', async () => {
    const { device, server } = setup();
    const installed = await runAndAwaitReport(device, server, scomoInstall('maps', `${base}/maps.pkg`, 'DownloadInstall', 'sc-1'));
    expect(lastExecStatus(server)).toBe(202);
    expect(installed).toMatchObject({
      data: 1226,
      correlator: 'sc-1',
      items: [
        {
          source: { locUri: './SCOMO/Download/maps/Operations/DownloadInstall' },
          target: { locUri: './SCOMO/Inventory/Deployed/com.example.maps' },
          meta: { type: 'urn:oma:at:scomo:1.0:OperationComplete' },
        },
      ],
    });
    expect(parseScomoResultData(String(installed.items[0]?.data))).toEqual({ resultCode: 1200, identifier: 'pkg-maps' });
    await runAndAwaitReport(device, server, scomoInstall('mail', `${base}/mail.pkg`, 'DownloadInstallInactive', 'sc-2'));
    expect(device.inventory).toEqual({
      'com.example.maps': { id: 'com.example.maps', name: 'maps', version: '1.2', state: 20 },
      'com.example.mail': { id: 'com.example.mail', name: 'mail', version: '4.0', state: 10 },
    });

    const deployed = './SCOMO/Inventory/Deployed';
    const activated = await runAndAwaitReport(device, server, [exec(2, `${deployed}/com.example.mail/Operations/Activate`, 'sc-3')]);
    expect(parseScomoResultData(String(activated.items[0]?.data))).toEqual({ resultCode: 1200, identifier: 'com.example.mail' });
    await runAndAwaitReport(device, server, [exec(2, `${deployed}/com.example.maps/Operations/Deactivate`, 'sc-4')]);
    expect(device.inventory['com.example.mail']?.state).toBe(20);
    expect(device.inventory['com.example.maps']?.state).toBe(10);
    await runAndAwaitReport(device, server, [exec(2, `${deployed}/com.example.maps/Operations/Remove`, 'sc-5')]);
    expect(Object.keys(device.inventory)).toEqual(['com.example.mail']);

    // The server reads the same inventory in a later session, from a rebuilt tree.
    expect(device.hasTree).toBe(false);
    server.enqueue(DEV_ID, [get(2, deployed, `${deployed}/com.example.mail/Version`, './SCOMO')]);
    await device.runSession();
    const items = server.seen(DEV_ID).results.flatMap((r) => r.items);
    expect(items.find((i) => i.source?.locUri === deployed)?.data).toBe('com.example.mail');
    expect(items.find((i) => i.source?.locUri === `${deployed}/com.example.mail/Version`)?.data).toBe('4.0');
    expect(items.find((i) => i.source?.locUri === './SCOMO')?.meta?.type).toBe('urn:oma:mo:oma-scomo:1.0');
  });

  it('delivers with Download, then installs inactive from Inventory/Delivered', async () => {
    const { device, server } = setup();
    const commands = scomoInstall('mail', `${base}/mail.pkg`, 'DownloadInstall', 'sc-d');
    commands[commands.length - 1] = exec(6, './SCOMO/Download/mail/Operations/Download', 'sc-d');
    const delivered = await runAndAwaitReport(device, server, commands);
    expect(delivered.items[0]?.target?.locUri).toBe('./SCOMO/Inventory/Delivered/mail');
    expect(parseScomoResultData(String(delivered.items[0]?.data)).resultCode).toBe(1200);
    expect(device.inventory).toEqual({});
    const installed = await runAndAwaitReport(device, server, [
      exec(2, './SCOMO/Inventory/Delivered/mail/Operations/InstallInactive', 'sc-i'),
    ]);
    expect(installed.items[0]?.target?.locUri).toBe('./SCOMO/Inventory/Deployed/com.example.mail');
    expect(device.inventory['com.example.mail']).toMatchObject({ version: '4.0', state: 10 });
    server.enqueue(DEV_ID, [get(2, './SCOMO/Inventory/Delivered/mail/State')]);
    await device.runSession();
    const items = server.seen(DEV_ID).results.flatMap((r) => r.items);
    expect(items.find((i) => i.source?.locUri === './SCOMO/Inventory/Delivered/mail/State')?.data).toBe('20');
  });

  it('finishes an install whose Download/<X> the server deleted meanwhile, without bringing the node back', async () => {
    const { device } = setup();
    const tree = device.tree;
    expect(tree.add('./SCOMO/Download/maps', { format: 'node' })).toBe(200);
    tree.add('./SCOMO/Download/maps/PkgURL', { data: `${base}/maps.pkg` });
    expect(tree.exec('./SCOMO/Download/maps/Operations/DownloadInstall', undefined, 's-1')).toBe(202);
    expect(tree.delete('./SCOMO/Download/maps')).toBe(200);
    await waitFor(() => device.delivery.results.length === 1, 10_000, 'the install');
    expect(device.delivery.results[0]?.resultCode).toBe(1200);
    expect(tree.exists('./SCOMO/Download/maps')).toBe(false);
    expect(Object.keys(device.inventory)).toEqual(['com.example.maps']);
  });

  const scomoCodes: Record<FailureKind, number> = {
    downloadFailed: 1402,
    outOfMemory: 1404,
    corruptPackage: 1407,
    installFailed: 1405,
    userPostponed: 1401,
  };
  for (const [kind, code] of Object.entries(scomoCodes) as [FailureKind, number][]) {
    it(`reports ${code} and deploys nothing when the ${kind} share strikes`, async () => {
      const { device, server } = setup({ delivery: { failureShares: { [kind]: 1 } } as never });
      const alert = await runAndAwaitReport(device, server, scomoInstall('maps', `${base}/maps.pkg`, 'DownloadInstall', 'sc-9'));
      expect(parseScomoResultData(String(alert.items[0]?.data)).resultCode).toBe(code);
      expect(alert.items[0]?.target?.locUri).toBe('./SCOMO/Download/maps');
      expect(device.inventory).toEqual({});
    });
  }
});
