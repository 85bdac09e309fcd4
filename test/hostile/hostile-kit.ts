/**
 * Shared machinery of the hostile-input suite (test/hostile/*.test.ts):
 * a raw HTTP client that never hides what the gateway answered, a logger
 * that keeps the gateway's error lines, byte-level mutations as fast-check
 * arbitraries, a real garbage collector for the memory figures, and
 * counters for the final report. Not a test file: vitest does not collect it.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { type Logger, pino } from 'pino';

// ---- run size -----------------------------------------------------------------

/**
 * `HOSTILE_SEED` replays another seed; `HOSTILE_SCALE` multiplies the number of
 * runs (e.g. 0.1 for a quick local pass, 10 for a long soak). CI uses neither.
 */
export function seedFrom(fallback: number): number {
  const raw = process.env.HOSTILE_SEED;
  return raw !== undefined && raw !== '' ? Number(raw) : fallback;
}

export function scaled(n: number): number {
  const raw = process.env.HOSTILE_SCALE;
  const k = raw !== undefined && raw !== '' ? Number(raw) : 1;
  return Math.max(1, Math.round(n * k));
}

// ---- HTTP -----------------------------------------------------------------------

export interface RawRequest {
  method?: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

/** Thrown when no HTTP answer arrives: the one outcome a hostile input must never cause. */
export class NoAnswer extends Error {
  override readonly name = 'NoAnswer';
}

/**
 * Plain node:http with a keep-alive pool: sends exactly the bytes and headers
 * given (no fetch normalisation), answers whatever status came back, and
 * turns a hang or a reset before the answer into NoAnswer.
 */
export function rawClient(baseUrl: string, opts: { maxSockets?: number; timeoutMs?: number } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 32 });
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const base = new URL(baseUrl);
  return {
    send(req: RawRequest): Promise<RawAnswer> {
      const started = performance.now();
      return new Promise((resolve, reject) => {
        let answered = false;
        const r = http.request(
          {
            host: base.hostname,
            port: base.port,
            method: req.method ?? 'POST',
            path: req.path,
            agent,
            headers: { ...req.headers, 'content-length': String(req.body.length) },
          },
          (res) => {
            answered = true;
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', (e) => reject(new NoAnswer(`answer body broke off: ${e.message}`)));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }),
            );
          },
        );
        r.setTimeout(timeoutMs, () => r.destroy(new NoAnswer(`no answer within ${timeoutMs} ms`)));
        r.on('error', (e) => {
          // The server may stop reading a refused body once it has answered.
          if (!answered) reject(e instanceof NoAnswer ? e : new NoAnswer(`${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`));
        });
        r.end(req.body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

// ---- logs -------------------------------------------------------------------------

export interface LogCapture {
  logger: Logger;
  /** Lines at level error or above (the first 5,000 kept whole). */
  errors: Record<string, unknown>[];
  errorCount: number;
  /** Lines by message, every level from warn up. */
  byMsg: Map<string, number>;
}

/** The message of the error a log line carries (pino's `err` serialisation). */
export function errMessage(line: Record<string, unknown>): string {
  return String((line.err as { message?: unknown } | undefined)?.message ?? '');
}

/** A pino logger at warn that keeps error lines and counts the rest. */
export function captureLogs(): LogCapture {
  const cap: LogCapture = { logger: undefined as unknown as Logger, errors: [], errorCount: 0, byMsg: new Map() };
  cap.logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk, _enc, cb) {
        for (const line of String(chunk).split('\n')) {
          if (!line) continue;
          const rec = JSON.parse(line) as Record<string, unknown>;
          const msg = String(rec.msg ?? '');
          cap.byMsg.set(msg, (cap.byMsg.get(msg) ?? 0) + 1);
          if (typeof rec.level === 'number' && rec.level >= 50) {
            cap.errorCount++;
            if (cap.errors.length < 5000) cap.errors.push(rec);
          }
        }
        cb();
      },
    }),
  );
  return cap;
}

// ---- memory -----------------------------------------------------------------------

/**
 * A real collector even though the worker was not started with --expose-gc:
 * the flag is set at run time and `gc` taken from a fresh context (V8 only
 * installs it in contexts created after the flag is set).
 */
export function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (() => void) | undefined;
  if (typeof gc !== 'function') throw new Error('could not obtain a garbage collector');
  return gc;
}

export interface MemoryFigure {
  heapUsedMiB: number;
  rssMiB: number;
  externalMiB: number;
}

const MiB = 1024 * 1024;

/** Heap after the event loop has drained and three full collections. */
export async function settledMemory(gc: () => void): Promise<MemoryFigure> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 150));
    gc();
  }
  const m = process.memoryUsage();
  return { heapUsedMiB: m.heapUsed / MiB, rssMiB: m.rss / MiB, externalMiB: (m.external + m.arrayBuffers) / MiB };
}

export const fmtMiB = (n: number) => `${n.toFixed(1)} MiB`;

// ---- counting ---------------------------------------------------------------------

export class Tally {
  readonly counts = new Map<string, number>();
  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }
  get total(): number {
    let t = 0;
    for (const v of this.counts.values()) t += v;
    return t;
  }
  table(): string {
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `  ${String(v).padStart(6)}  ${k}`)
      .join('\n');
  }
}

// ---- reproductions ----------------------------------------------------------------

const REPRO_DIR = path.join(os.tmpdir(), 'dmwsi-hostile-repro');

