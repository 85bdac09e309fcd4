/** The device's DM transport over Node http/https (one instance shared by a fleet). */
import http from 'node:http';
import https from 'node:https';

export interface HttpResponse {
  status: number;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface DmTransport {
  post(url: string, body: Buffer, headers: Record<string, string>): Promise<HttpResponse>;
}

export interface HttpTransportOptions {
  /** Per origin; default 256. */
  maxSockets?: number;
  timeoutMs?: number;
  /** Largest answer accepted; default 8 MiB. */
  maxResponseBytes?: number;
}

/** Node http/https with keep-alive agents; one instance is meant to be shared. */
export function createHttpTransport(opts: HttpTransportOptions = {}): DmTransport & { close(): void } {
  const maxSockets = opts.maxSockets ?? 256;
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxBytes = opts.maxResponseBytes ?? 8 * 1024 * 1024;
  return {
    post(url, body, headers) {
      return new Promise<HttpResponse>((resolve, reject) => {
        const u = new URL(url);
        const secure = u.protocol === 'https:';
        const req = (secure ? https : http).request(
          u,
          {
            method: 'POST',
            agent: secure ? httpsAgent : httpAgent,
            headers: { ...headers, 'content-length': String(body.length) },
            timeout: timeoutMs,
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (chunk: Buffer) => {
              size += chunk.length;
              if (size > maxBytes) req.destroy(new Error(`answer larger than ${maxBytes} bytes`));
              else chunks.push(chunk);
            });
            res.on('error', reject);
            res.on('end', () => {
              const out: Record<string, string> = {};
              for (const [name, value] of Object.entries(res.headers)) {
                if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
              }
              resolve({ status: res.statusCode ?? 0, headers: out, body: Buffer.concat(chunks) });
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end(body);
      });
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
