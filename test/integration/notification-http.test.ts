/** The HTTP Package#0 sender against real HTTP servers on 127.0.0.1. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpNotificationSender } from '../../src/transport/notification/http-sender.js';

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/notify/x`;
}

const trigger = Buffer.from('0123456789abcdef\x02\xc8\x00\x00\x00\x12\x34\x05hello', 'latin1');
const sender = new HttpNotificationSender({ baseDelayMs: 5, maxDelayMs: 20, timeoutMs: 300 });
const target = (notificationUrl: string) => ({ deviceId: 'IMEI:1', notificationUrl });

describe('HTTP notification sender', () => {
  it('POSTs the exact trigger bytes with the notification content type; 2xx is delivered', async () => {
    let got: { type?: string; body: Buffer } | undefined;
    const url = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got = { type: req.headers['content-type'], body: Buffer.concat(chunks) };
        res.writeHead(204).end();
      });
    });
    expect(await sender.send(target(url), trigger)).toEqual({ delivered: true, channel: 'http', detail: 'HTTP 204', attempts: 1 });
    expect(got?.type).toBe('application/vnd.syncml.notification');
    expect(got?.body.equals(trigger)).toBe(true);
  });

  it('sends dozens of notifications at once without a listener warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const url = await serve((_req, res) => setTimeout(() => res.writeHead(200).end(), 20));
      const outcomes = await Promise.all(Array.from({ length: 40 }, () => sender.send(target(url), trigger)));
      expect(outcomes.every((o) => o.delivered)).toBe(true);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('does not retry a 404', async () => {
    let hits = 0;
    const url = await serve((_req, res) => {
      hits++;
      res.writeHead(404).end();
    });
    expect(await sender.send(target(url), trigger)).toMatchObject({ delivered: false, retryable: false, attempts: 1 });
    expect(hits).toBe(1);
  });

  it('retries a 503 and succeeds on the second attempt', async () => {
    let hits = 0;
    const url = await serve((_req, res) => {
      hits++;
      res.writeHead(hits === 1 ? 503 : 200).end();
    });
    expect(await sender.send(target(url), trigger)).toMatchObject({ delivered: true, attempts: 2 });
  });

  it('gives up after the attempts on a device that never answers, as retryable', async () => {
    const url = await serve(() => undefined);
    const r = await sender.send(target(url), trigger);
    expect(r).toMatchObject({ delivered: false, retryable: true, attempts: 3 });
    expect(!r.delivered && r.reason).toMatch(/no answer within 300 ms/);
  });

  it('reports a refused connection as retryable', async () => {
    const r = await sender.send(target('http://127.0.0.1:1/notify'), trigger);
    expect(r).toMatchObject({ delivered: false, retryable: true });
  });

  it('does not follow a redirect', async () => {
    const url = await serve((_req, res) => res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end());
    expect(await sender.send(target(url), trigger)).toMatchObject({ delivered: false, retryable: false });
  });
});
