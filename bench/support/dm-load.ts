/**
 * The client side of the DM benchmark: a DmTransport that times every POST
 * and can be pointed at another origin, and a closed-loop load of
 * client-initiated sessions over a fleet's devices.
 *
 * One transport instance serves the gateway's and the bare server's windows
 * alike: the same keep-alive agent settings, the same per-message work in
 * the devices; only the origin the bytes go to changes.
 */
import type { Fleet } from '../../src/simulator/fleet.js';
import { createHttpTransport, type DmTransport, type HttpResponse } from '../../src/simulator/simulated-device.js';

export interface CapturedExchange {
  url: string;
  requestHeaders: Record<string, string>;
  requestBody: Buffer;
  response: HttpResponse;
}

/** A timed, redirectable transport over one keep-alive agent (`maxSockets` per origin). */
export class BenchTransport implements DmTransport {
  /** When set, every POST goes to this origin (e.g. http://127.0.0.1:40123) instead of the URL's own. */
  origin: string | undefined;
  /** Messages answered (any status) since the last `reset`. */
  messages = 0;
  /** Messages answered with a non-2xx status, or not answered at all. */
  failures = 0;
  /** Called with every exchange while set (to capture representative bytes). */
  onExchange: ((x: CapturedExchange) => void) | undefined;
  private latencies: number[] = [];
  private readonly inner: DmTransport & { close(): void };

  constructor(maxSockets: number) {
    this.inner = createHttpTransport({ maxSockets });
  }

  async post(url: string, body: Buffer, headers: Record<string, string>): Promise<HttpResponse> {
    let target = url;
    if (this.origin !== undefined) {
      const u = new URL(url);
      target = this.origin + u.pathname + u.search;
    }
    const started = performance.now();
    let res: HttpResponse;
    try {
      res = await this.inner.post(target, body, headers);
    } catch (err) {
      this.failures++;
      throw err;
    }
    this.latencies.push(performance.now() - started);
    this.messages++;
    if (res.status < 200 || res.status > 299) this.failures++;
    this.onExchange?.({ url, requestHeaders: headers, requestBody: body, response: res });
    return res;
  }

  /** Forgets the counts and latencies so far. */
  reset(): void {
    this.messages = 0;
    this.failures = 0;
    this.latencies = [];
  }

  /** The message latencies (ms) since `reset`; starts a new list. */
  takeLatencies(): number[] {
    const taken = this.latencies;
    this.latencies = [];
    return taken;
  }

  close(): void {
    this.inner.close();
  }
}

export interface SessionLoadOptions {
  /** Sessions kept in flight (each on its own device). */
  concurrency: number;
  /** Measured time. */
  durationMs: number;
  /** Load run before the measured window starts, not counted. */
  leadInMs?: number;
  /** CPU seconds the server under load has used so far (read at the window's start and end). */
  serverCpuSeconds?: () => Promise<number | undefined>;
}

/** What one measured window saw. */
export interface LoadWindow {
  seconds: number;
  sessions: number;
  sessionsFailed: number;
  messages: number;
  messageFailures: number;
  /** ms per message answered inside the window. */
  latencies: number[];
  /** The first failure's description, if any. */
  firstError: string | undefined;
  /** CPU the server used in the window (when `serverCpuSeconds` was given). */
  serverCpuSeconds?: number;
  /** CPU this process (the client) used in the window. */
  clientCpuSeconds: number;
}

export interface SessionLoadResult {
  windows: number;
  seconds: number;
  sessions: number;
  sessionsFailed: number;
  messages: number;
  messageFailures: number;
  sessionsPerSecond: number;
  messagesPerSecond: number;
  messagesPerSession: number;
  p50Ms: number;
  p99Ms: number;
  firstError: string | undefined;
  /** µs of the server's CPU per message answered (undefined when not read). */
  serverCpuUsPerMessage: number | undefined;
  /** µs of the client's (this process's) CPU per message. */
  clientCpuUsPerMessage: number;
}

/**
 * Closed loop: `concurrency` workers each run one client-initiated session
 * after another, taking the fleet's devices round-robin (so with more
 * devices than workers no device is asked for two sessions at once). Counts
 * what completes inside the measured window; the sessions still running at
 * its end finish but are not counted.
 */
