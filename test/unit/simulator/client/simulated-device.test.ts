import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import {
  bootstrapContentType,
  bootstrapKey,
  bootstrapMac,
} from '../../../../src/dm/bootstrap/security.js';
import { encodeSyncMl } from '../../../../src/dm/codec/index.js';
import type { Command, ItemCommand, SyncMlMessage } from '../../../../src/dm/codec/types.js';
import { buildTrigger, RESYNC_NONCE } from '../../../../src/dm/notification/package0.js';
import {
  createHttpTransport,
  type DeviceHost,
  type DmAccount,
  SimulatedDevice,
  type SimulatedDeviceOptions,
} from '../../../../src/simulator/simulated-device.js';
import { ManagementTree } from '../../../../src/simulator/tree/management-tree.js';
import { addNode, exec, get, replace, sequence, add } from '../fixtures.js';
import { FakeDmServer, SERVER_URL } from './fake-server.js';

const DEV_ID = 'IMEI:493005100592800';
const SERVER_ID = 'dm.example.com';

interface TestHost {
  host: DeviceHost;
  scheduled: { at: number; fn: () => void }[];
  advance(ms: number): void;
  /** Runs every scheduled callback due now, in time order. */
  runDue(): void;
}

function testHost(start = Date.parse('2025-03-01T00:00:00Z')): TestHost {
  let now = start;
  const scheduled: { at: number; fn: () => void }[] = [];
  return {
    host: { now: () => now, schedule: (at, fn) => scheduled.push({ at, fn }), runSession: (fn) => fn() },
    scheduled,
    advance(ms) {
      now += ms;
    },
    runDue() {
      scheduled.sort((a, b) => a.at - b.at);
      while (scheduled.length > 0 && scheduled[0]!.at <= now) scheduled.shift()!.fn();
    },
  };
}

function account(overrides: Partial<DmAccount> = {}): DmAccount {
  return {
    accName: 'dmacc',
    serverUrl: SERVER_URL,
    serverId: SERVER_ID,
    authType: 'md5',
    clientUsername: DEV_ID,
    clientPassword: 'client-password-1',
    serverPassword: 'server-password-1',
    clientNonce: Buffer.alloc(0),
    serverNonce: Buffer.from('srv-nonce-0'),
    ...overrides,
  };
}

function setup(opts: Partial<SimulatedDeviceOptions> = {}, acct: Partial<DmAccount> = {}) {
  const th = testHost();
  const a = account(acct);
  const server = new FakeDmServer({
    accounts: new Map([
      [
        DEV_ID,
        {
          username: a.clientUsername,
          password: a.clientPassword,
          authType: a.authType,
          serverId: SERVER_ID,
          serverPassword: a.serverPassword,
        },
      ],
    ]),
  });
  const device = new SimulatedDevice({
    devId: DEV_ID,
    account: a,
    transport: server,
    host: th.host,
    random: () => 0.5,
    ...opts,
  });
  return { device, server, th };
}

function trigger(sessionId: number, nonce: Buffer, password = 'server-password-1', serverId = SERVER_ID): Buffer {
  return buildTrigger({
    uiMode: 'background',
    initiator: 'server',
    sessionId,
    serverId,
    serverDigestSecret: { serverId, password },
    nonce,
  });
}

const sseSequence = (target = './FUMO/fw1/Update', at = '20250301T020000Z'): Command =>
  sequence(
    1,
    addNode(2, './SSE/job1'),
    add(3, './SSE/job1/TargetURI', target),
    add(4, './SSE/job1/AtTime', at),
    exec(5, './SSE/job1/Go', 'sse-7f41'),
  );

