/** deliverBootstrap through the HTTP push client, against real HTTP servers on 127.0.0.1: bytes, content type, retry policy. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deliverBootstrap } from '../../../src/dm/bootstrap/delivery.js';
import { bootstrapContentType, bootstrapKey, bootstrapMac } from '../../../src/dm/bootstrap/security.js';
import { HttpNotificationSender, type HttpSenderOptions } from '../../../src/transport/notification/http-sender.js';

const servers: http.Server[] = [];
const senders: HttpNotificationSender[] = [];
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((r) => {
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/notify/IMEI%3A1`;
}

const BODY = Buffer.from('02a4016a006d6c71033132000101', 'hex');
const TYPE = bootstrapContentType('USERPIN', bootstrapMac(bootstrapKey('USERPIN', { pin: '1234' }), BODY));
const fast = { timeoutMs: 300, attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

function push(options: HttpSenderOptions = {}): HttpNotificationSender {
  const sender = new HttpNotificationSender({ ...fast, ...options });
  senders.push(sender);
  return sender;
}

describe('deliverBootstrap', () => {
  it('POSTs the exact WBXML with the SEC/MAC content type; 2xx is delivered', async () => {
    let got: { method?: string; type?: string; body: Buffer } | undefined;
    const url = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got = { method: req.method, type: req.headers['content-type'], body: Buffer.concat(chunks) };
        res.writeHead(200, { 'content-type': 'text/plain' }).end('applied\n');
      });
    });
    expect(await deliverBootstrap(push(), url, BODY, TYPE)).toEqual({
      delivered: true,
      channel: 'http',
      detail: 'HTTP 200',
      attempts: 1,
    });
    expect(got).toEqual({ method: 'POST', type: TYPE, body: BODY });
  });

  it('does not retry a refusal, and keeps only its status code', async () => {
    let hits = 0;
    const url = await serve((_req, res) => {
      hits++;
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('bad-mac\n');
    });
    expect(await deliverBootstrap(push(), url, BODY, TYPE)).toEqual({
      delivered: false,
      channel: 'http',
      retryable: false,
      reason: 'HTTP 400',
      attempts: 1,
    });
    expect(hits).toBe(1);
  });

  it('retries a 503 and succeeds on the next attempt', async () => {
    let hits = 0;
    const url = await serve((_req, res) => {
      hits++;
      res.writeHead(hits === 1 ? 503 : 204).end();
    });
    expect(await deliverBootstrap(push(), url, BODY, TYPE)).toMatchObject({ delivered: true, detail: 'HTTP 204', attempts: 2 });
  });

  it('gives up after the attempts on a device that never answers, as retryable', async () => {
    const url = await serve(() => undefined);
    const out = await deliverBootstrap(push({ timeoutMs: 100, attempts: 2 }), url, BODY, TYPE);
    expect(out).toEqual({ delivered: false, channel: 'http', retryable: true, reason: 'no answer within 100 ms', attempts: 2 });
  });

  it('reports a refused connection as retryable', async () => {
    const url = await serve(() => undefined);
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const out = await deliverBootstrap(push({ attempts: 2 }), url, BODY, TYPE);
    expect(out).toMatchObject({ delivered: false, retryable: true, attempts: 2, reason: expect.stringMatching(/^network error/) });
  });

  it('does not try an unusable URL and refuses to send an unsigned bootstrap', async () => {
    expect(await deliverBootstrap(push(), 'sms:+15550000001', BODY, TYPE)).toMatchObject({
      delivered: false,
      retryable: false,
      attempts: 0,
    });
    await expect(deliverBootstrap(push(), 'http://127.0.0.1:9/', BODY, 'application/vnd.syncml.dm+wbxml')).rejects.toThrow(
      TypeError,
    );
    await expect(deliverBootstrap(push(), 'http://127.0.0.1:9/', Buffer.alloc(0), TYPE)).rejects.toThrow(TypeError);
  });
});
