/**
 * Bad input on /dm2 gets a typed HTTP answer, a log line naming the device,
 * and changes nothing: the session it was meant for goes on as if it had
 * never come (real gateway, real Redis, real HTTP).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';
import type { CommandOutcome } from '../../../src/dm/server/ports.js';
import { MEDIA_PACKAGE1, MEDIA_PACKAGE3 } from '../../../src/dm2/constants.js';
import { digestAuthorization } from '../../../src/dm2/http-auth.js';
import { CAPABILITY, imeiN, phoneN } from '../../support/fixtures.js';
import { CAPABILITY_DM2 } from '../../support/dm2-rig.js';
import { startTestGateway, type TestGateway } from '../../support/test-gateway.js';
import { waitFor } from '../../support/wait.js';

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk, _enc, cb) {
    for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
    cb();
  },
});

let gw: TestGateway;
let plain: TestGateway;
const A = { deviceId: imeiN(201), user: 'dev-a', password: 'password-a-1' };
const B = { deviceId: imeiN(202), user: 'dev-b', password: 'password-b-1' };
const OLD = { deviceId: imeiN(203), user: 'dev-old', password: 'password-o-1' };
const outcomes: CommandOutcome[] = [];

beforeAll(async () => {
  gw = await startTestGateway({
    overrides: { dm2AllowPlainHttp: true, dmMaxBodyBytes: 4096, logLevel: 'info' },
    gateway: { logger: createLogger('info', 'dmwsi', sink) },
  });
  plain = await startTestGateway();
  const ctx = { caller: 'test', operation: 'setup' };
  for (const g of [gw, plain]) {
    await g.deviceManager.createDeviceCapability(ctx, CAPABILITY_DM2);
    await g.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
    for (const [i, d] of [A, B].entries()) {
      await g.deviceManager.createDeviceInstance(ctx, {
        deviceId: d.deviceId,
        phoneNumber: phoneN(201 + i),
        capabilityOid: CAPABILITY_DM2.oid,
        clientUsername: d.user,
        clientPassword: d.password,
        serverPassword: 'server-pw-1',
        authType: 'basic',
      });
    }
    await g.deviceManager.createDeviceInstance(ctx, {
      deviceId: OLD.deviceId,
      phoneNumber: phoneN(203),
      capabilityOid: CAPABILITY.oid,
      clientUsername: OLD.user,
      clientPassword: OLD.password,
      serverPassword: 'server-pw-1',
      authType: 'basic',
    });
  }
  gw.dmEvents.onRequests('t2:', { outcome: async (o) => void outcomes.push(o) });
  // A device's first session asks for its DevInfo/DevDetail: answered here, so later sessions carry only what a test queues.
  for (const d of [A, B]) {
    const first = await post(`${gw.url}/dm2`, pkg1, as(d));
    const commands = (JSON.parse(first.text) as { CMD: string[][] }).CMD;
    expect(commands.filter((c) => c[0] === 'GET')).toHaveLength(11);
    const answer = JSON.stringify({ Status: commands.map((c) => (c[0] === 'GET' ? { sc: 200, Data: 'v' } : { sc: 200 })) });
    const end = await post(commands.at(-1)![1]!, answer, as(d, { type: MEDIA_PACKAGE3 }));
    expect(JSON.parse(end.text)).toEqual({ CMD: [['END']] });
  }
});
afterAll(async () => {
  await gw?.stop();
  await plain?.stop();
});

const basic = (d: { user: string; password: string }) => `Basic ${Buffer.from(`${d.user}:${d.password}`).toString('base64')}`;

async function post(url: string, body: string | Buffer, opts: { type?: string; devId?: string; auth?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': opts.type ?? MEDIA_PACKAGE1 };
  if (opts.devId !== undefined) headers['omadm-devid'] = opts.devId;
  if (opts.auth !== undefined) headers.authorization = opts.auth;
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const pkg1 = JSON.stringify({ Alert: [{ AlertType: 'urn:oma:at:dm:2.0:ClientInitiatedMgmt' }] });
const as = (d: typeof A, extra: { type?: string } = {}) => ({ devId: d.deviceId, auth: basic(d), ...extra });
const loggedWith = (deviceId: string, since: number) => lines.slice(since).some((l) => l.deviceId === deviceId && l.level === 40);

/** Queues a request for A and opens a session that takes it; returns the CONT URL. */
async function openWithRequest(requestId: string): Promise<{ cont: string; commands: string[][] }> {
  await gw.deviceCommands.submit(A.deviceId, { requestId, commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] });
  const r = await post(`${gw.url}/dm2`, pkg1, as(A));
  expect(r.status).toBe(200);
  const commands = (JSON.parse(r.text) as { CMD: string[][] }).CMD;
  expect(commands.at(-1)?.[0]).toBe('CONT');
  return { cont: commands.at(-1)![1]!, commands };
}

