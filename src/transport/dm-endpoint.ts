/**
 * The HTTP endpoint devices call: `POST /dm` starts or continues a session,
 * `POST /dm/s/<token>` is the RespURI the server hands out. Reads the body
 * under a size cap and hands it to the DM server; nothing else.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { DmServer } from '../dm/server/dm-server.js';

export interface DmEndpointDeps {
  server: DmServer;
  logger: Logger;
  maxBodyBytes: number;
  /** Counts DM messages by outcome (HTTP status). */
  observe?: (status: number, seconds: number) => void;
}

const TOKEN = /^[A-Za-z0-9_-]{16,64}$/;

export function dmEndpoint(deps: DmEndpointDeps): Router {
  const router = express.Router();
  const body = express.raw({ type: () => true, limit: deps.maxBodyBytes, inflate: true });

  const handle = async (req: Request, res: Response) => {
    const started = performance.now();
    const raw = req.params.token;
    const token = typeof raw === 'string' ? raw : undefined;
    if (raw !== undefined && (token === undefined || !TOKEN.test(token))) {
      res.status(404).type('text/plain').send('unknown session\n');
      return;
    }
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
      res.status(400).type('text/plain').send('empty DM message\n');
      return;
    }
    try {
      const out = await deps.server.handle({
        body: req.body,
        contentType: req.get('content-type') ?? '',
        ...(req.get('x-syncml-hmac') ? { hmacHeader: req.get('x-syncml-hmac') } : {}),
        ...(token ? { token } : {}),
      });
      // Written directly: express would add a charset to the binary WBXML type.
      res.writeHead(out.status, { ...out.headers, 'content-type': out.contentType, 'content-length': out.body.length });
      res.end(out.body);
      deps.observe?.(out.status, (performance.now() - started) / 1000);
    } catch (err) {
      deps.logger.error({ err }, 'DM message failed');
      res.status(500).type('text/plain').send('internal error\n');
      deps.observe?.(500, (performance.now() - started) / 1000);
    }
  };

  router.post('/dm', body, handle);
  router.post('/dm/s/:token', body, handle);
  router.use(['/dm', '/dm/s/:token'], (err: { type?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    if (err.type === 'entity.too.large') res.status(413).type('text/plain').send('DM message too large\n');
    else res.status(400).type('text/plain').send('unreadable DM message body\n');
  });
  return router;
}
