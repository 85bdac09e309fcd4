/**
 * Configuration: one declarative table, read once from the environment,
 * validated, and passed down. Nothing else in the code base reads process.env.
 */
import path from 'node:path';
import { queuePrefixProblem } from '../queue/redis-keys.js';
import { parseRedisUrl } from '../queue/redis-url.js';
import { AllowedNetworks } from '../security/allowed-networks.js';

export type Role = 'all' | 'api' | 'dm' | 'worker';

export interface Config {
  port: number;
  host: string;
  role: Role;
  /** undefined: no REDIS_URL given; the launcher decides (probe 6379, else start one). */
  redisUrl: string | undefined;
  databaseUrl: string;
  /** PostgreSQL schema (default: the connection's search_path). */
  databaseSchema: string | undefined;
  /** How long a starting process waits for an unreachable database before giving up. */
  databaseWaitSeconds: number;
  /** SQLITE_CACHE_MIB: SQLite's page cache (unused on PostgreSQL). */
  sqliteCacheMib: number;
  dataDir: string;
  adminUser: string;
  adminPassword: string | undefined;
  dmServerId: string;
  publicDmUrl: string;
  publicBaseUrl: string | undefined;
  smppUrl: string | undefined;
  /** Where HTTP notifications and bootstraps may connect to (NOTIFICATION_ALLOWED_NETWORKS); undefined: anywhere. */
  notificationAllowedNetworks: AllowedNetworks | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  secretKey: string | undefined;
  production: boolean;
  soapMaxBodyBytes: number;
  /** SOAP requests per second per caller (per process); 0: no limit. */
  soapRatePerCaller: number;
  dmMaxBodyBytes: number;
  /** DM messages opening a session (POST /dm) served at once per process; 0: no cap. */
  dmMaxInFlight: number;
  /** While the event loop runs later than this, opening DM messages beyond dmInFlightWhenLate are refused (503); 0: never. */
  dmMaxEventLoopLagMs: number;
  /** Opening DM messages served at once per process while the event loop runs late. */
  dmInFlightWhenLate: number;
  /** DM2_ALLOW_PLAIN_HTTP: serve /dm2 over plain HTTP (tests, labs); otherwise only over TLS. */
  dm2AllowPlainHttp: boolean;
  /** DM2_CLIENT_CA: CA (PEM file) of DM 2.0 device certificates; set, HTTPS asks clients for one. */
  dm2ClientCa: string | undefined;
  /** DM2_PSK: accept PSK-TLS from DM 2.0 devices (identity = device id, key derived per device). */
  dm2Psk: boolean;
  userSessionTtlSeconds: number;
  /** How long a task waits for its device before it is EXPIRED. */
  taskDeadlineSeconds: number;
  /** How long after AtTime a SCHEDULED task waits for the device's report. */
  reportGraceSeconds: number;
  /** How long an IN_PROGRESS task waits for its long operation's final alert before it is EXPIRED. */
  longOperationSeconds: number;
  /** A task waiting for its device with no progress this long has its device woken again (then less and less often). */
  taskRetrySeconds: number;
  /**
   * The longest a waiting task goes between wakes of its device (TASK_RETRY_MAX_SECONDS; unset: 12 ×
   * taskRetrySeconds): the wait doubles with the task's age, and a device missed early in a long
   * rollout would otherwise wait as long again as the rollout has run.
   */
  taskRetryMaxSeconds?: number;
  workerConcurrency: number;
  /** Devices of the registry a chunk of a filter job's task writing walks (one transaction each). */
  expansionChunkDevices: number;
  /** How long createDeployments by filter writes tasks itself before it answers (the worker writes the rest). */
  expansionCallSeconds: number;
  /** How long an idle DM session's state is kept in Redis. */
  dmSessionTtlSeconds: number;
  /** Open DM sessions allowed at once, cluster-wide; a new one beyond it is refused (503). 0: no cap. */
  dmMaxSessions: number;
  wsSecurityMaxSkewSeconds: number;
  /** argon2 hashes/verifications at once per process; one more is refused with Overloaded. */
  passwordHashConcurrency: number;
  queuePrefix: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Where uploaded packages are kept (CONTENT_DIR, default DATA_DIR/content); shared by every process that serves HTTP. */
  contentDir: string;
  /** The largest package an upload may carry. */
  contentMaxBytes: number;
  /** Tries per webhook delivery, the first included. */
  webhookAttempts: number;
  /** Backoff before a delivery's first retry, doubling after each. */
  webhookRetryMs: number;
  /** Per delivery POST, connect to answer. */
  webhookTimeoutSeconds: number;
  /** How often a worker reads new task and job history for webhook events. */
  webhookPollMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    // One problem, one line; several, one line each.
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration:\n  - ${problems.join('\n  - ')}`,
    );
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

interface Reader {
  problems: string[];
  env: Env;
}

function str(r: Reader, name: string, fallback: string): string {
  const v = r.env[name];
  return v === undefined || v === '' ? fallback : v;
}

function optional(r: Reader, name: string): string | undefined {
  const v = r.env[name];
  return v === undefined || v === '' ? undefined : v;
}

function int(r: Reader, name: string, fallback: number, min: number, max: number): number {
  const raw = r.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    r.problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    return fallback;
  }
  const n = Number(raw.trim());
  if (n < min || n > max) r.problems.push(`${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(r: Reader, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = r.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    r.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
    return fallback;
  }
  return raw as T;
}

function url(r: Reader, name: string, value: string | undefined, protocols: string[]): void {
  if (value === undefined) return;
  try {
    const u = new URL(value);
    if (!protocols.includes(u.protocol)) {
      r.problems.push(`${name} must use ${protocols.join(' or ')}, got "${u.protocol}"`);
    }
  } catch {
    r.problems.push(`${name} is not a valid URL: "${value}"`);
  }
}

/**
 * What the configuration is for: `serve` runs the gateway, which in production
 * must be told where Redis and its public DM address are (it starts no private
 * Redis there, and devices cannot reach 127.0.0.1); `tool` is everything else
 * (migrate, user add), which needs neither.
 */
export type ConfigPurpose = 'serve' | 'tool';

function networks(r: Reader, name: string): AllowedNetworks | undefined {
  const raw = optional(r, name);
  if (raw === undefined) return undefined;
  const parsed = AllowedNetworks.parse(raw);
  if (parsed instanceof AllowedNetworks) return parsed;
  for (const p of parsed.problems) r.problems.push(`${name}: ${p}`);
  return undefined;
}

function queuePrefix(r: Reader): string {
  const prefix = str(r, 'QUEUE_PREFIX', 'dmwsi');
  const problem = queuePrefixProblem(prefix);
  if (problem) r.problems.push(`QUEUE_PREFIX ${problem}`);
  return prefix;
}

/** Reads and validates the whole configuration; throws ConfigError listing every problem. */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}, purpose: ConfigPurpose = 'tool'): Config {
  const r: Reader = { problems: [], env };
  const dataDir = path.resolve(str(r, 'DATA_DIR', './data'));
  const port = int(r, 'PORT', 8080, 0, 65535);
  const host = str(r, 'HOST', '0.0.0.0');
  const redisUrl = optional(r, 'REDIS_URL');
  if (redisUrl !== undefined) {
    const target = parseRedisUrl(redisUrl);
    if ('problem' in target) r.problems.push(`REDIS_URL ${target.problem}`);
  }
  const databaseUrl = str(r, 'DATABASE_URL', `sqlite:${path.join(dataDir, 'dmwsi.sqlite')}`);
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(databaseUrl)) {
    r.problems.push(`DATABASE_URL must start with sqlite: or postgres://, got "${databaseUrl}"`);
  }
  const production = str(r, 'NODE_ENV', 'development') === 'production';
  const publicDmUrl = str(r, 'PUBLIC_DM_URL', `http://127.0.0.1:${port}/dm`);
  url(r, 'PUBLIC_DM_URL', publicDmUrl, ['http:', 'https:']);
  const publicBaseUrl = optional(r, 'PUBLIC_BASE_URL');
  url(r, 'PUBLIC_BASE_URL', publicBaseUrl, ['http:', 'https:']);
  const smppUrl = optional(r, 'SMPP_URL');
  url(r, 'SMPP_URL', smppUrl, ['smpp:', 'ssmpp:']);
  const notificationAllowedNetworks = networks(r, 'NOTIFICATION_ALLOWED_NETWORKS');
  const tlsCert = optional(r, 'TLS_CERT');
  const tlsKey = optional(r, 'TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    r.problems.push('TLS_CERT and TLS_KEY must be given together');
  }
  const secretKey = optional(r, 'DMWSI_SECRET_KEY');
  if (secretKey !== undefined && !/^[0-9a-fA-F]{64}$/.test(secretKey)) {
    r.problems.push('DMWSI_SECRET_KEY must be 64 hex digits (a 256-bit key)');
  }
  if (production && secretKey === undefined) {
    r.problems.push('DMWSI_SECRET_KEY is required when NODE_ENV=production (it encrypts secrets at rest)');
  }
  if (production && purpose === 'serve') {
    const missing = ['REDIS_URL', 'PUBLIC_DM_URL'].filter((name) => optional(r, name) === undefined);
    if (missing.length > 0) {
      r.problems.push(
        `NODE_ENV=production: serve requires ${missing.join(' and ')} (production starts no private Redis and has no default public DM address)`,
      );
    }
  }
  const adminPassword = optional(r, 'DMWSI_ADMIN_PASSWORD');
  if (adminPassword !== undefined && adminPassword.length < 8) {
    r.problems.push('DMWSI_ADMIN_PASSWORD must have at least 8 characters');
  }
  const config: Config = {
    port,
    host,
    role: oneOf<Role>(r, 'DMWSI_ROLE', 'all', ['all', 'api', 'dm', 'worker']),
    redisUrl,
    databaseUrl,
    databaseSchema: optional(r, 'DATABASE_SCHEMA'),
    dataDir,
    adminUser: str(r, 'DMWSI_ADMIN_USER', 'admin'),
    adminPassword,
    dmServerId: str(r, 'DM_SERVER_ID', 'dmwsi-gateway'),
    publicDmUrl,
    publicBaseUrl,
    smppUrl,
    notificationAllowedNetworks,
    tlsCert,
    tlsKey,
    secretKey,
    production,
    soapMaxBodyBytes: int(r, 'SOAP_MAX_BODY_BYTES', 32 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    dmMaxBodyBytes: int(r, 'DM_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    dmMaxInFlight: int(r, 'DM_MAX_IN_FLIGHT', 1000, 0, 1_000_000),
    dmMaxEventLoopLagMs: int(r, 'DM_MAX_EVENT_LOOP_LAG_MS', 200, 0, 60_000),
    dmInFlightWhenLate: int(r, 'DM_IN_FLIGHT_WHEN_LATE', 64, 0, 1_000_000),
    dm2AllowPlainHttp: oneOf(r, 'DM2_ALLOW_PLAIN_HTTP', 'false', ['true', 'false']) === 'true',
    dm2ClientCa: optional(r, 'DM2_CLIENT_CA'),
    dm2Psk: oneOf(r, 'DM2_PSK', 'false', ['true', 'false']) === 'true',
    soapRatePerCaller: int(r, 'SOAP_RATE_PER_CALLER', 5000, 0, 1_000_000),
    userSessionTtlSeconds: int(r, 'USER_SESSION_TTL_SECONDS', 3600, 60, 7 * 24 * 3600),
    dmSessionTtlSeconds: int(r, 'DM_SESSION_TTL_SECONDS', 300, 10, 24 * 3600),
    dmMaxSessions: int(r, 'DM_MAX_SESSIONS', 10_000, 0, 10_000_000),
    taskDeadlineSeconds: int(r, 'TASK_DEADLINE_SECONDS', 24 * 3600, 10, 90 * 24 * 3600),
    reportGraceSeconds: int(r, 'REPORT_GRACE_SECONDS', 24 * 3600, 10, 90 * 24 * 3600),
    longOperationSeconds: int(r, 'LONG_OPERATION_SECONDS', 24 * 3600, 5, 90 * 24 * 3600),
    taskRetrySeconds: int(r, 'TASK_RETRY_SECONDS', 300, 5, 24 * 3600),
    ...(r.env.TASK_RETRY_MAX_SECONDS ? { taskRetryMaxSeconds: int(r, 'TASK_RETRY_MAX_SECONDS', 3600, 5, 30 * 24 * 3600) } : {}),
    databaseWaitSeconds: int(r, 'DATABASE_WAIT_SECONDS', 120, 0, 24 * 3600),
    sqliteCacheMib: int(r, 'SQLITE_CACHE_MIB', 128, 2, 64 * 1024),
    workerConcurrency: int(r, 'WORKER_CONCURRENCY', 32, 1, 1000),
    expansionChunkDevices: int(r, 'EXPANSION_CHUNK_DEVICES', 10_000, 100, 1_000_000),
    expansionCallSeconds: int(r, 'EXPANSION_CALL_SECONDS', 20, 0, 3600),
    wsSecurityMaxSkewSeconds: int(r, 'WSSE_MAX_SKEW_SECONDS', 300, 10, 3600),
    // 4: the size of libuv's default thread pool, where argon2 runs; more would only queue there.
    passwordHashConcurrency: int(r, 'PASSWORD_HASH_CONCURRENCY', 4, 1, 256),
    queuePrefix: queuePrefix(r),
    logLevel: oneOf(r, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    contentDir: path.resolve(str(r, 'CONTENT_DIR', path.join(dataDir, 'content'))),
    contentMaxBytes: int(r, 'CONTENT_MAX_BYTES', 2 * 1024 ** 3, 1, 1024 ** 4),
    webhookAttempts: int(r, 'WEBHOOK_ATTEMPTS', 12, 1, 100),
    webhookRetryMs: int(r, 'WEBHOOK_RETRY_MS', 10_000, 10, 3_600_000),
    webhookTimeoutSeconds: int(r, 'WEBHOOK_TIMEOUT_SECONDS', 10, 1, 300),
    webhookPollMs: int(r, 'WEBHOOK_POLL_MS', 1000, 20, 60_000),
    ...overrides,
  };
  // The default DM URL follows the port finally chosen (overrides included).
  if (!env.PUBLIC_DM_URL && overrides.publicDmUrl === undefined) {
    config.publicDmUrl = `http://127.0.0.1:${config.port}/dm`;
  }
  // Likewise the default content directory follows the data directory finally chosen.
  if (!env.CONTENT_DIR && overrides.contentDir === undefined) config.contentDir = path.join(config.dataDir, 'content');
  if ((config.dm2Psk || config.dm2ClientCa !== undefined) && !(config.tlsCert && config.tlsKey)) {
    r.problems.push('DM2_PSK and DM2_CLIENT_CA are TLS features: they need TLS_CERT and TLS_KEY');
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