export async function runSessionLoad(fleet: Fleet, transport: BenchTransport, o: SessionLoadOptions): Promise<LoadWindow> {
  const devices = fleet.devices;
  if (devices.length < o.concurrency * 2) {
    throw new RangeError(`need at least twice as many devices (${devices.length}) as concurrent sessions (${o.concurrency})`);
  }
  let next = Math.floor(Math.random() * devices.length);
  let measuring = false;
  let stop = false;
  let sessions = 0;
  let sessionsFailed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (!stop) {
      const device = devices[next++ % devices.length]!;
      const report = await device.runSession();
      if (!measuring || stop) continue;
      sessions++;
      if (report.outcome !== 'ok') {
        sessionsFailed++;
        firstError ??= `${device.devId}: ${report.outcome}${report.error ? ` (${report.error})` : ''}`;
      }
    }
  };
  const workers = Array.from({ length: o.concurrency }, worker);
  await new Promise((r) => setTimeout(r, o.leadInMs ?? 0));
  transport.reset();
  const serverCpuAtStart = await o.serverCpuSeconds?.();
  const clientCpuAtStart = process.cpuUsage();
  measuring = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, o.durationMs));
  // Read the counters at the end of the window, before the stragglers finish.
  const seconds = (performance.now() - started) / 1000;
  const clientCpu = process.cpuUsage(clientCpuAtStart);
  const serverCpuAtEnd = await o.serverCpuSeconds?.();
  stop = true;
  const window: LoadWindow = {
    ...(serverCpuAtStart !== undefined && serverCpuAtEnd !== undefined ? { serverCpuSeconds: serverCpuAtEnd - serverCpuAtStart } : {}),
    clientCpuSeconds: (clientCpu.user + clientCpu.system) / 1e6,
    seconds,
    sessions,
    sessionsFailed,
    messages: transport.messages,
    messageFailures: transport.failures,
    latencies: transport.takeLatencies(),
    firstError,
  };
  await Promise.all(workers);
  return window;
}

/** Totals and latency quantiles over several windows of the same target. */
export function summarise(windows: readonly LoadWindow[]): SessionLoadResult {
  let seconds = 0;
  let sessions = 0;
  let sessionsFailed = 0;
  let messages = 0;
  let messageFailures = 0;
  let firstError: string | undefined;
  let serverCpu: number | undefined = 0;
  let clientCpu = 0;
  for (const w of windows) {
    serverCpu = serverCpu === undefined || w.serverCpuSeconds === undefined ? undefined : serverCpu + w.serverCpuSeconds;
    clientCpu += w.clientCpuSeconds;
    seconds += w.seconds;
    sessions += w.sessions;
    sessionsFailed += w.sessionsFailed;
    messages += w.messages;
    messageFailures += w.messageFailures;
    firstError ??= w.firstError;
  }
  const sorted = Float64Array.from(windows.flatMap((w) => w.latencies)).sort();
  const q = (p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
  return {
    windows: windows.length,
    seconds,
    sessions,
    sessionsFailed,
    messages,
    messageFailures,
    sessionsPerSecond: sessions / seconds,
    messagesPerSecond: messages / seconds,
    messagesPerSession: sessions > 0 ? messages / sessions : Number.NaN,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    firstError,
    serverCpuUsPerMessage: serverCpu === undefined || messages === 0 ? undefined : (serverCpu * 1e6) / messages,
    clientCpuUsPerMessage: messages === 0 ? Number.NaN : (clientCpu * 1e6) / messages,
  };
}

/**
 * Remembers every device's CLCRED nonce (the one its next Cred is computed
 * on) and returns a function that puts them back: a window against a server
 * answering fixed bytes hands every device that reply's NextNonce, which the
 * gateway never issued to it.
 */
export function saveClientNonces(fleet: Fleet): () => void {
  const saved = fleet.devices.map((d) => d.account.clientNonce);
  return () => {
    for (const [i, d] of fleet.devices.entries()) d.account.clientNonce = saved[i]!;
  };
}

/**
 * Runs one session on every device, `concurrency` at a time; throws unless
 * all of them end 'ok'. Returns the messages it took.
 */
export async function runEveryDeviceOnce(fleet: Fleet, transport: BenchTransport, concurrency: number): Promise<number> {
  const before = transport.messages;
  let next = 0;
  const failures: string[] = [];
  const worker = async () => {
    for (let i = next++; i < fleet.devices.length; i = next++) {
      const device = fleet.devices[i]!;
      const report = await device.runSession();
      if (report.outcome !== 'ok') failures.push(`${device.devId}: ${report.outcome} ${report.error ?? ''}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failures.length > 0) throw new Error(`${failures.length} warm-up sessions failed, e.g. ${failures[0]}`);
  return transport.messages - before;
}
