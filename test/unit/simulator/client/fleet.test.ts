import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildTrigger, RESYNC_NONCE } from '../../../../src/dm/notification/package0.js';
import { deviceIdProblem, luhnValid } from '../../../../src/domain/device-id.js';
import {
  CREDENTIALS_CSV_COLUMNS,
  Fleet,
  FleetScheduler,
  generateImeis,
  imeiWithCheckDigit,
} from '../../../../src/simulator/fleet.js';
import { seededRandom } from '../../../../src/simulator/cli.js';
import { makeSimulatedPackage } from '../../../../src/simulator/mo/package.js';
import { lossyTransport, parseLatency, SimulatedNetworkError } from '../../../../src/simulator/network.js';
import type { DmTransport, HttpResponse } from '../../../../src/simulator/simulated-device.js';
import type { ManagementTree } from '../../../../src/simulator/tree/management-tree.js';
import { addNode, add, exec, replace, sequence } from '../fixtures.js';
import { type FakeAccount, FakeDmServer } from './fake-server.js';

const SERVER = 'http://dm.invalid/dm';

function serverFor(fleet: Fleet, ids?: string[]): FakeDmServer {
  const accounts = new Map<string, FakeAccount>();
  for (const id of ids ?? fleet.devices.map((d) => d.devId)) {
    const a = fleet.get(id)!.account;
    accounts.set(id, {
      username: a.clientUsername,
      password: a.clientPassword,
      authType: a.authType,
      serverId: a.serverId,
      serverPassword: a.serverPassword,
    });
  }
  return new FakeDmServer({ accounts });
}

/** A transport that forwards to a server set after the fleet exists (the accounts come from the fleet). */
function lateTransport(): DmTransport & { target?: DmTransport; active: number; maxActive: number; delayMs: number } {
  const t = {
    target: undefined as DmTransport | undefined,
    active: 0,
    maxActive: 0,
    delayMs: 0,
    async post(url: string, body: Buffer, headers: Record<string, string>): Promise<HttpResponse> {
      t.active++;
      t.maxActive = Math.max(t.maxActive, t.active);
      try {
        if (t.delayMs > 0) await new Promise((r) => setTimeout(r, t.delayMs));
        return await t.target!.post(url, body, headers);
      } finally {
        t.active--;
      }
    },
  };
  return t;
}

const fleets: Fleet[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(fleets.splice(0).map((f) => f.stop()));
});

function track(fleet: Fleet): Fleet {
  fleets.push(fleet);
  return fleet;
}

describe('IMEI generation', () => {
  it('appends a valid Luhn check digit', () => {
    expect(imeiWithCheckDigit('49300510059280')).toBe('493005100592800');
    const imeis = generateImeis('49015420323751', 20);
    expect(imeis[0]).toBe('490154203237518');
    expect(imeis.every((i) => i.length === 15 && luhnValid(i))).toBe(true);
    expect(new Set(imeis).size).toBe(20);
  });
});

describe('Fleet creation', () => {
  it('creates 10,000 devices quickly, lazily and with the offline share exact', () => {
    const t0 = performance.now();
    const fleet = track(new Fleet({ devices: 10_000, serverUrl: SERVER, offlineShare: 0.25, listen: false, secretSeed: 's' }));
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(1000);
    expect(fleet.devices).toHaveLength(10_000);
    expect(new Set(fleet.devices.map((d) => d.devId)).size).toBe(10_000);
    expect(fleet.devices.every((d) => deviceIdProblem(d.devId) === undefined)).toBe(true);
    expect(fleet.devices.some((d) => d.hasTree)).toBe(false);
    expect(fleet.stats()).toMatchObject({ devices: 10_000, online: 7_500 });
  });

  it('derives the same secrets from the same seed', () => {
    const a = track(new Fleet({ devices: 3, serverUrl: SERVER, secretSeed: 'seed', listen: false }));
    const b = track(new Fleet({ devices: 3, serverUrl: SERVER, secretSeed: 'seed', listen: false }));
    expect(a.devices[2]!.account.clientPassword).toBe(b.devices[2]!.account.clientPassword);
    expect(a.devices[2]!.account.clientPassword).not.toBe(a.devices[1]!.account.clientPassword);
    expect(a.devices[2]!.account.clientPassword.length).toBeGreaterThanOrEqual(16);
  });

  it('spreads the devices round-robin over several DM server URLs, one DM process each', () => {
    const urls = ['http://127.0.0.1:1001/dm', 'http://127.0.0.1:1002/dm'];
    const fleet = track(new Fleet({ devices: 5, serverUrl: urls[0]!, serverUrls: urls, secretSeed: 'seed', listen: false }));
    expect(fleet.devices.map((d) => d.account.serverUrl)).toEqual([urls[0], urls[1], urls[0], urls[1], urls[0]]);
  });
});

