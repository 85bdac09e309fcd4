/**
 * An OSS system's webhook endpoint for tests: a real HTTP server that checks
 * the signature of every POST it gets (raw body, HMAC-SHA256 under the
 * secret) and keeps what it received. `answer` chooses the reply per POST: a
 * status, or 'hold' (never answer: the sender is mid-delivery).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  id: string;
  type: string;
  at: string;
  data: Record<string, unknown>;
  /** The X-Dmwsi-Event-Id header. */
  eventIdHeader: string | undefined;
  signatureOk: boolean;
  contentType: string | undefined;
  /** What this POST was answered with. */
  answered: number | 'hold';
}

export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** POSTs whose signature did not verify. */
  badSignatures: () => Received[];
  ofType(type: string): Received[];
  /** Distinct event ids received. */
  ids(): Set<string>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(
  secret: string,
  answer: (event: Omit<Received, 'answered'>, n: number) => number | 'hold' = () => 200,
): Promise<WebhookReceiver> {
  const received: Received[] = [];
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const expected = `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
      const parsed = JSON.parse(body.toString()) as { id: string; type: string; at: string; data: Record<string, unknown> };
      const event = {
        ...parsed,
        eventIdHeader: req.headers['x-dmwsi-event-id'] as string | undefined,
        signatureOk: req.headers['x-dmwsi-signature'] === expected,
        contentType: req.headers['content-type'],
      };
      const reply = answer(event, received.length);
      received.push({ ...event, answered: reply });
      if (reply === 'hold') {
        held.push(res);
        return;
      }
      res.writeHead(reply, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/dmwsi`,
    received,
    badSignatures: () => received.filter((r) => !r.signatureOk),
    ofType: (type) => received.filter((r) => r.type === type),
    ids: () => new Set(received.map((r) => r.id)),
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