describe('SimulatedDevice sessions', () => {
  it('authenticates after the md5 challenge and keeps the nonces it learnt', async () => {
    const { device, server } = setup({}, { serverNonce: Buffer.alloc(0) });
    const report = await device.runSession();
    expect(report).toMatchObject({ outcome: 'ok', initiator: 'client' });
    const seen = server.seen(DEV_ID);
    // Pkg1, then Pkg1 again with the challenged nonce (its header Status carries the new server nonce).
    expect(seen.messages.map((m) => m.header.msgId)).toEqual([1, 2]);
    expect(seen.messages[1]?.body[0]).toMatchObject({ kind: 'Status', cmdRef: 0, chal: {} });
    expect(new Set(seen.messages.map((m) => m.header.sessionId)).size).toBe(1);
    expect(device.account.clientNonce).toEqual(server.clientNonces.get(DEV_ID));
    expect(seen.serverNonces).toHaveLength(1);
    expect(device.account.serverNonce).toEqual(seen.serverNonces[0]);
    expect(device.sessions).toBe(1);
  });

  it('posts over real HTTP with the default transport', async () => {
    const { device, server } = setup();
    const httpServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        void server.post(`${SERVER_URL}`, Buffer.concat(chunks), headers).then((r) => {
          res.writeHead(r.status, r.headers);
          res.end(r.body);
        });
      });
    });
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', () => r()));
    const transport = createHttpTransport();
    try {
      const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/dm`;
      const httpDevice = new SimulatedDevice({
        devId: DEV_ID,
        account: account({ serverUrl: url }),
        transport,
        host: device.profile.host,
      });
      server.enqueue(DEV_ID, [get(1, './DevInfo/Lang')]);
      const report = await httpDevice.runSession();
      expect(report).toMatchObject({ outcome: 'ok' });
      expect(server.seen(DEV_ID).results[0]?.items[0]?.data).toBe('en-US');
    } finally {
      transport.close();
      await new Promise((r) => httpServer.close(r));
    }
  });

  it('talks HMAC and WBXML end to end', async () => {
    const { device, server } = setup({ encoding: 'wbxml' }, { authType: 'hmac' });
    server.enqueue(DEV_ID, [get(1, './DevDetail/FwV')]);
    const report = await device.runSession();
    expect(report.outcome).toBe('ok');
    const results = server.seen(DEV_ID).results;
    expect(results[0]?.items[0]).toMatchObject({ source: { locUri: './DevDetail/FwV' }, data: '1.0.0' });
    expect(server.seen(DEV_ID).messages.every((m) => m.header.cred === undefined)).toBe(true);
  });

  it('drops its tree between uses and rebuilds it from the journal of what modified it', async () => {
    const { device, server, th } = setup();
    server.enqueue(DEV_ID, [get(1, './DevInfo/Man')]);
    await device.runSession();
    expect(device.hasTree).toBe(false);
    server.enqueue(DEV_ID, [sseSequence(), replace(6, './DMAcc/dmacc/ServerID', SERVER_ID)]);
    await device.runSession();
    expect(device.hasTree).toBe(false);
    expect(th.scheduled).toHaveLength(1);
    // Reading the tree rebuilds it (template + journal) and pins it.
    expect(device.tree.read('./SSE/job1/AtTime')?.data).toBe('20250301T020000Z');
    expect(device.tree.read('./SSE/job1/Go')?.access).toEqual(['Exec']);
    expect(th.scheduled).toHaveLength(1);
    expect(device.executionCount('./FUMO/fw1/Update')).toBe(0);
    await device.runSession();
    expect(device.hasTree).toBe(true);
  });
});

describe('SimulatedDevice account', () => {
  it('derives an account from its factory once, and builds every tree from the account it started with', async () => {
    const { server, th } = setup({}, { serverNonce: Buffer.alloc(0) });
    let derived = 0;
    const device = new SimulatedDevice({
      devId: DEV_ID,
      account: () => {
        derived++;
        return account({ serverNonce: Buffer.alloc(0) });
      },
      transport: server,
      host: th.host,
      random: () => 0.5,
    });
    server.enqueue(DEV_ID, [sseSequence()]);
    await device.runSession();
    server.enqueue(DEV_ID, [get(1, './DevInfo/Man')]);
    await device.runSession();
    expect(device.hasTree).toBe(false);
    expect(device.firmwareVersion).toBe('1.0.0');
    // The sessions changed the account's nonces; the starting account (the tree's template) kept its own.
    expect(device.account.clientNonce.length).toBeGreaterThan(0);
    expect(device.account.serverNonce.length).toBeGreaterThan(0);
    // Three trees built (two sessions, one read), one derivation.
    expect(derived).toBe(1);
    expect(device.tree.read('./DMAcc/dmacc/AppAuth/CLCRED/AAuthName')?.data).toBe(DEV_ID);
    expect(device.tree.read('./DMAcc/dmacc/AppAuth/SRVCRED/AAuthData')?.data).toEqual(device.account.serverNonce);
    expect(derived).toBe(1);
  });
});

describe('SimulatedDevice notifications', () => {
  it('opens a server-initiated session with the trigger session id', async () => {
    const { device, server } = setup();
    const result = device.receiveNotification(trigger(0xa3, Buffer.from('srv-nonce-0')));
    expect(result).toEqual({ accepted: true, sessionIdHex: 'A3', duplicate: false, ignoredOffline: false, resync: false });
    await device.idle();
    const first = server.seen(DEV_ID).messages[0]!;
    expect(first.header.sessionId).toBe('A3');
    expect(first.body[0]).toMatchObject({ kind: 'Alert', data: 1200 });
  });

  it('runs one session for a trigger sent twice', async () => {
    const { device, server } = setup();
    const bytes = trigger(0x1234, Buffer.from('srv-nonce-0'));
    expect(device.receiveNotification(bytes)).toMatchObject({ accepted: true, duplicate: false });
    expect(device.receiveNotification(bytes)).toMatchObject({ accepted: true, duplicate: true });
    await device.idle();
    expect(device.receiveNotification(bytes)).toMatchObject({ accepted: true, duplicate: true });
    await device.idle();
    expect(server.seen(DEV_ID).sessions).toEqual(['1234']);
  });

  it('drops a trigger with a bad digest or another server id', () => {
    const { device, server } = setup();
    expect(device.receiveNotification(trigger(5, Buffer.from('srv-nonce-0'), 'wrong-password'))).toEqual({
      accepted: false,
      reason: 'bad-digest',
    });
    expect(device.receiveNotification(trigger(5, Buffer.from('srv-nonce-0'), 'server-password-1', 'other'))).toEqual({
      accepted: false,
      reason: 'wrong-server',
    });
    expect(device.receiveNotification(Buffer.from('short'))).toEqual({ accepted: false, reason: 'malformed' });
    expect(device.notificationsRejected).toBe(3);
    expect(server.posts).toBe(0);
  });

  it('accepts a trigger signed with the resync nonce and issues a new server nonce', async () => {
    const { device, server } = setup();
    const result = device.receiveNotification(trigger(7, RESYNC_NONCE));
    expect(result).toMatchObject({ accepted: true, resync: true });
    await device.idle();
    const nonces = server.seen(DEV_ID).serverNonces;
    expect(nonces).toHaveLength(1);
    expect(device.account.serverNonce).toEqual(nonces[0]);
    // The next trigger is signed with the nonce the device issued.
    expect(device.receiveNotification(trigger(8, nonces[0]!))).toMatchObject({ accepted: true, resync: false });
    await device.idle();
  });

  it('ignores notifications while offline and checks in when it comes online', async () => {
    const { device, server } = setup({ online: false });
    expect(device.receiveNotification(trigger(9, Buffer.from('srv-nonce-0')))).toMatchObject({ ignoredOffline: true });
    expect(server.posts).toBe(0);
    device.setOnline(true);
    await device.idle();
    expect(server.seen(DEV_ID).messages[0]?.body[0]).toMatchObject({ kind: 'Alert', data: 1201 });
  });
});

describe('SimulatedDevice SingleShotExec', () => {
  it('runs the target once at AtTime and reports it in the next session (example (c))', async () => {
    const { device, server, th } = setup();
    server.enqueue(DEV_ID, [sseSequence()]);
    await device.runSession();
    expect(device.hasTree).toBe(false);
    expect(th.scheduled.map((s) => new Date(s.at).toISOString())).toEqual(['2025-03-01T02:00:00.000Z']);
    th.advance(2 * 3600_000);
    th.runDue();
    await device.idle();
    expect(device.executionCount('./FUMO/fw1/Update')).toBe(1);
    const alerts = server.seen(DEV_ID).alerts;
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      data: 1226,
      correlator: 'sse-7f41',
      items: [{ source: { locUri: './SSE/job1' }, meta: { type: 'org.openmobilealliance.dm.singleshotexec' }, data: '200' }],
    });
    const reporting = server.seen(DEV_ID).messages.find((m) => m.body.some((c) => c.kind === 'Alert' && c.data === 1226))!;
    expect(reporting.header.msgId).toBe(1);
    expect(reporting.body[0]).toMatchObject({ kind: 'Alert', data: 1201 });
    expect(device.pendingAlerts).toHaveLength(0);
    expect(device.alertsSent).toBe(1);
    expect(device.hasTree).toBe(false);
    // Firing the same schedule again does nothing, also on a tree rebuilt from the journal.
    device.fireArmed({ moUri: './SSE/job1', targetUri: './FUMO/fw1/Update', atTime: new Date(0), armId: 1 });
    await device.idle();
    expect(device.executionCount('./FUMO/fw1/Update')).toBe(1);
    expect(server.seen(DEV_ID).alerts).toHaveLength(1);
  });

  it('reports a fired schedule on the tree it fired it on when the host opens the session at once', async () => {
    const { device, server, th } = setup();
    server.enqueue(DEV_ID, [sseSequence()]);
    await device.runSession();
    // Each tree built is a clone of the template.
    const builds = vi.spyOn(ManagementTree.prototype, 'clone');
    try {
      th.advance(2 * 3600_000);
      th.runDue();
      await device.idle();
      expect(server.seen(DEV_ID).alerts).toHaveLength(1);
      expect(device.executionCount('./FUMO/fw1/Update')).toBe(1);
      expect(builds).toHaveBeenCalledTimes(1);
      expect(device.hasTree).toBe(false);
    } finally {
      builds.mockRestore();
    }
  });

  it('drops the tree after firing when the host holds the reporting session back', async () => {
    const held: (() => void)[] = [];
    const th = testHost();
    const { device, server } = setup({
      host: {
        ...th.host,
        runSession: (fn) => new Promise((resolve, reject) => held.push(() => void fn().then(resolve, reject))),
      },
    });
    server.enqueue(DEV_ID, [sseSequence()]);
    const arming = device.runSession();
    held.shift()!();
    await arming;
    th.advance(2 * 3600_000);
    th.runDue();
    expect(device.executionCount('./FUMO/fw1/Update')).toBe(1);
    expect(held).toHaveLength(1);
    expect(device.hasTree).toBe(false);
    held.shift()!();
    await device.idle();
    expect(server.seen(DEV_ID).alerts).toHaveLength(1);
    expect(device.hasTree).toBe(false);
  });

  it('tries a report again after a failed session, until it is delivered, without running the target again', async () => {
    let down = false;
    const { device, server, th } = setup({
      transport: { post: (url, body, headers) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : server.post(url, body, headers)) },
    });
    server.enqueue(DEV_ID, [sseSequence()]);
    await device.runSession();
    down = true;
    th.advance(2 * 3600_000);
    th.runDue();
    await device.idle();
    expect(device.pendingAlerts).toHaveLength(1);
    // random() is 0.5: the first retry comes after exactly alertRetryMs (5 s by default), the next after twice that.
    expect(th.scheduled.map((s) => s.at - (Date.parse('2025-03-01T00:00:00Z') + 2 * 3600_000))).toEqual([5_000]);
    th.advance(5_000);
    th.runDue();
    await device.idle();
    expect(th.scheduled.map((s) => s.at - (Date.parse('2025-03-01T00:00:00Z') + 2 * 3600_000 + 5_000))).toEqual([10_000]);
    down = false;
    th.advance(10_000);
    th.runDue();
    await device.idle();
    expect(device.pendingAlerts).toHaveLength(0);
    expect(server.seen(DEV_ID).alerts).toHaveLength(1);
    expect(device.executionCount('./FUMO/fw1/Update')).toBe(1);
    expect(th.scheduled).toEqual([]);
  });

  it('comes back after Retry-After when the server turns its report session away with 503, instead of its own backoff', async () => {
    let busy = 0;
    const { device, server, th } = setup({
      transport: {
        post: (url, body, headers) =>
          busy-- > 0 ? Promise.resolve({ status: 503, headers: { 'retry-after': '7' }, body: Buffer.from('busy') }) : server.post(url, body, headers),
      },
    });
    server.enqueue(DEV_ID, [sseSequence()]);
    await device.runSession();
    busy = 2;
    const fired = Date.parse('2025-03-01T00:00:00Z') + 2 * 3600_000;
    th.advance(2 * 3600_000);
    th.runDue();
    await device.idle();
    // The server's 7 s, twice (alertRetryMs would have waited 5 s, then 10).
    expect(th.scheduled.map((s) => s.at - fired)).toEqual([7_000]);
    th.advance(7_000);
    th.runDue();
    await device.idle();
    expect(th.scheduled.map((s) => s.at - fired)).toEqual([14_000]);
    th.advance(7_000);
    th.runDue();
    await device.idle();
    expect(device.pendingAlerts).toHaveLength(0);
    expect(server.seen(DEV_ID).alerts).toHaveLength(1);
    expect(device.executionCount('./FUMO/fw1/Update')).toBe(1);
    expect(th.scheduled).toEqual([]);
  });

  it('opens a notified session again after Retry-After, with the trigger session id, at most busyRetries times in a row', async () => {
    let busy = 0;
    const { device, server, th } = setup({
      busyRetries: 2,
      transport: {
        post: (url, body, headers) =>
          busy-- > 0 ? Promise.resolve({ status: 503, headers: { 'retry-after': '5' }, body: Buffer.from('busy') }) : server.post(url, body, headers),
      },
    });
    busy = 1;
    device.receiveNotification(trigger(0xb7, Buffer.from('srv-nonce-0')));
    await device.idle();
    expect(th.scheduled).toHaveLength(1);
    th.advance(5_000);
    th.runDue();
    await device.idle();
    expect(server.seen(DEV_ID).sessions).toEqual(['B7']);
    expect(th.scheduled).toEqual([]);

    // Turned away three times in a row: it tries twice more, then gives up (the server wakes it again).
    busy = 3;
    device.receiveNotification(trigger(0xc8, Buffer.from(device.account.serverNonce)));
    for (let i = 0; i < 3; i++) {
      await device.idle();
      th.advance(5_000);
      th.runDue();
    }
    await device.idle();
    expect(th.scheduled).toEqual([]);
    expect(server.seen(DEV_ID).sessions).toEqual(['B7']);
  });

  it('opens a notified session again after Retry-After when the server turns away its Pkg1 sent again after a 401 challenge', async () => {
    // A cold device's first message is challenged (no nonce yet); Pkg1 again, with credentials, still goes
    // to the server's URI (a challenge gives no RespURI), where the server opens sessions and may refuse
    // them with 503 and Retry-After (DM_MAX_IN_FLIGHT, lag shedding, DM_MAX_SESSIONS): the server took
    // nothing in, so the device comes back after that delay as it would for its first message.
    let posts = 0;
    const { device, server, th } = setup({
      transport: {
        post: (url, body, headers) =>
          ++posts === 2 ? Promise.resolve({ status: 503, headers: { 'retry-after': '6' }, body: Buffer.from('busy') }) : server.post(url, body, headers),
      },
    });
    server.enqueue(DEV_ID, [get(1, './DevInfo/Mod')]);
    device.receiveNotification(trigger(0xd4, Buffer.from('srv-nonce-0')));
    await device.idle();
    expect(server.seen(DEV_ID).messages.map((m) => m.header.msgId)).toEqual([1]);
    expect(th.scheduled).toHaveLength(1);
    th.advance(6_000);
    th.runDue();
    await device.idle();
    expect(server.seen(DEV_ID).sessions).toEqual(['D4']);
    // The server's Get was answered: the session it opened after the delay ran to its end.
    expect(server.seen(DEV_ID).results).toHaveLength(1);
    expect(device.sessionsFailed).toBe(1);
    expect(th.scheduled).toEqual([]);
  });

  it('does not retry a failed report session when alertRetryMs is 0', async () => {
    let down = false;
    const { device, server, th } = setup({
      alertRetryMs: 0,
      transport: { post: (url, body, headers) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : server.post(url, body, headers)) },
    });
    server.enqueue(DEV_ID, [sseSequence()]);
    await device.runSession();
    down = true;
    th.advance(2 * 3600_000);
    th.runDue();
    await device.idle();
    expect(device.pendingAlerts).toHaveLength(1);
    expect(th.scheduled).toEqual([]);
  });

  it('reports execfailed with the Exec status when the target fails', async () => {
    const { device, server, th } = setup({ failureRate: 1, failureStatus: 503 });
    server.enqueue(DEV_ID, [sseSequence()]);
    await device.runSession();
    th.advance(3 * 3600_000);
    th.runDue();
    await device.idle();
    expect(server.seen(DEV_ID).alerts[0]).toMatchObject({
      items: [{ meta: { type: 'org.openmobilealliance.dm.singleshotexec.execfailed', mark: 'critical' }, data: '503' }],
    });
  });

  it('reports 401 missed, without running the target, when it was offline at AtTime', async () => {
    const { device, server, th } = setup();
    server.enqueue(DEV_ID, [sseSequence()]);
    await device.runSession();
    device.setOnline(false);
    th.advance(3 * 3600_000);
    th.runDue();
    await device.idle();
    expect(server.seen(DEV_ID).alerts).toHaveLength(0);
    device.setOnline(true);
    await device.idle();
    expect(device.executionCount('./FUMO/fw1/Update')).toBe(0);
    expect(server.seen(DEV_ID).alerts[0]).toMatchObject({ items: [{ meta: { mark: 'warning' }, data: '401' }] });
  });
});

describe('SimulatedDevice bootstrap', () => {
  const NEW_URL = 'https://dm2.example.com/dm';

  function bootstrapMessage(): SyncMlMessage {
    const leaf = (cmdId: number, uri: string, data: string, format = 'chr'): ItemCommand => ({
      kind: 'Add',
      cmdId,
      meta: { format },
      items: [{ target: { locUri: uri }, data }],
    });
    const x = './DMAcc/srv2';
    return {
      header: {
        verDtd: '1.2',
        verProto: 'DM/1.2',
        sessionId: '0',
        msgId: 1,
        target: { locUri: DEV_ID },
        source: { locUri: 'dm2.example.com' },
      },
      body: [
        { kind: 'Add', cmdId: 1, meta: { format: 'node' }, items: [{ target: { locUri: x } }] },
        leaf(2, `${x}/AppID`, 'w7'),
        leaf(3, `${x}/ServerID`, 'dm2.example.com'),
        leaf(4, `${x}/AppAddr/1/Addr`, NEW_URL),
        leaf(5, `${x}/AppAuth/CLCRED/AAuthLevel`, 'CLCRED'),
        leaf(6, `${x}/AppAuth/CLCRED/AAuthType`, 'DIGEST'),
        leaf(7, `${x}/AppAuth/CLCRED/AAuthName`, 'bootstrapped-user'),
        leaf(8, `${x}/AppAuth/CLCRED/AAuthSecret`, 'bootstrapped-secret'),
        leaf(9, `${x}/AppAuth/CLCRED/AAuthData`, Buffer.from('cl-nonce').toString('base64'), 'b64'),
        leaf(10, `${x}/AppAuth/SRVCRED/AAuthLevel`, 'SRVCRED'),
        leaf(11, `${x}/AppAuth/SRVCRED/AAuthType`, 'DIGEST'),
        leaf(12, `${x}/AppAuth/SRVCRED/AAuthName`, 'dm2.example.com'),
        leaf(13, `${x}/AppAuth/SRVCRED/AAuthSecret`, 'bootstrapped-server-secret'),
        leaf(14, `${x}/AppAuth/SRVCRED/AAuthData`, Buffer.from('sv-nonce').toString('base64'), 'b64'),
      ],
      final: true,
    };
  }

  it('applies a signed WBXML bootstrap, adopts the account and opens a session soon after', async () => {
    const { device, server, th } = setup({ bootstrapSecrets: { pin: '1234' } });
    server.setAccount(DEV_ID, {
      username: 'bootstrapped-user',
      password: 'bootstrapped-secret',
      authType: 'md5',
      serverId: 'dm2.example.com',
      serverPassword: 'bootstrapped-server-secret',
    });
    const wbxml = encodeSyncMl(bootstrapMessage(), 'wbxml');
    const mac = bootstrapMac(bootstrapKey('USERPIN', { pin: '1234' }), wbxml);
    const result = device.receiveBootstrap(wbxml, bootstrapContentType('USERPIN', mac));
    expect(result).toEqual({ ok: true, accName: 'srv2' });
    expect(device.account).toMatchObject({
      accName: 'srv2',
      serverUrl: NEW_URL,
      serverId: 'dm2.example.com',
      authType: 'md5',
      clientUsername: 'bootstrapped-user',
      clientPassword: 'bootstrapped-secret',
      serverPassword: 'bootstrapped-server-secret',
    });
    expect(device.account.clientNonce).toEqual(Buffer.from('cl-nonce'));
    expect(device.account.serverNonce).toEqual(Buffer.from('sv-nonce'));
    // Secrets stay unreadable to a server.
    expect(device.tree.get('./DMAcc/srv2/AppAuth/CLCRED/AAuthSecret')).toEqual({ ok: false, status: 405 });
    expect(server.posts).toBe(0);
    th.advance(1000);
    th.runDue();
    await device.idle();
    const seen = server.seen(DEV_ID);
    expect(seen.urls[0]).toBe(NEW_URL);
    expect(seen.messages[0]?.header.source.locName).toBe('bootstrapped-user');
    expect(seen.messages[0]?.body[0]).toMatchObject({ kind: 'Alert', data: 1201 });
    expect(device.sessionsFailed).toBe(0);
  });

  it('rejects a bootstrap with a wrong MAC or none', () => {
    const { device } = setup({ bootstrapSecrets: { pin: '1234' } });
    const wbxml = encodeSyncMl(bootstrapMessage(), 'wbxml');
    const mac = bootstrapMac(bootstrapKey('USERPIN', { pin: '9999' }), wbxml);
    expect(device.receiveBootstrap(wbxml, bootstrapContentType('USERPIN', mac))).toEqual({ ok: false, reason: 'bad-mac' });
    expect(device.receiveBootstrap(wbxml, 'application/vnd.syncml.dm+wbxml')).toEqual({ ok: false, reason: 'unsigned' });
    expect(device.account.serverUrl).toBe(SERVER_URL);
  });
});