/** Every node under `.` with what a device-side read shows of it. */
function dumpTree(tree: ManagementTree): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (uri: string) => {
    const info = tree.read(uri)!;
    out.set(uri, { ...info, data: Buffer.isBuffer(info.data) ? info.data.toString('hex') : info.data });
    for (const child of info.children) walk(uri === '.' ? `./${child}` : `${uri}/${child}`);
  };
  walk('.');
  return out;
}

describe('Fleet device trees', () => {
  it('gives each device its own copy of the standard tree, with its own id and secrets', () => {
    const fleet = track(new Fleet({ devices: 2, serverUrl: SERVER, secretSeed: 'seed', listen: false }));
    const [a, b] = fleet.devices;
    const ta = dumpTree(a!.tree);
    const tb = dumpTree(b!.tree);
    const own = [
      './DevInfo/DevId',
      './DMAcc/dmacc/AppAuth/CLCRED/AAuthName',
      './DMAcc/dmacc/AppAuth/CLCRED/AAuthSecret',
      './DMAcc/dmacc/AppAuth/SRVCRED/AAuthSecret',
    ];
    expect([...ta.keys()]).toEqual([...tb.keys()]);
    expect([...ta.keys()].filter((uri) => JSON.stringify(ta.get(uri)) !== JSON.stringify(tb.get(uri)))).toEqual(own);
    expect(a!.tree.read('./DevInfo/DevId')?.data).toBe(a!.devId);
    expect(a!.tree.read('./DMAcc/dmacc/AppAuth/CLCRED/AAuthSecret')?.data).toBe(a!.account.clientPassword);
    expect(b!.tree.read('./DMAcc/dmacc/AppAuth/SRVCRED/AAuthSecret')?.data).toBe(b!.account.serverPassword);
    expect(a!.tree.exists('./SSE')).toBe(true);
    expect(a!.tree.read('./FUMO/fw1/Update')?.access).toEqual(['Get', 'Exec']);
    // One device's changes stay on its own tree.
    expect(a!.tree.add('./SSE/t1', { format: 'node' })).toBe(200);
    expect(a!.tree.replace('./DMAcc/dmacc/ServerID', { data: 'other' })).toBe(200);
    expect(b!.tree.exists('./SSE/t1')).toBe(false);
    expect(b!.tree.read('./DMAcc/dmacc/ServerID')?.data).toBe(a!.account.serverId);
  });
});

