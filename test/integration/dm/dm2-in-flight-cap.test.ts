/**
 * DM_MAX_IN_FLIGHT is one count per process for /dm and /dm2: an opening
 * message in flight on either endpoint takes the place of the other's.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_PACKAGE1, MEDIA_PACKAGE3 } from '../../../src/dm2/constants.js';
import { startTestGateway, type TestGateway } from '../../support/test-gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ overrides: { dmMaxInFlight: 1, dm2AllowPlainHttp: true } });
});
afterAll(() => gw?.stop());

const DM12 = { path: '/dm', headers: { 'content-type': 'application/vnd.syncml.dm+xml' } };
const DM20 = { path: '/dm2', headers: { 'content-type': MEDIA_PACKAGE1, 'omadm-devid': 'IMEI:490154203237518' } };

/** A POST whose body never finishes until `finish`: it holds its place in flight. */
function stalled(target: { path: string; headers: Record<string, string> }): { done: Promise<number>; finish: () => void } {
  const body = Buffer.from('x'.repeat(64));
  let finish: () => void = () => undefined;
  const done = new Promise<number>((resolve, reject) => {
    const req = http.request(`${gw.url}${target.path}`, { method: 'POST', headers: { ...target.headers, 'content-length': body.length } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write(body.subarray(0, 10));
    finish = () => void req.end(body.subarray(10));
  });
  return { done, finish };
}

const post = (target: { path: string; headers: Record<string, string> }) => fetch(`${gw.url}${target.path}`, { method: 'POST', headers: target.headers, body: '{}' });

describe('one DM_MAX_IN_FLIGHT for /dm and /dm2', () => {
  it.each([
    ['/dm', DM12, DM20],
    ['/dm2', DM20, DM12],
  ])('a message in flight on %s turns away an opening message on the other with 503, never a session URI message', async (_n, holder, other) => {
    const held = stalled(holder);
    await new Promise((r) => setTimeout(r, 200));
    const refused = await post(other);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect((await fetch(`${gw.url}/dm2/s/AAAAAAAAAAAAAAAAAAAAAA`, { method: 'POST', headers: { ...DM20.headers, 'content-type': MEDIA_PACKAGE3 }, body: '{}' })).status).not.toBe(503);
    held.finish();
    expect(await held.done).toBe(400);
    expect((await post(other)).status).not.toBe(503);
  });
});
