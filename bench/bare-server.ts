/**
 * The baseline for SOAP throughput: a bare express route answering the same
 * response bytes the gateway would, with no SOAP work at all.
 * Usage: node dist/bench/bare-server.js <port> <response-file>
 */
import fs from 'node:fs';
import express from 'express';

const [portArg, file] = process.argv.slice(2);
const body = fs.readFileSync(file!);
const app = express();
app.get('/healthz', (_req, res) => {
  res.send('ok');
});
app.post('/bare', express.raw({ type: () => true, limit: '1mb' }), (_req, res) => {
  res.status(200).type('text/xml; charset=utf-8').send(body);
});
app.listen(Number(portArg), '127.0.0.1');
