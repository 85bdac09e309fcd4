/**
 * End to end over real HTTP: a simulated fleet device whose factory account
 * points elsewhere receives a signed bootstrap at its notification URL,
 * adopts the gateway account and opens a client-initiated session to the
 * server address it was given. A minimal HTTP server stands in for the
 * gateway's DM endpoint: it records the first POST and closes the session.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AUTH_META_TYPE,
  basicCredential,
  type DeviceAuthType,
  hmacMac,
  md5Credential,
  parseHmacHeader,
  userDigest,
} from '../../../src/dm/auth/credentials.js';
import { deliverBootstrap } from '../../../src/dm/bootstrap/delivery.js';
import { buildDmAccount } from '../../../src/dm/bootstrap/dmacc.js';
import { buildBootstrapMessage, encodeBootstrap } from '../../../src/dm/bootstrap/message.js';
import { contentTypeFor, encodeSyncMl, parseSyncMl } from '../../../src/dm/codec/index.js';
import type { Command, SyncMlMessage } from '../../../src/dm/codec/types.js';
import { Fleet } from '../../../src/simulator/fleet.js';
import { HttpNotificationSender } from '../../../src/transport/notification/http-sender.js';

const IMSI = '001010123456789';
const FACTORY_URL = 'http://127.0.0.1:9/factory-dm';

interface Recorded {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  message: SyncMlMessage;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The gateway's HTTP push client, closed after the test. */
function push(attempts: number): HttpNotificationSender {
  const sender = new HttpNotificationSender({ timeoutMs: 2000, attempts });
  cleanups.push(() => sender.close());
  return sender;
}