/** Writes a failing input to a file and returns its path (for the failure message). */
export function saveRepro(tag: string, req: RawRequest): string {
  fs.mkdirSync(REPRO_DIR, { recursive: true });
  const base = path.join(REPRO_DIR, `${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  fs.writeFileSync(`${base}.body`, req.body);
  fs.writeFileSync(`${base}.json`, JSON.stringify({ method: req.method ?? 'POST', path: req.path, headers: req.headers }, null, 2));
  return `${base}.body`;
}

export function preview(b: Buffer, n = 300): string {
  const s = b.subarray(0, n).toString('latin1').replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return b.length > n ? `${s}… (${b.length} bytes)` : s;
}

/** Stack-trace shapes that must never reach a client. */
export const STACK_TRACE = /\bat [\w.<>$]+ \(|node_modules|\.[cm]?[jt]s:\d+:\d+|Error: .*\n\s+at /;

// ---- XML text validity ----------------------------------------------------------------

/** Characters outside the XML 1.0 Char production (a lone surrogate included). */
const NOT_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export function firstNonXmlChar(s: string): number | undefined {
  const m = NOT_XML_CHAR.exec(s);
  return m ? (m[0].codePointAt(0) ?? 0) : undefined;
}

// ---- byte mutations ---------------------------------------------------------------------

/**
 * One edit of a byte string. Positions are fractions of the current length,
 * so a sequence of edits stays meaningful whatever the earlier ones did.
 */
export type ByteEdit =
  | { op: 'truncate'; at: number }
  | { op: 'flip'; at: number; mask: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'duplicate'; at: number; len: number; to: number }
  | { op: 'swap'; a: number; b: number; len: number };

const frac = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

export function byteEdit(dictionary: readonly Uint8Array[] = []): fc.Arbitrary<ByteEdit> {
  const insertBytes: fc.Arbitrary<Uint8Array> =
    dictionary.length > 0
      ? fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(...dictionary))
      : fc.uint8Array({ minLength: 1, maxLength: 8 });
  return fc.oneof(
    { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: frac }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('flip' as const), at: frac, mask: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('set' as const), at: frac, byte: fc.integer({ min: 0, max: 255 }) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('insert' as const), at: frac, bytes: insertBytes }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: frac, len: fc.integer({ min: 1, max: 64 }) }) },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: frac, len: fc.integer({ min: 1, max: 128 }), to: frac }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('swap' as const), a: frac, b: frac, len: fc.integer({ min: 1, max: 32 }) }) },
  );
}

export function applyEdits(input: Buffer, edits: readonly ByteEdit[]): Buffer {
  let b = Buffer.from(input);
  for (const e of edits) {
    const n = b.length;
    const pos = (f: number) => Math.min(n, Math.floor(f * (n + 1)));
    switch (e.op) {
      case 'truncate':
        b = b.subarray(0, pos(e.at));
        break;
      case 'flip':
        if (n > 0) b[Math.min(n - 1, pos(e.at))]! ^= e.mask;
        break;
      case 'set':
        if (n > 0) b[Math.min(n - 1, pos(e.at))] = e.byte;
        break;
      case 'insert': {
        const p = pos(e.at);
        b = Buffer.concat([b.subarray(0, p), Buffer.from(e.bytes), b.subarray(p)]);
        break;
      }
      case 'delete': {
        const p = pos(e.at);
        b = Buffer.concat([b.subarray(0, p), b.subarray(Math.min(n, p + e.len))]);
        break;
      }
      case 'duplicate': {
        const p = pos(e.at);
        const chunk = b.subarray(p, Math.min(n, p + e.len));
        const to = pos(e.to);
        b = Buffer.concat([b.subarray(0, to), chunk, b.subarray(to)]);
        break;
      }
      case 'swap': {
        const a = pos(e.a);
        const c = pos(e.b);
        const len = Math.min(e.len, n - Math.max(a, c));
        if (len > 0 && Math.abs(a - c) >= len) {
          const x = Buffer.from(b.subarray(a, a + len));
          b.copy(b, a, c, c + len);
          x.copy(b, c);
        }
        break;
      }
    }
  }
  return b;
}

/** Runs `fn` over `items` with at most `limit` in flight; returns results in order. */
export async function inPool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---- pathological runs ------------------------------------------------------------------

/**
 * The units whose long runs make a backtracking scanner quadratic or worse
 * (the SOAP pre-filter of issue 13 took 4.5 s on 80 KB of `<`): markup
 * openers, `=`, quotes, attributes, entity starts, namespace declarations.
 */
export const PATHOLOGICAL_UNITS = ['<', '=', '"', "'", ' a="b"', '<a ', '</', '&', '&#x', '<!--', '<?', '<![CDATA[', ' xmlns:p="u"', '/', ' ', '\r'] as const;

/** Every request carrying a pathological run must be answered within this (a linear scan of 1 MB takes milliseconds). */
export const PATHOLOGICAL_BUDGET_MS = 5_000;

/** A run of one pathological unit, 10 KB to `maxBytes` long (now and then the most). */
export function pathologicalRun(maxBytes: number): fc.Arbitrary<{ unit: string; text: string }> {
  const size = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 10_000, max: Math.min(100_000, maxBytes) }) }, { weight: 1, arbitrary: fc.integer({ min: 100_000, max: maxBytes }) });
  return fc.tuple(fc.constantFrom(...PATHOLOGICAL_UNITS), size).map(([unit, n]) => ({ unit, text: unit.repeat(Math.max(1, Math.floor(n / unit.length))) }));
}
