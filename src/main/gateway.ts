/**
 * Composition root: builds the gateway from a validated configuration and
 * starts it. `dmwsi serve` and the integration tests both start it this way.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { openDatabaseWhenReachable } from '../persistence/data-source.js';
import { TypeormTransactor } from '../persistence/transactor.js';
import { connectRedis, RedisSessionStore } from '../queue/redis.js';
import { hashPassword, verifyPassword } from '../security/password-hash.js';
import { loadSecretKey, randomSecret, SecretBox } from '../security/secret-box.js';
import { boundedPasswordHasher } from '../services/bounded-password-hasher.js';
import { CallerAuthService } from '../services/caller-auth.js';
import { DeviceManagerService } from '../services/device-manager.js';
import { type Clock, systemClock } from '../services/ports.js';
import { DeviceCommandService } from '../dm/server/device-commands.js';
import { DmServer } from '../dm/server/dm-server.js';
import { DmEventRouter } from '../dm/server/event-router.js';
import { DeviceNotifier } from '../dm/server/notifier.js';
import type { NotificationSender } from '../dm/server/ports.js';
import { RegistryDmDeviceDirectory } from '../persistence/dm-device-directory.js';
import { RedisDeviceRequestQueue } from '../queue/device-request-queue.js';
import { RedisDmSessionStore } from '../queue/dm-session-store.js';
import { dmEndpoint } from '../transport/dm-endpoint.js';
import { HttpNotificationSender } from '../transport/notification/http-sender.js';
import { createHttpApp } from '../transport/http-app.js';
import { RedisBrokerCache } from '../queue/broker-cache.js';
import { BullTaskJobs, startTaskWorker } from '../queue/task-jobs.js';
import { deliverBootstrap } from '../dm/bootstrap/delivery.js';
import { BootstrapService } from '../services/broker/bootstrap.js';
import { DeploymentBroker } from '../services/broker/deployment-broker.js';
import { BulkOperations } from '../services/bulk/bulk-operations.js';
import { JobDispatcher } from '../services/bulk/dispatcher.js';
import { startStallSweeper } from '../services/broker/stall-sweeper.js';
import { bulkOperationsHandlers, bulkRequestHandlers } from '../wsi/handlers/bulk-operations.js';
import { FUMO_FINAL_ALERT_TYPES, SCOMO_FINAL_TYPE } from '../services/broker/final-alerts.js';
import { EXEC_CORRELATOR_PREFIX, SSE_CORRELATOR_PREFIX, TASK_REQUEST_PREFIX } from '../services/broker/plan.js';
import { deploymentBrokerHandlers, taskManagementHandlers } from '../wsi/handlers/deployment-broker.js';
import { serviceSpec, type ServiceName } from '../wsi/contract/schema.js';
import { deviceManagerHandlers } from '../wsi/handlers/device-manager.js';
import { sessionHandlers } from '../wsi/handlers/session.js';
import type { OperationHandlers } from '../wsi/handlers/types.js';
import { CallerRateLimit } from '../wsi/caller-rate-limit.js';
import { soapEndpoint } from '../wsi/soap-endpoint.js';
import { FsContentFiles } from '../persistence/content-files.js';
import { DownloadLinks, downloadLinkKey } from '../security/download-links.js';
import { ContentService } from '../services/content/content-service.js';
import { contentRoutes } from '../transport/content-routes.js';
import { contentHandlers } from '../wsi/handlers/content.js';

export interface GatewayOptions {
  logger?: Logger;
  clock?: Clock;
  /** How Package#0 triggers reach devices (default: HTTP to notificationUrl, SMS over SMPP_URL). */
  notificationSender?: NotificationSender;
}

export interface Gateway {
  /** Base URL the gateway listens on, e.g. http://127.0.0.1:8080 */
  url: string;
  dataSource: DataSource;
  redis: Redis;
  auth: CallerAuthService;
  deviceManager: DeviceManagerService;
  /** Queue commands for a device's next session and wake it. */
  deviceCommands: DeviceCommandService;
  broker: DeploymentBroker;
  bulk: BulkOperations;
  /** Where command outcomes and Generic Alerts are routed to their consumers. */
  dmEvents: DmEventRouter;
  metrics: GatewayMetrics;
  /** The package store; pkgUrlFor gives a task's PkgURL. */
  content: ContentService;
  close(): Promise<void>;
}

