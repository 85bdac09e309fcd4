/**
 * The baseline for the DM endpoint: a bare `node:http` server that reads each
 * POST body to the end and answers it with fixed bytes (a reply the gateway
 * gave to a steady-state DM message) and the gateway's content type. No
 * framework, no parsing, no session, no Redis: what Node's HTTP layer alone
 * costs on this box.
 * Usage: node dist/bench/bare-dm-server.js <port> <reply-file> <content-type>
 */
import fs from 'node:fs';
import http from 'node:http';

const [portArg, file, contentType] = process.argv.slice(2);
if (!portArg || !file || !contentType) {
  process.stderr.write('usage: bare-dm-server <port> <reply-file> <content-type>\n');
  process.exit(2);
}
const reply = fs.readFileSync(file);
const headers = { 'content-type': contentType, 'content-length': String(reply.length) };

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  // Read the whole body, as the gateway must before it can answer.
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(reply);
  });
});
// The same keep-alive timeout as the gateway's server (src/main/gateway.ts).
server.keepAliveTimeout = 65_000;
server.listen(Number(portArg), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
