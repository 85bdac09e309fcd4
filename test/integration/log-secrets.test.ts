/**
 * No secret reaches a log line, at any level: a gateway logging at trace
 * serves SOAP sign-ins (login, userSession, PasswordText, PasswordDigest,
 * failures and a replay) and DM sessions with MD5 authentication (a challenge,
 * a continued session, a session whose stored state is unreadable), then its
 * whole log is searched for every secret that went over the wire.
 */
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { createHttpTransport, type DmTransport } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { CAPABILITY } from '../support/fixtures.js';
import { envelope, passwordTextHeader, WSSE_NS } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { dmSessionStateKey } from '../../src/queue/dm-session-store.js';

/** Every log line the gateway wrote. */
const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

/** Secret values seen on the wire, by what they are. */
const secrets = new Map<string, Set<string>>();
function secret(kind: string, value: string | undefined): void {
  if (!value || value.length < 6) return;
  if (!secrets.has(kind)) secrets.set(kind, new Set());
  secrets.get(kind)!.add(value);
}

const all = (text: string, re: RegExp): string[] => [...text.matchAll(re)].map((m) => m[1]!);

/** Reads the DM secrets out of each message: RespURI session tokens, NextNonces, Cred data. */
function recordingTransport(inner: DmTransport): DmTransport {
  return {
    async post(url, body, headers) {
      secret('RespURI session token', /\/dm\/s\/([^/?#]+)/.exec(url)?.[1]);
      secret('HMAC header', headers['x-syncml-hmac']);
      const sent = body.toString('utf8');
      for (const d of all(sent, /<Cred>[\s\S]*?<Data[^>]*>([^<]+)<\/Data>/g)) secret('Cred data', d);
      for (const n of all(sent, /<NextNonce[^>]*>([^<]+)</g)) secret('device NextNonce', n);
      const res = await inner.post(url, body, headers);
      const got = res.body.toString('utf8');
      for (const n of all(got, /<NextNonce[^>]*>([^<]+)</g)) secret('server NextNonce', n);
      for (const u of all(got, /<RespURI>([^<]+)</g)) secret('RespURI session token', /\/dm\/s\/([^/?#<]+)/.exec(u)?.[1]);
      for (const d of all(got, /<Cred>[\s\S]*?<Data[^>]*>([^<]+)<\/Data>/g)) secret('server Cred data', d);
      return res;
    },
  };
}

let rig: DmRig;
const httpTransport = createHttpTransport();

beforeAll(async () => {
  const logger = createLogger('trace', 'dmwsi', sink);
  rig = await startDmRig({
    authType: 'md5',
    gateway: { logger },
    overrides: { logLevel: 'trace' },
    fleet: { transport: recordingTransport(httpTransport) },
  });
});
afterAll(async () => {
  await rig?.stop();
  httpTransport.close();
});

async function soap(body: string, header = ''): Promise<string> {
  const r = await fetch(`${rig.gw.url}/dmwsi/DeviceManager`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
    body: envelope(body, header),
  });
  return r.text();
}

function digestHeader(username: string, password: string): string {
  const nonce = crypto.randomBytes(16);
  const created = new Date().toISOString();
  const digest = crypto
    .createHash('sha1')
    .update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(password)]))
    .digest('base64');
  secret('WS-Security Nonce', nonce.toString('base64'));
  secret('WS-Security PasswordDigest', digest);
  const wsu = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
  return (
    `<wsse:Security xmlns:wsse="${WSSE_NS}" xmlns:wsu="${wsu}"><wsse:UsernameToken><wsse:Username>${username}</wsse:Username>` +
    `<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</wsse:Password>` +
    `<wsse:Nonce>${nonce.toString('base64')}</wsse:Nonce><wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
  );
}

const listDevices = (userSession = '') =>
  `<t:getDeviceInstances><t:userSession>${userSession}</t:userSession><t:offset>0</t:offset><t:limit>5</t:limit></t:getDeviceInstances>`;

describe('secrets in logs', () => {
  it('writes no password, nonce, session token, Cred or userSession into any log line at trace level', async () => {
    const { gw, fleet } = rig;
    secret('admin password', ADMIN.password);
    secret('DMWSI_SECRET_KEY', gw.config.secretKey);

    // SOAP: login and a call with its userSession, a failed login, an unknown userSession, logout.
    const login = await soap(`<t:login><t:username>${ADMIN.username}</t:username><t:password>${ADMIN.password}</t:password></t:login>`);
    const userSession = /<(?:\w+:)?userSession>([^<]+)</.exec(login)?.[1];
    expect(userSession).toBeDefined();
    secret('userSession', userSession);
    expect(await soap(listDevices(userSession))).toContain('getDeviceInstancesResponse');
    const wrong = `wrong-${crypto.randomBytes(8).toString('hex')}`;
    secret('wrong password', wrong);
    expect(await soap(`<t:login><t:username>${ADMIN.username}</t:username><t:password>${wrong}</t:password></t:login>`)).toContain('Fault');
    const forged = crypto.randomBytes(24).toString('base64url');
    secret('unknown userSession', forged);
    expect(await soap(listDevices(forged))).toContain('Fault');

    // WS-Security: PasswordText, PasswordDigest, and the same digest token replayed.
    expect(await soap(listDevices(), passwordTextHeader(ADMIN.username, ADMIN.password))).toContain('getDeviceInstancesResponse');
    const digest = digestHeader(ADMIN.username, ADMIN.password);
    expect(await soap(listDevices(), digest)).toContain('getDeviceInstancesResponse');
    expect(await soap(listDevices(), digest)).toContain('Fault');

    // A device registered over SOAP with its secrets, and one refused.
    const clientPassword = `client-${crypto.randomBytes(8).toString('hex')}`;
    const serverPassword = `server-${crypto.randomBytes(8).toString('hex')}`;
    secret('device clientPassword (SOAP)', clientPassword);
    secret('device serverPassword (SOAP)', serverPassword);
    const device = (id: string) =>
      `<t:createDeviceInstance><t:userSession>${userSession}</t:userSession><t:device><t:deviceId>${id}</t:deviceId>` +
      `<t:phoneNumber>+15559990001</t:phoneNumber><t:capabilityOid>${CAPABILITY.oid}</t:capabilityOid>` +
      `<t:clientPassword>${clientPassword}</t:clientPassword><t:serverPassword>${serverPassword}</t:serverPassword></t:device></t:createDeviceInstance>`;
    expect(await soap(device('IMEI:490154203237518'))).toContain('createDeviceInstanceResponse');
    await soap(device('not a device id'));
    expect(await soap(`<t:logout><t:userSession>${userSession}</t:userSession></t:logout>`)).not.toContain('Fault');

    // DM: a first session (challenged, then MD5), a second one, and one whose stored state turns unreadable.
    const dev = fleet.devices[0]!;
    expect(await dev.runSession()).toMatchObject({ outcome: 'ok' });
    expect(await dev.runSession()).toMatchObject({ outcome: 'ok' });
    const corrupting = httpTransport;
    let corrupted = false;
    const original = corrupting.post.bind(corrupting);
    corrupting.post = async (url, body, headers) => {
      const token = /\/dm\/s\/([^/?#]+)/.exec(url)?.[1];
      if (token && !corrupted) {
        const key = dmSessionStateKey(gw.config.queuePrefix, token);
        expect(await gw.redis.exists(key)).toBe(1);
        await gw.redis.set(key, 'not a session state', 'EX', 60);
        corrupted = true;
      }
      return original(url, body, headers);
    };
    await gw.deviceCommands.submit(dev.devId, {
      requestId: 'log-secrets-get',
      commands: [{ verb: 'Get', uri: './DevInfo/Mod' }],
    });
    await dev.runSession().catch(() => undefined);
    corrupting.post = original;
    expect(corrupted).toBe(true);

    const acct = dev.account;
    secret('device clientPassword', acct.clientPassword);
    secret('device serverPassword', acct.serverPassword);
    secret('stored client nonce', acct.clientNonce.toString('base64'));
    secret('stored server nonce', acct.serverNonce.toString('base64'));
    for (const kind of ['RespURI session token', 'server NextNonce', 'Cred data', 'userSession', 'WS-Security Nonce']) {
      expect(secrets.get(kind)?.size ?? 0, `no ${kind} was seen on the wire`).toBeGreaterThan(0);
    }

    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(0);
    const found: string[] = [];
    for (const [kind, values] of secrets) {
      for (const v of values) {
        const at = lines.find((l) => l.includes(v));
        if (at) found.push(`${kind} in: ${at.slice(0, 300)}`);
      }
    }
    expect(found, log.slice(0, 2000)).toEqual([]);
  });
});