export async function startGateway(config: Config, opts: GatewayOptions = {}): Promise<Gateway> {
  if (!config.redisUrl) throw new Error('startGateway needs a resolved REDIS_URL');
  const logger = opts.logger ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  const gatewayKey = loadSecretKey(config.secretKey, config.dataDir);
  const sealer = new SecretBox(gatewayKey);

  const dataSource = await openDatabaseWhenReachable(
    { url: config.databaseUrl, schema: config.databaseSchema },
    { waitMs: config.databaseWaitSeconds * 1000, logger },
  );
  // Auto-pipelining batches the many small commands of concurrent requests into fewer writes;
  // only on this connection (BullMQ's blocking connections are separate).
  const redis = connectRedis(config.redisUrl, `dmwsi-${config.role}`, { autoPipelining: true, logger });
  const closers: (() => Promise<unknown>)[] = [() => dataSource.destroy(), () => redis.quit()];
  try {
    // Listen first: the DM server must know the URL it advertises; until the app is attached,
    // requests get 503 (rather than no answer at all).
    let handler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
    const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (handler) return handler(req, res);
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
      res.end('starting\n');
    };
    const server =
      config.tlsCert && config.tlsKey
        ? https.createServer({ cert: fs.readFileSync(config.tlsCert), key: fs.readFileSync(config.tlsKey) }, listener)
        : http.createServer(listener);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    // (close() stops listening first; this waits for the connections to end.)
    closers.unshift(() => new Promise((resolve) => (server.listening ? server.close(resolve) : resolve(undefined))));
    const addr = server.address() as AddressInfo;
    const scheme = config.tlsCert ? 'https' : 'http';
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const url = `${scheme}://${host}:${addr.port}`;
    // With PORT=0 (tests) the advertised DM URL takes the port actually bound.
    const publicDmUrl = config.publicDmUrl.replace(/^(https?:\/\/[^/]+):0(\/|$)/, `$1:${addr.port}$2`);
    const tx = new TypeormTransactor(dataSource, sealer);
    const auth = new CallerAuthService({
      tx,
      sessions: new RedisSessionStore(redis, `${config.queuePrefix}:`),
      sealer,
      hasher: boundedPasswordHasher({ hash: hashPassword, verify: verifyPassword }, config.passwordHashConcurrency),
      clock,
      sessionTtlSeconds: config.userSessionTtlSeconds,
      maxSkewSeconds: config.wsSecurityMaxSkewSeconds,
    });
    if (await auth.ensureFirstAdmin(config.adminUser, config.adminPassword)) {
      logger.info({ user: config.adminUser }, 'created the first admin user from DMWSI_ADMIN_PASSWORD');
    } else if ((await tx.stores.users.count()) === 0) {
      logger.warn('no API user exists: set DMWSI_ADMIN_PASSWORD or run `dmwsi user add` to create one');
    }
    const deviceManager = new DeviceManagerService({
      tx,
      clock,
      newSecret: () => randomSecret(),
      newNonce: () => crypto.randomBytes(16).toString('base64'),
    });
    const metrics = new GatewayMetrics();
    const prefix = config.queuePrefix;
    const dmDevices = new RegistryDmDeviceDirectory(tx, config.dmServerId);
    const requestQueue = new RedisDeviceRequestQueue(redis, prefix);
    const dmEvents = new DmEventRouter(tx.stores.alerts, logger);
    // Package#0 over HTTP and bootstraps leave through this one client, where the destination is checked.
    const httpPush = new HttpNotificationSender({
      allowedNetworks: config.notificationAllowedNetworks,
      logger: logger.child({ component: 'http-push' }),
    });
    closers.push(() => httpPush.close());
    const sender = opts.notificationSender ?? (await defaultNotificationSender(config, logger, closers, httpPush));
    const deviceCommands = new DeviceCommandService(requestQueue, new DeviceNotifier(dmDevices, sender));
    const dmServer = new DmServer({
      devices: dmDevices,
      sessions: new RedisDmSessionStore(redis, prefix),
      queue: requestQueue,
      events: dmEvents,
      logger,
      clock,
      serverUri: publicDmUrl,
      serverId: config.dmServerId,
      sessionTtlSeconds: config.dmSessionTtlSeconds,
      maxMsgSize: config.dmMaxBodyBytes,
      maxSessions: config.dmMaxSessions,
    });
    // BullMQ does not close connections it is handed: quit them after it closes.
    const jobsRedis = connectRedis(config.redisUrl, 'dmwsi-jobs', { logger });
    closers.push(() => jobsRedis.quit());
    const jobs = new BullTaskJobs(jobsRedis, prefix, logger);
    closers.unshift(() => jobs.close());
    const brokerCache = new RedisBrokerCache(redis, prefix);
    const broker = new DeploymentBroker({
      tx,
      devices: {
        submit: (id, request) => deviceCommands.submit(id, request),
        notify: (id, o) => deviceCommands.notify(id, o),
        withdraw: (id, ids) => deviceCommands.withdraw(id, ids),
      },
      jobs,
      cache: brokerCache,
      clock,
      logger,
      taskDeadlineMs: config.taskDeadlineSeconds * 1000,
      reportGraceMs: config.reportGraceSeconds * 1000,
      longOperationMs: config.longOperationSeconds * 1000,
      taskRetryMs: config.taskRetrySeconds * 1000,
      // Called once tasks run, after `content` below exists.
      packages: { pkgUrlFor: (task, c) => content.pkgUrlFor(task, c), bytesOf: (c, limit) => content.bytesOf(c, limit) },
    });
    dmEvents.onRequests(TASK_REQUEST_PREFIX, {
      taken: (deviceId, ids, at) => broker.onRequestsTaken(deviceId, ids, at),
      outcome: (o) => broker.onOutcome(o),
    });
    dmEvents.onCorrelator(SSE_CORRELATOR_PREFIX, (alert) => broker.onScheduleAlert(alert));
    dmEvents.onCorrelator(EXEC_CORRELATOR_PREFIX, (alert) => broker.onExecAlert(alert));
    for (const type of [...FUMO_FINAL_ALERT_TYPES, SCOMO_FINAL_TYPE]) {
      dmEvents.onAlertType(type, (alert) => broker.onUncorrelatedFinalAlert(alert));
    }
    dmEvents.onSessionEnded((deviceId) => broker.onSessionEnded(deviceId));
    const bootstrap = new BootstrapService({
      tx,
      clock,
      logger,
      retries: brokerCache,
      deliver: (url, body, contentType) => deliverBootstrap(httpPush, url, body, contentType),
      schedule: async (taskId) => {
        await jobs.bootstrap(taskId);
        await jobs.expire(taskId, new Date(clock.now() + config.taskDeadlineSeconds * 1000));
      },
      serverId: config.dmServerId,
      serverAddress: publicDmUrl,
      taskDeadlineMs: config.taskDeadlineSeconds * 1000,
    });
    dmEvents.onSessionStarted((deviceId, previous, at) => bootstrap.onSessionStarted(deviceId, previous, at));
    const bulk = new BulkOperations({
      tx,
      jobs,
      cache: brokerCache,
      clock,
      logger,
      taskDeadlineMs: config.taskDeadlineSeconds * 1000,
      cancelTask: (ctx, taskId) => broker.cancelTask(ctx, taskId),
      expireTask: (taskId) => broker.processExpire(taskId),
    });
    // Links carry the public origin devices reach: PUBLIC_BASE_URL, else PUBLIC_DM_URL's origin.
    const links = new DownloadLinks(downloadLinkKey(gatewayKey), config.publicBaseUrl ?? new URL(publicDmUrl).origin);
    const content = new ContentService({
      tx,
      files: new FsContentFiles(config.contentDir),
      links,
      firstIds: brokerCache,
      clock,
      maxBytes: config.contentMaxBytes,
      linkTtlMs: config.taskDeadlineSeconds * 1000,
    });
    const dispatcher = new JobDispatcher({ tx, cache: brokerCache, jobs, clock, logger });
    if (config.role === 'all' || config.role === 'worker') {
      const workerRedis = connectRedis(config.redisUrl, 'dmwsi-worker', { logger });
      closers.push(() => workerRedis.quit());
      const worker = startTaskWorker(
        workerRedis,
        prefix,
        {
          notify: (id, retry) => broker.processNotify(id, retry),
          expire: (id) => broker.processExpire(id),
          bootstrap: (id) => bootstrap.deliver(id),
          wake: (id, why, round) => broker.processWake(id, why, round),
          dispatch: (id) => dispatcher.tick(id),
          cancelJob: (id) => bulk.processCancelJob(id),
          jobDeadline: (id) => bulk.processJobDeadline(id),
        },
        logger,
        config.workerConcurrency,
      );
      closers.unshift(() => worker.close());
      const requeued = await broker.reconcile();
      const resumed = await bulk.resume();
      if (requeued || resumed) logger.info({ requeued, resumed }, 'resumed work found at start');
      const stopSweeper = startStallSweeper({
        retryStalled: (ms) => broker.retryStalled(ms),
        resumeCancels: () => bulk.resumeCancels(),
        lock: brokerCache,
        logger,
        retryMs: config.taskRetrySeconds * 1000,
      });
      closers.unshift(stopSweeper);
      // PostgreSQL: job counters as delta rows, folded into the job rows every second (job-counters.ts).
      const stopFolding = tx.startCounterFolding(1000, (err) => logger.warn({ err }, 'folding job counters failed; trying again in a second'));
      closers.unshift(stopFolding);
    }
    const session = sessionHandlers(auth);
    const handlers: Record<ServiceName, OperationHandlers> = {
      DeploymentBroker: { ...session, ...deploymentBrokerHandlers(broker, bootstrap), ...bulkRequestHandlers(bulk) },
      BulkOperationsManager: {
        ...session,
        ...taskManagementHandlers(broker),
        ...bulkOperationsHandlers(bulk),
        ...contentHandlers(content),
      },
      DeviceManager: { ...session, ...deviceManagerHandlers(deviceManager) },
    };
    const servesApi = config.role === 'all' || config.role === 'api';
    const rateLimit = new CallerRateLimit(config.soapRatePerCaller);
    const routers: Router[] = servesApi
      ? await Promise.all(
          (Object.keys(handlers) as ServiceName[]).map((name) =>
            soapEndpoint(serviceSpec(name), {
              auth,
              audit: tx.stores.audit,
              clock,
              handlers: handlers[name],
              logger,
              metrics,
              maxBodyBytes: config.soapMaxBodyBytes,
              publicBaseUrl: config.publicBaseUrl,
              rateLimit,
            }),
          ),
        )
      : [];
    if (config.role === 'all' || config.role === 'dm') {
      routers.push(
        dmEndpoint({
          server: dmServer,
          logger,
          maxBodyBytes: config.dmMaxBodyBytes,
          maxInFlight: config.dmMaxInFlight,
          observe: (status, seconds) => metrics.observeDm(status, seconds),
        }),
      );
    }
    if (config.role !== 'worker') {
      // Uploads and downloads: every process serving HTTP must share CONTENT_DIR.
      routers.push(
        contentRoutes({
          content,
          auth,
          links,
          clock,
          logger,
          downloads: metrics.download,
          uploads: (outcome) => metrics.upload(outcome),
        }),
      );
    }
    const app = createHttpApp({
      routers,
      metrics,
      logger,
      readiness: [
        { name: 'database', check: async () => void (await dataSource.query('SELECT 1')) },
        { name: 'redis', check: async () => void (await redis.ping()) },
      ],
    });
    // DM fast path: POST /dm and POST /dm/s/<token> go to the DM endpoint's node:http handler ahead of
    // express (express + body-parser were ~19% of the gateway's CPU per DM message, bench/dm-bench.ts);
    // everything else, and everything when this process serves no DM, goes to the app.
    const dm = routers.find((r) => 'serveDm' in r) as { serveDm?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean } | undefined;
    const serveDm = dm?.serveDm;
    // Package downloads likewise (content-routes.ts).
    const serveDownload = (routers.find((r) => 'serveDownload' in r) as { serveDownload?: typeof serveDm } | undefined)?.serveDownload;
    handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (!serveDm?.(req, res) && !serveDownload?.(req, res)) app(req, res);
    };
    // (end of the DM fast path)
    logger.info({ url, role: config.role, database: dataSource.options.type }, 'gateway listening');
    return {
      url,
      dataSource,
      redis,
      auth,
      deviceManager,
      deviceCommands,
      broker,
      bulk,
      dmEvents,
      metrics,
      content,
      close: async () => {
        // Stop taking connections, let the DM messages being served finish (a cut-off one leaves
        // its device's lock to lapse), then cut whatever is still open.
        server.close();
        server.closeIdleConnections?.();
        await dmServer.idle(5_000);
        server.closeAllConnections?.();
        for (const c of closers) await c().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const c of closers) await c().catch(() => undefined);
    throw err;
  }
}

/** HTTP to the device's notificationUrl; SMS (WAP Push over SMPP) when SMPP_URL is configured. */
async function defaultNotificationSender(
  config: Config,
  logger: Logger,
  closers: (() => Promise<unknown>)[],
  httpSender: HttpNotificationSender,
): Promise<NotificationSender> {
  const { createNotificationSender } = await import('../transport/notification/index.js');
  const sender = createNotificationSender({ smppUrl: config.smppUrl, logger, httpSender });
  closers.push(() => sender.close());
  return sender;
}
