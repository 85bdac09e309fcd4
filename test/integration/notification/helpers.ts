/** Shared fixtures for the notification sender tests: triggers and a recording HTTP server. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildTrigger, type TriggerInput } from '../../../src/dm/notification/package0.js';

export function trigger(overrides: Partial<TriggerInput> = {}): Buffer {
  return buildTrigger({
    uiMode: 'background',
    initiator: 'server',
    sessionId: 0x1a,
    serverId: 'dmwsi-gateway',
    serverDigestSecret: { serverId: 'dmwsi-gateway', password: 'server-secret' },
    nonce: Buffer.from('nonce-1'),
    ...overrides,
  });
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface RecordingServer {
  /** Base URL, no trailing slash. */
  url: string;
  requests: RecordedRequest[];
  /** TCP connections accepted: shows keep-alive reuse. */
  connections: number;
  close(): Promise<void>;
}

/** A real HTTP server on an ephemeral port; `handler` answers the n-th request (0-based). */
export async function recordingServer(
  handler: (req: RecordedRequest, res: ServerResponse, n: number) => void,
): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const state = { connections: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(r);
      handler(r, res, requests.length - 1);
    });
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
