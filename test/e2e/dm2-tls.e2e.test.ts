/**
 * DM 2.0 devices authenticated in TLS (contract): one fleet by PSK-TLS
 * (identity = device id, key derived per device from the gateway key), one
 * by X.509 client certificates issued by DM2_CLIENT_CA (subject CN = device
 * id). Each is driven by doOperation QUERY (the broker service the SOAP
 * handler calls; SOAP over this HTTPS listener is tls.test.ts's) through an
 * HTTPS gateway; neither sends an Authorization header. A TLS identity opens no
 * other device's session, and a certificate from another CA counts for
 * nothing.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_PACKAGE1 } from '../../src/dm2/constants.js';
import { dm2PskKey } from '../../src/dm2/tls-identity.js';
import { loadSecretKey } from '../../src/security/secret-box.js';
import { Dm2Fleet } from '../../src/simulator/dm2/dm2-fleet.js';
import { CAPABILITY_DM2 } from '../support/dm2-rig.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

const fixtures = path.join(import.meta.dirname, '..', 'integration', 'notification', 'fixtures');
const serverCert = path.join(fixtures, 'test-smsc.cert.pem');
const serverKey = path.join(fixtures, 'test-smsc.key.pem');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dm2-tls-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

/** A CA, and a certificate it signs for `cn`. */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${name}`);
}
function issue(ca: string, cn: string, file: string): { cert: Buffer; key: Buffer } {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${cn}`);
  openssl('x509', '-req', '-in', `${file}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${file}.pem`, '-days', '1');
  return { cert: fs.readFileSync(path.join(dir, `${file}.pem`)), key: fs.readFileSync(path.join(dir, `${file}.key`)) };
}

let gw: TestGateway;
let pskFleet: Dm2Fleet;
let certFleet: Dm2Fleet;
let gatewayKey: Buffer;

beforeAll(async () => {
  makeCa('devices-ca');
  makeCa('other-ca');
  gw = await startTestGateway({
    overrides: { publicDmUrl: 'https://127.0.0.1:0/dm', tlsCert: serverCert, tlsKey: serverKey, dm2ClientCa: path.join(dir, 'devices-ca.pem'), dm2Psk: true },
  });
  gatewayKey = loadSecretKey(gw.config.secretKey, gw.config.dataDir);
  const ctx = { caller: 'test', operation: 'setup' };
  await gw.deviceManager.createDeviceCapability(ctx, CAPABILITY_DM2);
  pskFleet = new Dm2Fleet({
    devices: 2,
    serverUrl: `${gw.url}/dm2`,
    capabilityOid: CAPABILITY_DM2.oid,
    imeiStart: '35600000000000',
    phonePrefix: '+1611',
    tls: (deviceId) => ({ psk: { key: dm2PskKey(gatewayKey, deviceId), identity: deviceId } }),
  });
  let n = 0;
  certFleet = new Dm2Fleet({
    devices: 2,
    serverUrl: `${gw.url}/dm2`,
    capabilityOid: CAPABILITY_DM2.oid,
    imeiStart: '35700000000000',
    phonePrefix: '+1622',
    tls: (deviceId) => ({ ...issue('devices-ca', deviceId, `device-${n++}`), ca: fs.readFileSync(serverCert) }),
  });
  for (const f of [pskFleet, certFleet]) {
    await f.start();
    const r = await gw.deviceManager.importDeviceInstances(ctx, { csv: f.credentialsCsv() });
    expect(r.rejected).toEqual([]);
  }
}, 120_000);
afterAll(async () => {
  await pskFleet?.stop();
  await certFleet?.stop();
  await gw?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function query(phoneNumber: string): Promise<{ status: string; value: string | undefined }> {
  const ctx = { caller: 'test', operation: 'doOperation' };
  const taskId = await gw.broker.doOperation(ctx, {
    operation: { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/DmV' }] },
    phoneNumber,
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
  });
  return waitFor(async () => {
    const t = await gw.broker.getTask(taskId);
    if (t.status !== 'COMPLETED' && t.status !== 'FAILED') return undefined;
    return { status: t.status, value: t.results[0]?.value };
  }, 20_000, `task ${taskId}`);
}

/** A raw Package#1 over TLS with the given client credentials. */
function post(opts: https.RequestOptions, devId: string): Promise<number> {
  const body = JSON.stringify({ Alert: [{ AlertType: 'urn:oma:at:dm:2.0:ClientInitiatedMgmt' }] });
  const u = new URL(`${gw.url}/dm2`);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: u.hostname, port: u.port, path: '/dm2', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': MEDIA_PACKAGE1, 'omadm-devid': devId, 'content-length': body.length }, ...opts },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('DM 2.0 over TLS', () => {
  it('serves a device authenticated by PSK-TLS (QUERY)', async () => {
    const d = pskFleet.devices[0]!;
    expect(await query(d.phoneNumber!)).toEqual({ status: 'COMPLETED', value: '2.0' });
    expect(d.sessions.at(-1)?.error).toBeUndefined();
  });

  it('serves a device authenticated by an X.509 client certificate (QUERY)', async () => {
    const d = certFleet.devices[0]!;
    const r = await query(d.phoneNumber!).catch((err: Error) => ({ status: `${err.message}: ${JSON.stringify(d.sessions)}`, value: undefined }));
    expect(r).toEqual({ status: 'COMPLETED', value: '2.0' });
  });

  it('refuses a PSK or certificate identity naming another device than OMADM-DevID (403)', async () => {
    const a = pskFleet.devices[0]!.deviceId;
    const b = pskFleet.devices[1]!.deviceId;
    const psk = { ciphers: 'TLS_AES_128_GCM_SHA256:PSK-AES128-GCM-SHA256', maxCachedSessions: 0, pskCallback: () => ({ psk: dm2PskKey(gatewayKey, a), identity: a }), checkServerIdentity: () => undefined };
    expect(await post(psk, a)).toBe(200);
    expect(await post(psk, b)).toBe(403);
    const cert = issue('devices-ca', certFleet.devices[0]!.deviceId, 'cross');
    expect(await post({ ...cert, agent: false }, certFleet.devices[1]!.deviceId)).toBe(403);
  });

  it('gives a certificate from another CA no identity: without credentials the answer is 401', async () => {
    const foreign = issue('other-ca', certFleet.devices[0]!.deviceId, 'foreign');
    expect(await post({ ...foreign, agent: false }, certFleet.devices[0]!.deviceId)).toBe(401);
  });

  it('gives an identity whose PSK was dropped in the handshake (a SHA-384 suite) nothing: 401', async () => {
    const a = pskFleet.devices[0]!.deviceId;
    const dropped = { ciphers: 'TLS_AES_256_GCM_SHA384', pskCallback: () => ({ psk: Buffer.alloc(32, 1), identity: a }), checkServerIdentity: () => undefined, agent: false as const };
    expect(await post(dropped, a)).toBe(401);
  });

  it('fails the TLS handshake for a PSK that is not the identity\'s key', async () => {
    const a = pskFleet.devices[0]!.deviceId;
    const wrong = { ciphers: 'TLS_AES_128_GCM_SHA256:PSK-AES128-GCM-SHA256', maxCachedSessions: 0, pskCallback: () => ({ psk: Buffer.alloc(32, 1), identity: a }), checkServerIdentity: () => undefined, agent: false as const };
    await expect(post(wrong, a)).rejects.toThrow();
  });
});
