/**
 * The baseline for package downloads: a bare node:http server streaming one
 * file with fs.createReadStream, single `bytes=a-b` ranges only, no token,
 * no lookup, no express.
 * Usage: node dist/bench/bare-file-server.js <port> <file>
 */
import fs from 'node:fs';
import http from 'node:http';

const [portArg, file] = process.argv.slice(2);
const size = fs.statSync(file!).size;

http
  .createServer((req, res) => {
    if (req.url === '/healthz') return void res.end('ok');
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    res.writeHead(m ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(end - start + 1),
      ...(m && { 'content-range': `bytes ${start}-${end}/${size}` }),
    });
    fs.createReadStream(file!, { start, end }).pipe(res);
  })
  .listen(Number(portArg), '127.0.0.1');

// A normal exit on SIGTERM, so that --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