/** Records every POST; answers each with header Status 212, a 200 for every command, Final: the session ends. */
async function gatewayStandIn(): Promise<{ url: string; posts: Recorded[]; first: Promise<Recorded> }> {
  const posts: Recorded[] = [];
  let resolveFirst!: (r: Recorded) => void;
  const first = new Promise<Recorded>((r) => {
    resolveFirst = r;
  });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = req.headers['content-type'] ?? '';
      const { message, encoding } = parseSyncMl(body, type);
      const rec = { path: req.url ?? '', headers: req.headers, body, message };
      posts.push(rec);
      if (posts.length === 1) resolveFirst(rec);
      const answer = encodeSyncMl(closeSession(message), encoding);
      res.writeHead(200, { 'content-type': contentTypeFor(encoding), 'content-length': answer.length }).end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dm`, posts, first };
}

function closeSession(req: SyncMlMessage): SyncMlMessage {
  const h = req.header;
  let cmdId = 1;
  const body: Command[] = [
    {
      kind: 'Status',
      cmdId: cmdId++,
      msgRef: h.msgId,
      cmdRef: 0,
      cmd: 'SyncHdr',
      targetRefs: [h.target.locUri],
      sourceRefs: [h.source.locUri],
      data: 212,
      items: [],
    },
  ];
  for (const c of req.body) {
    if (c.kind === 'Status' || c.kind === 'Results') continue;
    body.push({ kind: 'Status', cmdId: cmdId++, msgRef: h.msgId, cmdRef: c.cmdId, cmd: c.kind, targetRefs: [], sourceRefs: [], data: 200, items: [] });
  }
  return {
    header: { verDtd: '1.2', verProto: 'DM/1.2', sessionId: h.sessionId, msgId: 1, target: { locUri: h.source.locUri }, source: { locUri: h.target.locUri } },
    body,
    final: true,
  };
}

async function startFleet(): Promise<Fleet> {
  // The device's factory account names another server: it needs a bootstrap to reach the gateway.
  const fleet = new Fleet({
    devices: 1,
    serverUrl: FACTORY_URL,
    serverId: 'factory-server',
    secretSeed: 'bootstrap-it',
    bootstrapSecrets: { imsiOrNetworkId: IMSI },
    profile: { bootstrapSessionDelayMs: 0 },
  });
  cleanups.push(() => fleet.stop());
  await fleet.start();
  return fleet;
}

function bootstrapFor(deviceId: string, gatewayUrl: string, authType: DeviceAuthType, networkId = IMSI) {
  const clientNonce = randomBytes(16);
  const serverNonce = randomBytes(16);
  const input = {
    serverId: 'dmwsi-gateway',
    serverAddress: gatewayUrl,
    authType,
    clientUsername: 'gw-user-7',
    clientPassword: randomBytes(18).toString('base64url'),
    serverPassword: randomBytes(18).toString('base64url'),
    clientNonce: clientNonce.toString('base64'),
    serverNonce: serverNonce.toString('base64'),
  };
  const msg = buildBootstrapMessage(buildDmAccount(input), { sessionId: '1', serverId: input.serverId, deviceId });
  const encoded = encodeBootstrap(msg, { sec: 'NETWORKID', networkId });
  return { input, clientNonce, serverNonce, ...encoded };
}

describe('bootstrap over HTTP to a simulated device', () => {
  it.each(['md5', 'basic', 'hmac'] as const)(
    '%s: the device adopts the account and opens a session to the bootstrapped server',
    async (authType) => {
      const gateway = await gatewayStandIn();
      const fleet = await startFleet();
      const device = fleet.devices[0]!;
      expect(device.account).toMatchObject({ serverUrl: FACTORY_URL, serverId: 'factory-server' });

      const b = bootstrapFor(device.devId, gateway.url, authType);
      const out = await deliverBootstrap(push(2), device.notificationUrl!, b.body, b.contentType);
      expect(out).toEqual({ delivered: true, channel: 'http', detail: 'HTTP 200', attempts: 1 });

      expect(device.account).toEqual({
        accName: 'dmwsi',
        serverUrl: gateway.url,
        serverId: 'dmwsi-gateway',
        authType,
        clientUsername: 'gw-user-7',
        clientPassword: b.input.clientPassword,
        serverPassword: b.input.serverPassword,
        clientNonce: b.clientNonce,
        serverNonce: b.serverNonce,
      });

      const first = await gateway.first;
      const { header, body } = first.message;
      expect(first.path).toBe('/dm');
      expect(header.target.locUri).toBe(gateway.url);
      expect(header.source).toEqual({ locUri: device.devId, locName: 'gw-user-7' });
      expect(header.msgId).toBe(1);
      expect(body[0]).toMatchObject({ kind: 'Alert', data: 1201 });
      expect(body[1]).toMatchObject({ kind: 'Replace' });
      expect(first.message.final).toBe(true);
      const { clientPassword } = b.input;
      if (authType === 'hmac') {
        // HMAC never goes in Cred: x-syncml-hmac over the exact body, on the bootstrapped nonce.
        expect(header.cred).toBeUndefined();
        const h = parseHmacHeader(String(first.headers['x-syncml-hmac']));
        expect(h).toEqual({
          algorithm: 'MD5',
          username: 'gw-user-7',
          mac: hmacMac(userDigest('gw-user-7', clientPassword), b.clientNonce, first.body),
        });
      } else {
        const data =
          authType === 'basic'
            ? basicCredential('gw-user-7', clientPassword)
            : md5Credential(userDigest('gw-user-7', clientPassword), b.clientNonce);
        expect(header.cred).toEqual({ meta: { type: AUTH_META_TYPE[authType], format: 'b64' }, data });
      }

      await fleet.idle();
      expect(gateway.posts).toHaveLength(1);
      expect(fleet.stats()).toMatchObject({ bootstraps: 1, bootstrapsRejected: 0, sessionsOk: 1, sessionsFailed: 0 });
    },
  );

  it('rejects a bootstrap signed with another network id (not retried; account unchanged)', async () => {
    const gateway = await gatewayStandIn();
    const fleet = await startFleet();
    const device = fleet.devices[0]!;
    const forged = bootstrapFor(device.devId, gateway.url, 'md5', '001010999999999');
    const out = await deliverBootstrap(push(3), device.notificationUrl!, forged.body, forged.contentType);
    expect(out).toEqual({ delivered: false, channel: 'http', retryable: false, reason: 'HTTP 400', attempts: 1 });
    expect(device.account).toMatchObject({ serverUrl: FACTORY_URL, serverId: 'factory-server' });
    expect(fleet.stats()).toMatchObject({ bootstraps: 0, bootstrapsRejected: 1 });
    expect(gateway.posts).toHaveLength(0);
  });

  it('still accepts a bootstrap at /bootstrap/<id>', async () => {
    const gateway = await gatewayStandIn();
    const fleet = await startFleet();
    const device = fleet.devices[0]!;
    const b = bootstrapFor(device.devId, gateway.url, 'md5');
    const out = await deliverBootstrap(push(1), fleet.bootstrapUrlFor(device.devId)!, b.body, b.contentType);
    expect(out).toMatchObject({ delivered: true });
    expect(device.account.serverUrl).toBe(gateway.url);
    await gateway.first;
    await fleet.idle();
  });
});
