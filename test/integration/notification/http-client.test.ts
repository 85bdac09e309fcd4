/**
 * The push client's connections and failure reasons (undici underneath):
 * what a Package#0 sender and the webhook poster promise about sockets,
 * the destination check done in the connection's DNS lookup, the drain
 * limit and the reasons given for network failures. Real servers on
 * 127.0.0.1, nothing mocked.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { AllowedNetworks } from '../../../src/security/allowed-networks.js';
import { HttpNotificationSender, type HttpSenderOptions } from '../../../src/transport/notification/http-sender.js';
import { HttpWebhookPoster } from '../../../src/transport/notification/webhook-poster.js';
import { closedPort, trigger } from './helpers.js';

const FAST: HttpSenderOptions = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 1000, attempts: 1 };
const device = (notificationUrl: string) => ({ deviceId: 'IMEI:490154203237518', notificationUrl });
const fixture = (name: string) => readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name));

interface SocketServer {
  url: string;
  port: number;
  /** Connections accepted. */
  opened: number;
  /** Connections the client has not closed. */
  open: () => number;
  /** Connections the client has closed. */
  dropped: () => number;
  requests: { url: string; headers: http.IncomingHttpHeaders; body: Buffer }[];
  close(): Promise<void>;
}

/** An http(s) server that keeps count of its connections, open and closed. */
async function socketServer(handler: http.RequestListener, tls?: { key: Buffer; cert: Buffer }): Promise<SocketServer> {
  const sockets = new Set<Socket>();
  const requests: SocketServer['requests'] = [];
  const state = { opened: 0, dropped: 0 };
  const listener: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      handler(req, res);
    });
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    state.opened++;
    sockets.add(socket);
    // The client's FIN: an HTTP server keeps its half of the socket open while a response is unfinished.
    const gone = () => {
      if (sockets.delete(socket)) state.dropped++;
    };
    socket.on('end', gone);
    socket.on('close', gone);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    get opened() {
      return state.opened;
    },
    open: () => sockets.size,
    dropped: () => state.dropped,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function networks(text: string): AllowedNetworks {
  const n = AllowedNetworks.parse(text);
  if (!(n instanceof AllowedNetworks)) throw new Error(n.problems.join('; '));
  return n;
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function track<T extends { close(): Promise<void> }>(x: T): T {
  cleanup.push(() => x.close());
  return x;
}

describe('push client connections', () => {
  it('reuses a keep-alive connection across answers with a body, and closes it with the sender', async () => {
    const server = track(await socketServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok, thanks')));
    const sender = track(new HttpNotificationSender(FAST));
    for (let i = 0; i < 4; i++) expect(await sender.send(device(`${server.url}/n`), trigger())).toMatchObject({ delivered: true });
    expect(server.opened).toBe(1);
    expect(server.open()).toBe(1);
    await sender.close();
    await until(() => server.open() === 0);
  });

  it('opens no more than maxSocketsPerOrigin connections to one device host', async () => {
    const server = track(await socketServer((_req, res) => setTimeout(() => res.writeHead(204).end(), 30)));
    const sender = track(new HttpNotificationSender({ ...FAST, maxSocketsPerOrigin: 2 }));
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => sender.send(device(server.url), trigger())));
    expect(outcomes.every((o) => o.delivered)).toBe(true);
    expect(server.requests).toHaveLength(10);
    expect(server.opened).toBe(2);
  });

  it('closes an idle keep-alive connection after idleSocketTimeoutMs', async () => {
    const server = track(await socketServer((_req, res) => res.writeHead(204).end()));
    const sender = track(new HttpNotificationSender({ ...FAST, idleSocketTimeoutMs: 100 }));
    expect(await sender.send(device(server.url), trigger())).toMatchObject({ delivered: true });
    expect(server.open()).toBe(1);
    await until(() => server.open() === 0, 1500);
    expect(await sender.send(device(server.url), trigger())).toMatchObject({ delivered: true });
    expect(server.opened).toBe(2);
  });

  it('drops the connection of an answer whose body exceeds maxDrainBytes, without waiting for its end', async () => {
    // Headers and more than the limit, then the body never ends.
    const server = track(
      await socketServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write(Buffer.alloc(4096, 0x61));
      }),
    );
    const sender = track(new HttpNotificationSender({ ...FAST, maxDrainBytes: 1024, timeoutMs: 3000 }));
    const started = Date.now();
    expect(await sender.send(device(server.url), trigger())).toEqual({ delivered: true, channel: 'http', detail: 'HTTP 200', attempts: 1 });
    expect(Date.now() - started).toBeLessThan(1000);
    // (undici 6 then opens a spare connection to the origin, idle until idleSocketTimeoutMs.)
    await until(() => server.dropped() === 1);
    expect(server.requests).toHaveLength(1);
  });

  it('keeps the status of an answer whose body stalls, once the attempt times out', async () => {
    const server = track(
      await socketServer((_req, res) => {
        res.writeHead(503, { 'Retry-After': '7' });
        res.write('partial');
      }),
    );
    const sender = track(new HttpNotificationSender({ ...FAST, timeoutMs: 150 }));
    const outcome = await sender.send(device(server.url), trigger());
    expect(outcome).toEqual({ delivered: false, channel: 'http', retryable: true, reason: 'HTTP 503', attempts: 1 });
    await until(() => server.dropped() === 1);
  });

  it('sends the User-Agent, Content-Type and Content-Length, and a webhook its own headers', async () => {
    const server = track(await socketServer((_req, res) => res.writeHead(204).end()));
    const sender = track(new HttpNotificationSender({ ...FAST, userAgent: 'ua-test/1' }));
    const bytes = trigger();
    await sender.send(device(`${server.url}/p?q=1`), bytes);
    expect(server.requests[0]?.url).toBe('/p?q=1');
    expect(server.requests[0]?.headers).toMatchObject({
      'user-agent': 'ua-test/1',
      'content-type': 'application/vnd.syncml.notification',
      'content-length': String(bytes.length),
    });
    const poster = track(new HttpWebhookPoster({ allowedNetworks: undefined, timeoutMs: 1000 }));
    const body = JSON.stringify({ id: 'e1' });
    expect(await poster.post(`${server.url}/hook`, body, { 'X-Dmwsi-Event-Id': 'e1', 'X-Dmwsi-Signature': 'sha256=ab' })).toEqual({
      kind: 'delivered',
      status: 204,
    });
    const hook = server.requests[1];
    expect(hook?.body.toString()).toBe(body);
    expect(hook?.headers).toMatchObject({
      'user-agent': 'dmwsi-gateway-webhooks',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-dmwsi-event-id': 'e1',
      'x-dmwsi-signature': 'sha256=ab',
    });
  });

  it('sends the user info of a notification URL as Basic authorization, as node:http did', async () => {
    const server = track(await socketServer((_req, res) => res.writeHead(204).end()));
    const sender = track(new HttpNotificationSender(FAST));
    await sender.send(device(`http://dev%40ice:p%3Ass@127.0.0.1:${server.port}/n`), trigger());
    expect(server.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('dev@ice:p:ss').toString('base64')}`);
    await sender.send(device(`${server.url}/n`), trigger());
    expect(server.requests[1]?.headers.authorization).toBeUndefined();
  });

  it('delivers to an IPv6 literal host', async () => {
    const server = http.createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const sender = track(new HttpNotificationSender(FAST));
    const outcome = await sender.send(device(`http://[::1]:${(server.address() as AddressInfo).port}/n`), trigger());
    expect(outcome).toMatchObject({ delivered: true, detail: 'HTTP 204' });
  });

  it('closes the webhook poster’s connections with it and ends a POST in flight', async () => {
    const server = track(await socketServer(() => undefined));
    const poster = new HttpWebhookPoster({ allowedNetworks: undefined, timeoutMs: 5000 });
    const pending = poster.post(`${server.url}/hook`, '{}', {});
    await until(() => server.requests.length === 1);
    await poster.close();
    await expect(pending).resolves.toEqual({ kind: 'failed', retryable: true, reason: 'notification sender closed' });
    await until(() => server.open() === 0);
  });
});

