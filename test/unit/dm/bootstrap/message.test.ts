/** The bootstrap message: WBXML round trip, MAC over the exact bytes, content type, simulator acceptance. */
import { describe, expect, it } from 'vitest';
import type { DeviceAuthType } from '../../../../src/dm/auth/credentials.js';
import { buildDmAccount, type DmAccountInput } from '../../../../src/dm/bootstrap/dmacc.js';
import { buildBootstrapMessage, encodeBootstrap } from '../../../../src/dm/bootstrap/message.js';
import {
  bootstrapKey,
  parseBootstrapContentType,
  verifyBootstrapMac,
} from '../../../../src/dm/bootstrap/security.js';
import { decodeWbxml, parseSyncMl } from '../../../../src/dm/codec/index.js';
import type { ItemCommand } from '../../../../src/dm/codec/types.js';
import { type DmTransport, SimulatedDevice } from '../../../../src/simulator/simulated-device.js';

const DEV_ID = 'IMEI:493005100592800';
const IMSI = '404020506708200';
const PIN = '1234';
const CLIENT_NONCE_BYTES = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f, 0x01, 0x02, 0x03]);
const SERVER_NONCE_BYTES = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x11, 0x22]);

function account(overrides: Partial<DmAccountInput> = {}) {
  return buildDmAccount({
    serverId: 'dmwsi-gateway',
    serverAddress: 'https://dm.example.com/dm',
    authType: 'md5',
    clientUsername: 'bootstrapped-user',
    clientPassword: 'client-secret-1',
    serverPassword: 'server-secret-1',
    clientNonce: CLIENT_NONCE_BYTES.toString('base64'),
    serverNonce: SERVER_NONCE_BYTES.toString('base64'),
    ...overrides,
  });
}

const addressing = { sessionId: '1A', serverId: 'dmwsi-gateway', deviceId: DEV_ID };

describe('buildBootstrapMessage', () => {
  it('addresses the device from the server and Adds every node in order, then Final', () => {
    const acc = account();
    const msg = buildBootstrapMessage(acc, addressing);
    expect(msg.header).toEqual({
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: '1A',
      msgId: 1,
      target: { locUri: DEV_ID },
      source: { locUri: 'dmwsi-gateway' },
    });
    expect(msg.final).toBe(true);
    expect(msg.body).toHaveLength(acc.nodes.length);
    const adds = msg.body as ItemCommand[];
    adds.forEach((cmd, i) => {
      expect(cmd.kind).toBe('Add');
      expect(cmd.cmdId).toBe(i + 1);
      expect(cmd.items).toHaveLength(1);
      expect(cmd.items[0]!.target?.locUri).toBe(acc.nodes[i]!.uri);
    });
    // Meta in each Item, none at command level: common clients read only Item Meta.
    expect(adds[0]).toEqual({
      kind: 'Add',
      cmdId: 1,
      items: [{ target: { locUri: './DMAcc/dmwsi' }, meta: { format: 'node', type: 'urn:oma:mo:oma-dm-dmacc:1.0' } }],
    });
    expect(adds.every((c) => c.meta === undefined && c.items[0]!.meta?.format !== undefined)).toBe(true);
    const byUri = new Map(adds.map((c) => [c.items[0]!.target!.locUri, c.items[0]!]));
    expect(byUri.get('./DMAcc/dmwsi/AppAuth')).toMatchObject({ meta: { format: 'node' } });
    expect(byUri.get('./DMAcc/dmwsi/AppAuth')!.data).toBeUndefined();
    expect(byUri.get('./DMAcc/dmwsi/AppID')).toMatchObject({ meta: { format: 'chr' }, data: 'w7' });
    // bin leaves carry the decoded bytes (WBXML OPAQUE), not base64 text.
    expect(byUri.get('./DMAcc/dmwsi/AppAuth/CLCRED/AAuthData')!.data).toEqual(CLIENT_NONCE_BYTES);
    expect(byUri.get('./DMAcc/dmwsi/AppAuth/SRVCRED/AAuthData')).toMatchObject({ meta: { format: 'bin' } });
  });

  it('refuses empty addressing', () => {
    expect(() => buildBootstrapMessage(account(), { ...addressing, deviceId: '' })).toThrow(TypeError);
  });
});

