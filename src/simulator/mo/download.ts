/**
 * Streams a package over HTTP(S) into a sink (the verifier), resuming an
 * interrupted transfer with `Range: bytes=N-`. Nothing is buffered beyond a
 * chunk, so 100,000 simultaneous downloads cost their sockets and hashes only.
 */
import http from 'node:http';
import https from 'node:https';

export interface DownloadSink {
  /** Bytes taken so far: where a resume starts. */
  readonly received: number;
  /** Total bytes, once known (a simulated interruption needs a middle to drop at). */
  readonly expected: number | undefined;
  update(chunk: Buffer): void;
}

export interface DownloadOptions {
  /** Simulated interruption: drop the connection at this fraction (0..1) of the package, then resume. */
  interruptAt?: number;
  /** Simulated network failure: drop the connection for good at this fraction of the package. */
  failAt?: number;
  /** Resumes after a real or simulated interruption (default 3). */
  maxResumes?: number;
  /** No data for this long fails the attempt (default 30 s). */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export type DownloadFailure =
  | { reason: 'bad-url' }
  | { reason: 'http'; status: number }
  | { reason: 'network'; detail: string };

export type DownloadOutcome = ({ ok: true } | ({ ok: false } & DownloadFailure)) & {
  /** Bytes received over the wire (all attempts). */
  bytes: number;
  resumes: number;
};

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 1024 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 1024 }),
};

type Attempt = { kind: 'done' } | { kind: 'interrupted'; detail: string } | ({ kind: 'failed' } & DownloadFailure);

export async function downloadPackage(url: string, sink: DownloadSink, opts: DownloadOptions = {}): Promise<DownloadOutcome> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { ok: false, reason: 'bad-url', bytes: 0, resumes: 0 };
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return { ok: false, reason: 'bad-url', bytes: 0, resumes: 0 };
  const maxResumes = opts.maxResumes ?? 3;
  let bytes = 0;
  let resumes = 0;
  let interruptPending = opts.interruptAt !== undefined;
  const reached = (fraction: number) =>
    sink.expected !== undefined && sink.received >= sink.expected * fraction && sink.received < sink.expected;
  for (;;) {
    const attempt = await new Promise<Attempt>((resolve) => {
      const offset = sink.received;
      let skip = 0;
      let settled = false;
      const settle = (a: Attempt) => {
        if (!settled) {
          settled = true;
          resolve(a);
        }
      };
      const secure = target.protocol === 'https:';
      const req = (secure ? https : http).get(
        target,
        {
          agent: secure ? agents.https : agents.http,
          headers: { ...opts.headers, ...(offset > 0 && { range: `bytes=${offset}-` }) },
          timeout: opts.timeoutMs ?? 30_000,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status === 200 && offset > 0) skip = offset; // Range ignored: skip what we hold.
          else if (status === 206 && offset > 0) {
            const start = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '')?.[1];
            if (Number(start) !== offset) {
              res.resume();
              settle({ kind: 'failed', reason: 'http', status });
              return;
            }
          } else if (status !== 200) {
            res.resume();
            settle({ kind: 'failed', reason: 'http', status });
            return;
          }
          res.on('data', (chunk: Buffer) => {
            if (settled) return;
            bytes += chunk.length;
            if (skip > 0) {
              const n = Math.min(skip, chunk.length);
              skip -= n;
              chunk = chunk.subarray(n);
            }
            if (chunk.length > 0) sink.update(chunk);
            if (opts.failAt !== undefined && reached(opts.failAt)) {
              settle({ kind: 'failed', reason: 'network', detail: 'connection lost (simulated)' });
              req.destroy();
            } else if (interruptPending && reached(opts.interruptAt ?? 0)) {
              interruptPending = false;
              settle({ kind: 'interrupted', detail: 'connection dropped (simulated)' });
              req.destroy();
            }
          });
          res.on('end', () => {
            // A package that came in one chunk never had a middle to fail at: fail at its end.
            if (opts.failAt !== undefined) settle({ kind: 'failed', reason: 'network', detail: 'connection lost (simulated)' });
            settle(res.complete ? { kind: 'done' } : { kind: 'interrupted', detail: 'incomplete answer' });
          });
          res.on('error', (err) => settle({ kind: 'interrupted', detail: err.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('download timed out')));
      req.on('error', (err) => settle({ kind: 'interrupted', detail: err.message }));
    });
    if (attempt.kind === 'done') return { ok: true, bytes, resumes };
    if (attempt.kind === 'failed') {
      const { kind: _kind, ...failure } = attempt;
      return { ok: false, ...failure, bytes, resumes };
    }
    if (resumes >= maxResumes) return { ok: false, reason: 'network', detail: attempt.detail, bytes, resumes };
    resumes++;
  }
}
