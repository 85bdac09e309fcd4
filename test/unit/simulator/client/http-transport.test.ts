import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpTransport, type DmTransport, type HttpTransportOptions } from '../../../../src/simulator/http-transport.js';

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A transport for one test, closed after it whatever the outcome. */
async function withTransport(opts: HttpTransportOptions, use: (t: DmTransport) => Promise<void>): Promise<void> {
  const t = createHttpTransport(opts);
  try {
    await use(t);
  } finally {
    t.close();
  }
}

describe('the simulator HTTP transport', () => {
  const seen: Seen[] = [];
  let base = '';
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      if (req.url === '/silent') return;
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/vnd.syncml.dm+xml' });
        res.end(Buffer.alloc(2048, 'x'));
        return;
      }
      res.setHeader('X-Syncml-Hmac', 'algorithm=MD5, username="s", mac=m');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.writeHead(201, { 'Content-Type': 'application/vnd.syncml.dm+xml' });
      res.end(Buffer.concat([Buffer.from('echo:'), Buffer.concat(chunks)]));
    });
  });

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('posts the body and headers as given and answers status, lower-cased headers and body', () =>
    withTransport({}, async (t) => {
      const body = Buffer.from('<SyncML/>');
      const res = await t.post(`${base}/dm?s=00AB&x=1`, body, { 'content-type': 'application/vnd.syncml.dm+xml', accept: 'application/vnd.syncml.dm+xml' });
      expect(res.status).toBe(201);
      expect(res.body.toString()).toBe('echo:<SyncML/>');
      expect(res.headers['content-type']).toBe('application/vnd.syncml.dm+xml');
      expect(res.headers['x-syncml-hmac']).toBe('algorithm=MD5, username="s", mac=m');
      expect(res.headers['set-cookie']).toBe('a=1, b=2');
      const got = seen.at(-1)!;
      expect(got).toMatchObject({ method: 'POST', url: '/dm?s=00AB&x=1' });
      expect(got.headers['content-length']).toBe(String(body.length));
      expect(got.headers.accept).toBe('application/vnd.syncml.dm+xml');
      expect(got.body.equals(body)).toBe(true);
    }));

  it('sends a URL WHATWG would normalise in its normalised form', () =>
    withTransport({}, async (t) => {
      await t.post(`${base}/a/../dm/./x`, Buffer.from('x'), {});
      expect(seen.at(-1)?.url).toBe('/dm/x');
    }));

  it('refuses an answer above the size cap, and a URL that is not http(s)', () =>
    withTransport({ maxResponseBytes: 1024 }, async (t) => {
      await expect(t.post(`${base}/big`, Buffer.from('x'), {})).rejects.toThrow('answer larger than 1024 bytes');
      await expect(t.post('ftp://127.0.0.1/dm', Buffer.from('x'), {})).rejects.toThrow(TypeError);
    }));

  it('gives up on a server that does not answer', () =>
    withTransport({ timeoutMs: 200 }, async (t) => {
      await expect(t.post(`${base}/silent`, Buffer.from('x'), {})).rejects.toThrow('no answer within 200 ms');
    }));
});