describe('push destination check in the connection lookup', () => {
  it('refuses every push to a host name that resolves outside the allowed networks, connecting nowhere', async () => {
    const server = track(await socketServer((_req, res) => res.writeHead(204).end()));
    const sender = track(new HttpNotificationSender({ ...FAST, allowedNetworks: networks('10.0.0.0/8') }));
    // Several at once: they share the origin's connection pool and each must come back refused.
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => sender.send(device(`http://localhost:${server.port}/n`), trigger())));
    for (const o of outcomes) {
      expect(o).toMatchObject({ delivered: false, retryable: false, attempts: 0 });
      expect(o.delivered === false && o.reason).toMatch(/^destination (127\.0\.0\.1|::1) not in NOTIFICATION_ALLOWED_NETWORKS$/);
    }
    expect(server.opened).toBe(0);
  });

  it('refuses a webhook POST to a host name outside the allowed networks', async () => {
    const server = track(await socketServer((_req, res) => res.writeHead(204).end()));
    const poster = track(new HttpWebhookPoster({ allowedNetworks: networks('10.0.0.0/8'), timeoutMs: 1000 }));
    const result = await poster.post(`http://localhost:${server.port}/hook`, '{}', {});
    expect(result).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/not in NOTIFICATION_ALLOWED_NETWORKS$/) });
    expect(server.opened).toBe(0);
  });
});

describe('push failure reasons', () => {
  it('names the socket error of a refused connection', async () => {
    const port = await closedPort();
    const sender = track(new HttpNotificationSender(FAST));
    const outcome = await sender.send(device(`http://127.0.0.1:${port}/n`), trigger());
    expect(outcome).toMatchObject({ delivered: false, retryable: true, reason: `network error: connect ECONNREFUSED 127.0.0.1:${port}` });
  });

  it('reports a device that hangs up without answering as a retryable network error', async () => {
    const server = track(await socketServer((req) => req.socket.destroy()));
    const sender = track(new HttpNotificationSender(FAST));
    const outcome = await sender.send(device(server.url), trigger());
    // As node:http said it (undici's own words: "other side closed").
    expect(outcome).toMatchObject({ delivered: false, retryable: true, reason: 'network error: socket hang up' });
  });

  it('speaks TLS to an https URL and names a certificate it does not trust', async () => {
    const server = track(await socketServer((_req, res) => res.writeHead(204).end(), { key: fixture('test-smsc.key.pem'), cert: fixture('test-smsc.cert.pem') }));
    const sender = track(new HttpNotificationSender(FAST));
    const outcome = await sender.send(device(`${server.url}/n`), trigger());
    expect(outcome).toMatchObject({ delivered: false, retryable: true, reason: 'network error: self-signed certificate' });
    expect(server.requests).toHaveLength(0);
  });
});
