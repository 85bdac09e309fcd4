/** HTTPS when TLS_CERT and TLS_KEY are given, with a self-signed pair for 127.0.0.1. */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const dir = path.join(import.meta.dirname, 'notification', 'fixtures');
const cert = path.join(dir, 'test-smsc.cert.pem');
const key = path.join(dir, 'test-smsc.key.pem');
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ overrides: { tlsCert: cert, tlsKey: key } });
});
afterAll(() => gw?.stop());

function get(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ...(ca ? { ca } : { rejectUnauthorized: true }) }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

it('serves HTTPS with the given certificate, and the WSDL names an https address', async () => {
  expect(gw.url.startsWith('https://127.0.0.1:')).toBe(true);
  const ca = fs.readFileSync(cert);
  expect(await get(`${gw.url}/healthz`, ca)).toEqual({ status: 200, body: 'ok\n' });
  const wsdl = await get(`${gw.url}/dmwsi/DeviceManager?wsdl`, ca);
  expect(wsdl.body).toContain(`location="${gw.url}/dmwsi/DeviceManager"`);
});

it('is refused by a client that does not trust the certificate', async () => {
  await expect(get(`${gw.url}/healthz`)).rejects.toThrow(/self[- ]signed|unable to verify/i);
});