describe('FleetScheduler', () => {
  it('runs due entries in time order, ties in scheduling order', () => {
    let now = 0;
    const s = new FleetScheduler(() => now);
    const ran: string[] = [];
    s.schedule(30, () => ran.push('c'));
    s.schedule(10, () => ran.push('a1'));
    s.schedule(20, () => ran.push('b'));
    s.schedule(10, () => ran.push('a2'));
    expect(s.runDue(15)).toBe(2);
    expect(ran).toEqual(['a1', 'a2']);
    now = 100;
    s.runDue();
    expect(ran).toEqual(['a1', 'a2', 'b', 'c']);
    expect(s.size).toBe(0);
  });

  it('keeps a single timer however many entries are scheduled', () => {
    vi.useFakeTimers({ now: 0 });
    const s = new FleetScheduler();
    s.start();
    const ran: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const at = ((i * 7919) % 1000) + 1;
      s.schedule(at, () => ran.push(at));
    }
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(ran).toHaveLength(1000);
    expect(ran).toEqual([...ran].sort((x, y) => x - y));
    s.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('lets I/O in between slices when many entries are due at once (a rollout shares one AtTime)', async () => {
    const s = new FleetScheduler();
    const order: string[] = [];
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    const at = Date.now() + 5;
    for (let i = 0; i < 60; i++) {
      s.schedule(at, () => {
        // The first device's session would send its message now: it must not wait for all 60 to fire.
        if (i === 0) setImmediate(() => order.push('io'));
        busy(1);
        order.push(`e${i}`);
      });
    }
    s.start();
    await vi.waitUntil(() => order.length === 61, { timeout: 5000 });
    s.stop();
    expect(order.filter((x) => x !== 'io')).toEqual(Array.from({ length: 60 }, (_, i) => `e${i}`));
    expect(order.indexOf('io')).toBeLessThan(30);
  });

  it('fires armed SSE schedules of many devices in AtTime order', async () => {
    let now = Date.parse('2025-03-01T00:00:00Z');
    const transport = lateTransport();
    const fleet = track(
      new Fleet({ devices: 3, serverUrl: SERVER, clock: () => now, transport, listen: false, secretSeed: 's' }),
    );
    const server = serverFor(fleet);
    transport.target = server;
    const times = ['20250301T030000Z', '20250301T010000Z', '20250301T020000Z'];
    fleet.devices.forEach((d, i) => {
      server.enqueue(
        d.devId,
        [
          sequence(
            1,
            addNode(2, './SSE/j'),
            add(3, './SSE/j/TargetURI', './FUMO/fw1/Update'),
            add(4, './SSE/j/AtTime', times[i]!),
            exec(5, './SSE/j/Go', `c${i}`),
          ),
        ],
      );
    });
    await Promise.all(fleet.devices.map((d) => d.runSession()));
    expect(fleet.scheduler.size).toBe(3);
    const order: string[] = [];
    const firedAt = (d: (typeof fleet.devices)[number]) => () => order.push(d.devId);
    for (const d of fleet.devices) vi.spyOn(d, 'fireArmed').mockImplementationOnce(firedAt(d));
    now = Date.parse('2025-03-01T02:30:00Z');
    fleet.scheduler.runDue();
    expect(order).toEqual([fleet.devices[1]!.devId, fleet.devices[2]!.devId]);
    vi.restoreAllMocks();
    now = Date.parse('2025-03-01T04:00:00Z');
    fleet.scheduler.runDue();
    await fleet.idle();
    expect(fleet.devices[0]!.executionCount('./FUMO/fw1/Update')).toBe(1);
    expect(server.seen(fleet.devices[0]!.devId).alerts[0]?.correlator).toBe('c0');
    expect(fleet.stats()).toMatchObject({ schedulesArmed: 3, schedulesFired: 1, executions: 1, alertsReported: 1 });
  });
});

describe('Fleet HTTP listener', () => {
  async function started(opts: Partial<ConstructorParameters<typeof Fleet>[0]> = {}) {
    const transport = lateTransport();
    const fleet = track(new Fleet({ devices: 5, serverUrl: SERVER, transport, secretSeed: 'seed', ...opts }));
    const server = serverFor(fleet);
    transport.target = server;
    const { url } = await fleet.start();
    return { fleet, server, url: url!, transport };
  }

  function triggerFor(fleet: Fleet, index: number, sessionId: number, password?: string): Buffer {
    const a = fleet.devices[index]!.account;
    return buildTrigger({
      uiMode: 'background',
      initiator: 'server',
      sessionId,
      serverId: a.serverId,
      serverDigestSecret: { serverId: a.serverId, password: password ?? a.serverPassword },
      nonce: RESYNC_NONCE,
    });
  }

  const notify = (url: string, body: Buffer, type = 'application/vnd.syncml.notification') =>
    fetch(url, { method: 'POST', headers: { 'content-type': type }, body });

  it('rejects a bad digest with 400 and accepts a good trigger with 200, then runs the session', async () => {
    const { fleet, server, url } = await started();
    const device = fleet.devices[1]!;
    expect(device.notificationUrl).toBe(`${url}/notify/${encodeURIComponent(device.devId)}`);
    const bad = await notify(device.notificationUrl!, triggerFor(fleet, 1, 0x42, 'not-the-password'));
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe('bad-digest\n');
    const good = await notify(device.notificationUrl!, triggerFor(fleet, 1, 0x42));
    expect(good.status).toBe(200);
    await fleet.idle();
    expect(server.seen(device.devId).sessions).toEqual(['42']);
    expect(fleet.stats()).toMatchObject({ notificationsReceived: 1, notificationsRejected: 1, sessionsOk: 1 });
  });

  it('has every online device check in once on POST /check-in', async () => {
    const { fleet, server, url } = await started({ offlineShare: 0.2 });
    const r = await fetch(`${url}/check-in`, { method: 'POST' });
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({ checkingIn: 4 });
    await vi.waitFor(() => expect(fleet.stats().sessionsOk).toBe(4));
    for (const device of fleet.devices) {
      expect(server.seen(device.devId).sessions).toHaveLength(device.online ? 1 : 0);
    }
  });

  it('answers GET /executions with the exec counts of the devices that ran anything, by target URI', async () => {
    const { fleet, server, url } = await started();
    expect(await (await fetch(`${url}/executions`)).json()).toEqual({});
    const [first, second] = fleet.devices;
    server.enqueue(first!.devId, [exec(1, './FUMO/fw1/Update'), exec(2, './FUMO/fw1/Update'), exec(3, './Ext/Sim/Reboot')]);
    server.enqueue(second!.devId, [exec(1, './FUMO/fw1/Update')]);
    await first!.runSession();
    await second!.runSession();
    const answer = await fetch(`${url}/executions`);
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(await answer.json()).toEqual({
      [first!.devId]: { './FUMO/fw1/Update': 2, './Ext/Sim/Reboot': 1 },
      [second!.devId]: { './FUMO/fw1/Update': 1 },
    });
  });

  it('answers GET /deliveries with what each FUMO device downloaded, reported and now runs', async () => {
    const pkg = makeSimulatedPackage({ kind: 'firmware', name: 'sim', version: '9.9', size: 1000 });
    const pkgServer = http.createServer((_req, res) => res.writeHead(200, { 'content-length': pkg.length }).end(pkg));
    await new Promise<void>((r) => pkgServer.listen(0, '127.0.0.1', r));
    try {
      const pkgUrl = `http://127.0.0.1:${(pkgServer.address() as AddressInfo).port}/fw.bin`;
      const { fleet, server, url } = await started({ fumoRoot: './FUMO', delivery: { installMs: 0 } });
      expect(await (await fetch(`${url}/deliveries`)).json()).toEqual({});
      const device = fleet.devices[0]!;
      server.enqueue(device.devId, [replace(1, './FUMO/DownloadAndUpdate/PkgURL', pkgUrl), exec(2, './FUMO/DownloadAndUpdate', 'c-1')]);
      await device.runSession();
      await vi.waitFor(() => expect(server.seen(device.devId).alerts).toHaveLength(1));
      await fleet.idle();
      expect(await (await fetch(`${url}/deliveries`)).json()).toEqual({
        [device.devId]: {
          downloadsStarted: 1,
          downloadsCompleted: 1,
          downloadsFailed: 0,
          downloadsResumed: 0,
          bytesDownloaded: pkg.length,
          results: [{ mo: 'fumo', node: './FUMO/DownloadAndUpdate', resultCode: 200, correlator: 'c-1' }],
          fwV: '9.9',
          inventory: {},
        },
      });
      expect(fleet.stats()).toMatchObject({ deliveriesSucceeded: 1, deliveriesFailed: 0 });
    } finally {
      await new Promise<void>((r) => pkgServer.close(() => r()));
    }
  });

  it('answers 404 for an unknown device and 415 for another content type', async () => {
    const { fleet, url } = await started();
    expect((await notify(`${url}/notify/IMEI%3A000000000000000`, triggerFor(fleet, 0, 1))).status).toBe(404);
    expect((await notify(fleet.devices[0]!.notificationUrl!, triggerFor(fleet, 0, 1), 'text/plain')).status).toBe(415);
    expect((await fetch(`${url}/stats`)).status).toBe(200);
  });

  it('limits simultaneous sessions', async () => {
    const { fleet, transport, url } = await started({ devices: 8, maxConcurrentSessions: 2 });
    transport.delayMs = 5;
    const answers = await Promise.all(
      fleet.devices.map((d, i) => notify(`${url}/notify/${encodeURIComponent(d.devId)}`, triggerFor(fleet, i, 100 + i))),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    await fleet.idle();
    expect(fleet.stats().sessionsOk).toBe(8);
    expect(transport.maxActive).toBeLessThanOrEqual(2);
  });

  it('writes the gateway import CSV with notification URLs', async () => {
    const { fleet, url } = await started({ devices: 2, capabilityOid: 'cap-1' });
    const lines = fleet.credentialsCsv().trimEnd().split('\n');
    expect(lines[0]).toBe(CREDENTIALS_CSV_COLUMNS.join(','));
    expect(lines[0]).toBe('deviceId,phoneNumber,capabilityOid,notificationUrl,clientUsername,clientPassword,serverPassword');
    const d = fleet.devices[1]!;
    expect(lines[2]).toBe(
      [
        d.devId,
        '+15550000002',
        'cap-1',
        `${url}/notify/${encodeURIComponent(d.devId)}`,
        d.devId,
        d.account.clientPassword,
        d.account.serverPassword,
      ].join(','),
    );
  });
});

describe('Fleet offline devices', () => {
  it('come online after offlineForMs and check in', async () => {
    let now = 1_000_000;
    const transport = lateTransport();
    const fleet = track(
      new Fleet({
        devices: 4,
        serverUrl: SERVER,
        offlineShare: 0.5,
        offlineForMs: 60_000,
        clock: () => now,
        transport,
        secretSeed: 's',
      }),
    );
    const server = serverFor(fleet);
    transport.target = server;
    await fleet.start();
    const offline = fleet.devices.filter((d) => !d.online);
    expect(offline).toHaveLength(2);
    for (const d of offline) {
      const a = d.account;
      const t = buildTrigger({
        uiMode: 'background',
        initiator: 'server',
        sessionId: 7,
        serverId: a.serverId,
        serverDigestSecret: { serverId: a.serverId, password: a.serverPassword },
        nonce: RESYNC_NONCE,
      });
      expect(d.receiveNotification(t)).toMatchObject({ accepted: true, ignoredOffline: true });
    }
    expect(server.posts).toBe(0);
    now += 60_000;
    fleet.scheduler.runDue();
    await fleet.idle();
    expect(fleet.stats()).toMatchObject({ online: 4, notificationsIgnored: 2, sessionsOk: 2 });
  });
});

describe('Fleet network behaviour', () => {
  const triggerOf = (device: Fleet['devices'][number], sessionId: number) => {
    const a = device.account;
    return buildTrigger({
      uiMode: 'background',
      initiator: 'server',
      sessionId,
      serverId: a.serverId,
      serverDigestSecret: { serverId: a.serverId, password: a.serverPassword },
      nonce: RESYNC_NONCE,
    });
  };

  it('reads a latency as one value or a range, and refuses a reversed or malformed one', () => {
    expect(parseLatency('300-3000')).toEqual({ minMs: 300, maxMs: 3000 });
    expect(parseLatency('250')).toEqual({ minMs: 250, maxMs: 250 });
    expect(() => parseLatency('3000-300')).toThrow(RangeError);
    expect(() => parseLatency('fast')).toThrow(RangeError);
  });

  it('waits a latency drawn per message from the range before each post', async () => {
    const transport = lateTransport();
    const draws = [0, 1, 0.5, 0.25];
    let i = 0;
    const fleet = track(
      new Fleet({ devices: 1, serverUrl: SERVER, transport, secretSeed: 's', latencyMs: { minMs: 40, maxMs: 200 }, random: () => draws[i++ % draws.length]! }),
    );
    transport.target = serverFor(fleet);
    const gaps: number[] = [];
    let last = performance.now();
    const inner = transport.post.bind(transport);
    transport.post = (url, body, headers) => {
      const t = performance.now();
      gaps.push(t - last);
      return inner(url, body, headers).finally(() => {
        last = performance.now();
      });
    };
    await fleet.start();
    i = 0;
    await fleet.devices[0]!.runSession({ kind: 'client-initiated', sessionIdHex: '1' });
    // The session id was given, so every draw went to the latency: 40, 200, 120, 80 ms …
    const expected = [40, 200, 120, 80];
    expect(gaps.length).toBeGreaterThanOrEqual(2);
    gaps.forEach((gap, k) => {
      expect(gap).toBeGreaterThanOrEqual(expected[k % 4]! - 2);
      expect(gap).toBeLessThan(expected[k % 4]! + 60);
    });
  });

  it('loses a share of messages: half before the server sees them, half after it answered', async () => {
    let served = 0;
    const inner: DmTransport = {
      post: async () => {
        served++;
        return { status: 200, headers: {}, body: Buffer.alloc(0) };
      },
    };
    const stages: string[] = [];
    const draws = [0.1, 0.3, 0.9];
    let i = 0;
    const lossy = lossyTransport(inner, 0.4, () => draws[i++]!, (stage) => stages.push(stage));
    await expect(lossy.post(SERVER, Buffer.alloc(0), {})).rejects.toThrow(SimulatedNetworkError);
    expect(served).toBe(0);
    await expect(lossy.post(SERVER, Buffer.alloc(0), {})).rejects.toThrow(/dropped before the answer/);
    expect(served).toBe(1);
    await expect(lossy.post(SERVER, Buffer.alloc(0), {})).resolves.toMatchObject({ status: 200 });
    expect(served).toBe(2);
    expect(stages).toEqual(['request-lost', 'answer-lost']);
  });

  it('fails sessions whose messages the network lost and counts them', async () => {
    const transport = lateTransport();
    const fleet = track(new Fleet({ devices: 4, serverUrl: SERVER, transport, secretSeed: 's', failShare: 1, random: seededRandom(3) }));
    transport.target = serverFor(fleet);
    await fleet.start();
    fleet.checkIn();
    await fleet.idle();
    const stats = fleet.stats();
    expect(stats).toMatchObject({ sessionsOk: 0, sessionsFailed: 4, messagesLost: 4 });
    // Each failure under its reason: the request lost, or its answer.
    expect(Object.keys(stats.sessionFailures).every((r) => r.startsWith('simulated network:'))).toBe(true);
    expect(Object.values(stats.sessionFailures).reduce((a, b) => a + b, 0)).toBe(4);
  });

  it('brings offline devices online each at its own moment within comeOnlineWithinMs', async () => {
    let now = 1_000_000;
    const transport = lateTransport();
    const fleet = track(
      new Fleet({ devices: 20, serverUrl: SERVER, offlineShare: 1, comeOnlineWithinMs: 60_000, clock: () => now, transport, secretSeed: 's', random: seededRandom(5) }),
    );
    transport.target = serverFor(fleet);
    await fleet.start();
    fleet.scheduler.stop();
    expect(fleet.stats().online).toBe(0);
    now += 30_000;
    fleet.scheduler.runDue();
    const half = fleet.stats().online;
    expect(half).toBeGreaterThan(2);
    expect(half).toBeLessThan(18);
    now += 30_000;
    fleet.scheduler.runDue();
    expect(fleet.stats().online).toBe(20);
  });

  it('has a device that ignores its first notification answer 200 and act only on the next one', async () => {
    const transport = lateTransport();
    const fleet = track(new Fleet({ devices: 2, serverUrl: SERVER, transport, secretSeed: 's', ignoreFirstNotificationShare: 1 }));
    const server = serverFor(fleet);
    transport.target = server;
    await fleet.start();
    const device = fleet.devices[0]!;
    const post = (sessionId: number) =>
      fetch(device.notificationUrl!, { method: 'POST', headers: { 'content-type': 'application/vnd.syncml.notification' }, body: triggerOf(device, sessionId) });
    expect((await post(0x51)).status).toBe(200);
    await fleet.idle();
    expect(server.seen(device.devId).sessions).toEqual([]);
    expect((await post(0x52)).status).toBe(200);
    await fleet.idle();
    expect(server.seen(device.devId).sessions).toEqual(['52']);
    expect(fleet.stats()).toMatchObject({ notificationsDropped: 1, notificationsReceived: 1, sessionsOk: 1 });
  });
});
