/** HTTP notification sender against a real http.Server on 127.0.0.1. */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AllowedNetworks } from '../../../src/security/allowed-networks.js';
import { HttpNotificationSender, type HttpSenderOptions } from '../../../src/transport/notification/http-sender.js';
import { closedPort, type RecordingServer, recordingServer, trigger } from './helpers.js';

const FAST: HttpSenderOptions = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 1000 };
const device = (notificationUrl: string) => ({ deviceId: 'IMEI:490154203237518', notificationUrl });

let server: RecordingServer | undefined;
let sender: HttpNotificationSender | undefined;

afterEach(async () => {
  await sender?.close();
  await server?.close();
  sender = undefined;
  server = undefined;
});

describe('HTTP notification sender', () => {
  it.each([200, 204])('reports delivered on %i', async (status) => {
    server = await recordingServer((_req, res) => res.writeHead(status).end());
    sender = new HttpNotificationSender(FAST);
    const outcome = await sender.send(device(`${server.url}/notify`), trigger());
    expect(outcome).toEqual({ delivered: true, channel: 'http', detail: `HTTP ${status}`, attempts: 1 });
  });

  it('posts the trigger bytes unchanged as application/vnd.syncml.notification', async () => {
    server = await recordingServer((_req, res) => res.writeHead(200).end('ok'));
    sender = new HttpNotificationSender(FAST);
    const bytes = trigger({ vendorSpecific: Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x80]) });
    await sender.send(device(`${server.url}/dm/notify?dev=1`), bytes);
    const [req] = server.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/dm/notify?dev=1');
    expect(req?.headers['content-type']).toBe('application/vnd.syncml.notification');
    expect(req?.headers['content-length']).toBe(String(bytes.length));
    expect(req?.body.equals(bytes)).toBe(true);
  });

  it('does not retry a 404 and reports it not retryable', async () => {
    server = await recordingServer((_req, res) => res.writeHead(404).end('no such device'));
    sender = new HttpNotificationSender(FAST);
    const outcome = await sender.send(device(server.url), trigger());
    expect(outcome).toMatchObject({ delivered: false, channel: 'http', retryable: false, attempts: 1 });
    expect(outcome.delivered === false && outcome.reason).toMatch(/^HTTP 404/);
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 503 and reports delivered on the second attempt', async () => {
    server = await recordingServer((_req, res, n) => res.writeHead(n === 0 ? 503 : 200).end());
    sender = new HttpNotificationSender(FAST);
    const outcome = await sender.send(device(server.url), trigger());
    expect(outcome).toEqual({ delivered: true, channel: 'http', detail: 'HTTP 200', attempts: 2 });
    expect(server.requests).toHaveLength(2);
  });

  it.each([408, 429, 500, 503])('retries %i until the attempts run out, then reports it retryable', async (status) => {
    server = await recordingServer((_req, res) => res.writeHead(status, { 'Retry-After': '0' }).end());
    sender = new HttpNotificationSender({ ...FAST, attempts: 3 });
    const outcome = await sender.send(device(server.url), trigger());
    expect(outcome).toMatchObject({ delivered: false, retryable: true, attempts: 3 });
    expect(outcome.delivered === false && outcome.reason).toMatch(new RegExp(`^HTTP ${status}`));
    expect(server.requests).toHaveLength(3);
  });

  it('retries a device that does not answer in time, then reports a retryable timeout', async () => {
    // Never answers: the sender's per-attempt timeout must end each attempt.
    server = await recordingServer(() => undefined);
    sender = new HttpNotificationSender({ ...FAST, timeoutMs: 80, attempts: 2 });
    const started = Date.now();
    const outcome = await sender.send(device(server.url), trigger());
    expect(outcome).toMatchObject({ delivered: false, channel: 'http', retryable: true, attempts: 2 });
    expect(outcome.delivered === false && outcome.reason).toBe('no answer within 80 ms');
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports a refused connection as retryable after retrying it', async () => {
    const port = await closedPort();
    sender = new HttpNotificationSender({ ...FAST, attempts: 2 });
    const outcome = await sender.send(device(`http://127.0.0.1:${port}/notify`), trigger());
    expect(outcome).toMatchObject({ delivered: false, channel: 'http', retryable: true, attempts: 2 });
    expect(outcome.delivered === false && outcome.reason).toMatch(/ECONNREFUSED/);
  });

  it('does not follow a redirect and reports it as a configuration error, without the device-given Location', async () => {
    server = await recordingServer((req, res) => {
      if (req.url === '/old') res.writeHead(302, { Location: '/new' }).end();
      else res.writeHead(200).end();
    });
    sender = new HttpNotificationSender(FAST);
    const outcome = await sender.send(device(`${server.url}/old`), trigger());
    expect(outcome).toMatchObject({ delivered: false, retryable: false, attempts: 1 });
    expect(outcome.delivered === false && outcome.reason).toBe('HTTP 302: redirect not followed; configure the final notification URL');
    expect(server.requests.map((r) => r.url)).toEqual(['/old']);
  });

  it('reuses one keep-alive connection for consecutive notifications', async () => {
    server = await recordingServer((_req, res) => res.writeHead(204).end());
    sender = new HttpNotificationSender(FAST);
    for (let i = 0; i < 3; i++) await sender.send(device(server.url), trigger({ sessionId: i + 1 }));
    expect(server.requests).toHaveLength(3);
    expect(server.connections).toBe(1);
  });

  it('reports delivered without reading an oversized response body to the end', async () => {
    server = await recordingServer((_req, res) => res.writeHead(200).end(Buffer.alloc(1024 * 1024, 0x61)));
    sender = new HttpNotificationSender({ ...FAST, maxDrainBytes: 1024 });
    const outcome = await sender.send(device(server.url), trigger());
    expect(outcome).toMatchObject({ delivered: true, detail: 'HTTP 200' });
  });

  it('reports a missing or unusable notificationUrl without sending', async () => {
    sender = new HttpNotificationSender(FAST);
    await expect(sender.send({ deviceId: 'IMEI:1' }, trigger())).resolves.toMatchObject({
      delivered: false,
      retryable: false,
      attempts: 0,
    });
    const outcome = await sender.send(device('ftp://example.com/x'), trigger());
    expect(outcome).toMatchObject({ delivered: false, retryable: false, attempts: 0 });
    expect(outcome.delivered === false && outcome.reason).toMatch(/http or https/);
  });

  it('ends an attempt in flight as retryable when the sender closes', async () => {
    server = await recordingServer(() => undefined);
    sender = new HttpNotificationSender({ ...FAST, timeoutMs: 5000 });
    const pending = sender.send(device(server.url), trigger());
    await new Promise((r) => setTimeout(r, 50));
    await sender.close();
    await expect(pending).resolves.toMatchObject({ delivered: false, retryable: true, reason: 'notification sender closed' });
    await expect(sender.send(device(server.url), trigger())).rejects.toThrow(/closed/);
  });
});