describe('/dm2 refuses bad input', () => {
  it('refuses plain HTTP unless DM2_ALLOW_PLAIN_HTTP is set (403)', async () => {
    const r = await post(`${plain.url}/dm2`, pkg1, as(A));
    expect(r.status).toBe(403);
    expect(r.text).toContain('HTTPS');
  });

  it('answers 400 without an OMADM-DevID header', async () => {
    expect((await post(`${gw.url}/dm2`, pkg1, { auth: basic(A) })).status).toBe(400);
  });

  it('answers 415 to an unknown media type and 400 to malformed JSON, logged with the device id', async () => {
    const since = lines.length;
    expect((await post(`${gw.url}/dm2`, pkg1, as(A, { type: 'application/json' }))).status).toBe(415);
    expect((await post(`${gw.url}/dm2`, '{"Alert":[', as(A))).status).toBe(400);
    expect(loggedWith(A.deviceId, since)).toBe(true);
  });

  it('answers 413 to a package over DM_MAX_BODY_BYTES', async () => {
    const big = JSON.stringify({ Alert: [{ AlertType: 'urn:oma:at:dm:2.0:ClientInitiatedMgmt' }, { AlertType: 'x', DataType: 'text/plain', Data: 'y'.repeat(5000) }] });
    expect((await post(`${gw.url}/dm2`, big, as(A))).status).toBe(413);
  });

  it('answers 400 to unknown properties and to a Package#1 with no session alert', async () => {
    expect((await post(`${gw.url}/dm2`, JSON.stringify({ Alert: [], CMD: [] }), as(A))).status).toBe(400);
    expect((await post(`${gw.url}/dm2`, JSON.stringify({ Alert: [{ AlertType: 'urn:oma:at:dm:2.0:ClientInitiatedMgmt', Foo: 1 }] }), as(A))).status).toBe(400);
    expect((await post(`${gw.url}/dm2`, JSON.stringify({ Alert: [] }), as(A))).status).toBe(400);
  });

  it('answers 401 with Digest (and Basic for a basic device) challenges to missing or wrong credentials', async () => {
    const none = await post(`${gw.url}/dm2`, pkg1, { devId: A.deviceId });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/Digest realm=.*algorithm=SHA-256/);
    expect(none.headers.get('www-authenticate')).toMatch(/Basic realm=/);
    expect((await post(`${gw.url}/dm2`, pkg1, { devId: A.deviceId, auth: basic({ user: A.user, password: 'wrong' }) })).status).toBe(401);
    // B's credentials do not open a session for A.
    expect((await post(`${gw.url}/dm2`, pkg1, { devId: A.deviceId, auth: basic(B) })).status).toBe(401);
  });

  it('accepts Digest answering the challenge', async () => {
    const challenge = (await post(`${gw.url}/dm2`, pkg1, { devId: A.deviceId })).headers.get('www-authenticate')!;
    const auth = digestAuthorization({
      challenge: challenge.split(/,\s*(?=Digest |Basic )/)[0]!,
      method: 'POST',
      uri: '/dm2',
      username: A.user,
      password: A.password,
    });
    const r = await post(`${gw.url}/dm2`, pkg1, { devId: A.deviceId, auth });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ CMD: [['END']] });
  });

  it('answers 403 to a device whose capability is DM 1.2, and to an unknown device', async () => {
    expect((await post(`${gw.url}/dm2`, pkg1, as(OLD))).status).toBe(403);
    expect((await post(`${gw.url}/dm2`, pkg1, { devId: imeiN(299), auth: basic(A) })).status).toBe(403);
  });

  it('refuses statuses shorter or longer than the commands, unknown status properties, and another device on the session, then goes on unchanged', async () => {
    const { cont, commands } = await openWithRequest('t2:q1');
    expect(commands).toEqual([['GET', 'urn:oma:mo:oma-dm-devinfo:1.0//Mod'], ['CONT', cont]]);
    const since = lines.length;
    const p3 = (v: unknown) => JSON.stringify(v);
    expect((await post(cont, p3({ Status: [{ sc: 200, Data: 'X' }] }), as(A, { type: MEDIA_PACKAGE3 }))).status).toBe(400);
    expect((await post(cont, p3({ Status: [{ sc: 200 }, { sc: 200 }, { sc: 200 }] }), as(A, { type: MEDIA_PACKAGE3 }))).status).toBe(400);
    expect((await post(cont, p3({ Status: [{ sc: 200, Colour: 'red' }, { sc: 200 }] }), as(A, { type: MEDIA_PACKAGE3 }))).status).toBe(400);
    // B authenticates as B but the session is A's.
    expect((await post(cont, p3({ Status: [{ sc: 200, Data: 'X' }, { sc: 200 }] }), as(B, { type: MEDIA_PACKAGE3 }))).status).toBe(403);
    // Authenticated as A but naming B in OMADM-DevID: B's credentials are what is checked, so 401.
    expect((await post(cont, p3({ Status: [{ sc: 200, Data: 'X' }, { sc: 200 }] }), { devId: B.deviceId, auth: basic(A), type: MEDIA_PACKAGE3 })).status).toBe(401);
    // A Package#1 to the session URI is refused too.
    expect((await post(cont, pkg1, as(A))).status).toBe(400);
    expect(loggedWith(A.deviceId, since)).toBe(true);
    expect(loggedWith(B.deviceId, since)).toBe(true);
    expect(outcomes.filter((o) => o.requestId === 't2:q1')).toEqual([]);
    // The session is as it was: the right answer completes the request.
    const ok = await post(cont, p3({ Status: [{ sc: 200, Data: 'SimPhone' }, { sc: 200 }] }), as(A, { type: MEDIA_PACKAGE3 }));
    expect([ok.status, JSON.parse(ok.text)]).toEqual([200, { CMD: [['END']] }]);
    const outcome = await waitFor(() => outcomes.find((o) => o.requestId === 't2:q1'), 5000, 'the outcome');
    expect(outcome.results).toEqual([{ index: 0, verb: 'Get', uri: './DevInfo/Mod', status: 200, data: 'SimPhone', format: 'chr', type: 'text/plain' }]);
    // After END the session takes nothing more.
    expect((await post(cont, p3({ Status: [] }), as(A, { type: MEDIA_PACKAGE3 }))).status).toBe(409);
  });

  it('answers a Package#3 sent again (its answer lost) with the same answer, applying it once; one for an earlier package gets 409', async () => {
    const { cont } = await openWithRequest('t2:r1');
    expect(cont).toMatch(/\?p=1$/);
    const body = JSON.stringify({ Status: [{ sc: 200, Data: 'Again' }, { sc: 200 }] });
    const first = await post(cont, body, as(A, { type: MEDIA_PACKAGE3 }));
    const again = await post(cont, body, as(A, { type: MEDIA_PACKAGE3 }));
    expect([first.status, again.status, again.text]).toEqual([200, 200, first.text]);
    await waitFor(() => outcomes.find((o) => o.requestId === 't2:r1'), 5000, 'the outcome');
    await new Promise((r) => setTimeout(r, 200));
    expect(outcomes.filter((o) => o.requestId === 't2:r1')).toHaveLength(1);
    const { cont: cont2 } = await openWithRequest('t2:r2');
    expect((await post(cont2.replace('?p=1', '?p=0'), body, as(A, { type: MEDIA_PACKAGE3 }))).status).toBe(409);
    expect((await post(cont2, JSON.stringify({ Status: [{ sc: 200, Data: 'x' }, { sc: 200 }] }), as(A, { type: MEDIA_PACKAGE3 }))).status).toBe(200);
  });

  it('refuses uploads (HPOST/HPUT) to a forged link (404) and over DM_MAX_BODY_BYTES (413), and HGET of a forged link (404)', async () => {
    const forged = `${gw.url}/dm2/up/eyJkIjoiSU1FSToxIn0.AAAA`;
    expect((await fetch(forged, { method: 'POST', body: 'x' })).status).toBe(404);
    expect((await fetch(forged, { method: 'PUT', body: Buffer.alloc(5000, 1) })).status).toBe(413);
    expect((await fetch(`${gw.url}/dm2/data/eyJkIjoiSU1FSToxIn0.AAAA`)).status).toBe(404);
  });

  it('reports a request sent in a session that died unanswered as lost (never sent again) when the device opens its next session', async () => {
    await openWithRequest('t2:lost1');
    // No Package#3: the device went away. Its next session settles the request instead of resending it.
    const next = await post(`${gw.url}/dm2`, pkg1, as(A));
    expect(JSON.parse(next.text)).toEqual({ CMD: [['END']] });
    const o = await waitFor(() => outcomes.find((x) => x.requestId === 't2:lost1'), 5000, 'the lost outcome');
    expect(o).toMatchObject({ outcome: 'undelivered', reason: 'session-lost', delivery: 'sent-no-status' });
  });

  it('answers 404 to a Package#3 for no session and to an unknown session token', async () => {
    expect((await post(`${gw.url}/dm2/s/AAAAAAAAAAAAAAAAAAAAAA`, JSON.stringify({ Status: [] }), as(B, { type: MEDIA_PACKAGE3 }))).status).toBe(404);
    expect((await post(`${gw.url}/dm2/s/short`, JSON.stringify({ Status: [] }), as(B, { type: MEDIA_PACKAGE3 }))).status).toBe(404);
  });

  it('records a Generic Alert of an unknown type, ignores it, and answers it with no status', async () => {
    const r = await post(
      `${gw.url}/dm2`,
      JSON.stringify({
        Alert: [
          { AlertType: 'urn:oma:at:dm:2.0:ClientInitiatedMgmt' },
          { AlertType: 'com.example.unknown', SourceURI: './Ext/X', DataType: 'application/json', Data: { DM1x: 'legacy' } },
        ],
      }),
      as(B),
    );
    expect([r.status, JSON.parse(r.text)]).toEqual([200, { CMD: [['END']] }]);
    const rows = await waitFor(async () => {
      const got = (await gw.dataSource.query('SELECT "alert_type", "data", "handled", "source" FROM "device_alert" WHERE "device_id" = ?', [B.deviceId])) as {
        alert_type: string;
        data: string;
        handled: number | boolean;
        source: string;
      }[];
      return got.length > 0 ? got : undefined;
    }, 5000, 'the recorded alert');
    expect(rows.map((x) => [x.alert_type, x.data, Boolean(x.handled), x.source])).toEqual([['com.example.unknown', 'legacy', false, './Ext/X']]);
  });
});