describe('encodeBootstrap', () => {
  const security = { sec: 'USERPIN_NETWORKID', networkId: IMSI, pin: PIN } as const;

  it('encodes WBXML that decodes back to the same message', () => {
    const msg = buildBootstrapMessage(account(), addressing);
    const { body, contentType } = encodeBootstrap(msg, security);
    expect(body.subarray(0, 4)).toEqual(Buffer.from([0x02, 0xa4, 0x01, 0x6a]));
    expect(decodeWbxml(body)).toEqual(msg);
    expect(parseSyncMl(body, contentType).message).toEqual(msg);
    // The nonce bytes travel as OPAQUE (0xC3, length, bytes).
    expect(body.includes(Buffer.concat([Buffer.from([0xc3, CLIENT_NONCE_BYTES.length]), CLIENT_NONCE_BYTES]))).toBe(true);
  });

  it.each([
    ['NETWORKID', { sec: 'NETWORKID', networkId: IMSI }],
    ['USERPIN', { sec: 'USERPIN', pin: PIN }],
    ['USERPIN_NETWORKID', security],
  ] as const)('signs with %s: the content type parses and the MAC verifies', (sec, sc) => {
    const { body, contentType } = encodeBootstrap(buildBootstrapMessage(account(), addressing), sc);
    const parsed = parseBootstrapContentType(contentType);
    expect(parsed).toEqual({ mediaType: 'application/vnd.syncml.dm+wbxml', sec, mac: expect.stringMatching(/^[0-9A-F]{40}$/) });
    expect(contentType).toBe(`application/vnd.syncml.dm+wbxml; SEC=${sec}; MAC=${parsed!.mac}`);
    const key = bootstrapKey(sec, { imsiOrNetworkId: IMSI, pin: PIN });
    expect(verifyBootstrapMac(key, body, parsed!.mac)).toBe(true);
  });

  it('a MAC fails when any one byte of the WBXML changes, or with another secret', () => {
    const { body, contentType } = encodeBootstrap(buildBootstrapMessage(account(), addressing), security);
    const { mac } = parseBootstrapContentType(contentType)!;
    const key = bootstrapKey('USERPIN_NETWORKID', { imsiOrNetworkId: IMSI, pin: PIN });
    for (let i = 0; i < body.length; i++) {
      const changed = Buffer.from(body);
      changed[i]! ^= 0x01;
      if (verifyBootstrapMac(key, changed, mac)) throw new Error(`MAC still verifies with byte ${i} changed`);
    }
    expect(verifyBootstrapMac(bootstrapKey('USERPIN_NETWORKID', { imsiOrNetworkId: IMSI, pin: '1235' }), body, mac)).toBe(
      false,
    );
  });

  it('throws when the method lacks its secret (nothing unsigned leaves)', () => {
    const msg = buildBootstrapMessage(account(), addressing);
    expect(() => encodeBootstrap(msg, { sec: 'USERPIN' })).toThrow(TypeError);
    expect(() => encodeBootstrap(msg, { sec: 'NETWORKID', pin: PIN })).toThrow(TypeError);
    expect(() => encodeBootstrap(msg, { sec: 'USERPIN_NETWORKID', networkId: IMSI })).toThrow(TypeError);
  });
});

describe('the simulated handset accepts the bootstrap', () => {
  const noTransport: DmTransport = {
    post: () => Promise.reject(new Error('no session expected in this test')),
  };

  it.each(['basic', 'md5', 'hmac'] as const)('adopts a %s account', (authType: DeviceAuthType) => {
    const scheduled: number[] = [];
    const device = new SimulatedDevice({
      devId: DEV_ID,
      account: {
        accName: 'factory',
        serverUrl: 'https://factory.example.com/dm',
        serverId: 'factory',
        authType: 'md5',
        clientUsername: DEV_ID,
        clientPassword: 'factory-secret',
        serverPassword: 'factory-server-secret',
        clientNonce: Buffer.alloc(0),
        serverNonce: Buffer.alloc(0),
      },
      transport: noTransport,
      host: { now: () => 0, schedule: (at) => scheduled.push(at), runSession: (fn) => fn() },
      bootstrapSecrets: { imsiOrNetworkId: IMSI },
    });
    const { body, contentType } = encodeBootstrap(buildBootstrapMessage(account({ authType }), addressing), {
      sec: 'NETWORKID',
      networkId: IMSI,
    });
    expect(device.receiveBootstrap(body, contentType)).toEqual({ ok: true, accName: 'dmwsi' });
    expect(device.account).toEqual({
      accName: 'dmwsi',
      serverUrl: 'https://dm.example.com/dm',
      serverId: 'dmwsi-gateway',
      authType,
      clientUsername: 'bootstrapped-user',
      clientPassword: 'client-secret-1',
      serverPassword: 'server-secret-1',
      clientNonce: CLIENT_NONCE_BYTES,
      serverNonce: SERVER_NONCE_BYTES,
    });
    // The factory account stays; the secrets of the new one are not readable by a server.
    expect(device.tree.exists('./DMAcc/factory')).toBe(true);
    expect(device.tree.get('./DMAcc/dmwsi/AppAuth/CLCRED/AAuthSecret')).toEqual({ ok: false, status: 405 });
    expect(device.tree.get('./DMAcc/dmwsi/AppID')).toMatchObject({ ok: true, data: 'w7' });
    expect(scheduled).toHaveLength(1); // the follow-up client-initiated session
  });
});