describe('HTTP push destination check (NOTIFICATION_ALLOWED_NETWORKS)', () => {
  const networks = (text: string) => {
    const n = AllowedNetworks.parse(text);
    if (!(n instanceof AllowedNetworks)) throw new Error(n.problems.join('; '));
    return n;
  };
  const refusal = (address: string) => ({
    delivered: false,
    channel: 'http',
    retryable: false,
    reason: `destination ${address} not in NOTIFICATION_ALLOWED_NETWORKS`,
    attempts: 0,
  });

  it('connects nowhere outside the allowed networks and logs the refusal', async () => {
    server = await recordingServer((_req, res) => res.writeHead(204).end());
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    sender = new HttpNotificationSender({ ...FAST, allowedNetworks: networks('10.0.0.0/8,fd00::/8'), logger });
    const port = new URL(server.url).port;
    expect(await sender.send(device(`${server.url}/n`), trigger())).toEqual(refusal('127.0.0.1'));
    // A host name is checked as resolved; an IPv4-mapped IPv6 literal as the IPv4 address it maps.
    expect(await sender.send(device(`http://localhost:${port}/n`), trigger())).toEqual(refusal('127.0.0.1'));
    expect(await sender.send(device(`http://[::ffff:127.0.0.1]:${port}/n`), trigger())).toEqual(refusal('::ffff:7f00:1'));
    expect(server.connections).toBe(0);
    expect(lines.map((l) => JSON.parse(l) as { msg: string; address: string })).toEqual([
      expect.objectContaining({ address: '127.0.0.1', msg: expect.stringMatching(/NOTIFICATION_ALLOWED_NETWORKS/) }),
      expect.objectContaining({ address: '127.0.0.1' }),
      expect.objectContaining({ address: '::ffff:7f00:1' }),
    ]);
  });

  it('delivers inside the allowed networks, to an address or a host name', async () => {
    server = await recordingServer((_req, res) => res.writeHead(204).end());
    sender = new HttpNotificationSender({ ...FAST, allowedNetworks: networks('127.0.0.0/8') });
    const port = new URL(server.url).port;
    expect(await sender.send(device(`${server.url}/n`), trigger())).toMatchObject({ delivered: true, attempts: 1 });
    expect(await sender.send(device(`http://localhost:${port}/n`), trigger())).toMatchObject({ delivered: true, attempts: 1 });
    expect(server.requests).toHaveLength(2);
  });

  it('keeps only the status code of a failed answer, never the text a device sent with it', async () => {
    const marker = 'device-said-XYZZY';
    server = await recordingServer((_req, res, n) => {
      res.writeHead(n === 0 ? 503 : 400, marker, { 'content-type': 'text/plain' }).end(marker);
    });
    sender = new HttpNotificationSender({ ...FAST, attempts: 3 });
    const outcome = await sender.post(`${server.url}/b`, Buffer.from('x'), 'application/vnd.syncml.dm+wbxml');
    expect(outcome).toEqual({ delivered: false, channel: 'http', retryable: false, reason: 'HTTP 400', attempts: 2 });
  });
});
