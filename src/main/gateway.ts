/**
 * Composition root: builds the gateway from a validated configuration and
 * starts it. `dmwsi serve` and the integration tests both start it this way.
 */
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { countedSender } from '../observability/notification-metrics.js';
import { registerStateGauges } from '../observability/state-gauges.js';
import { countByStatus } from '../persistence/state-counts.js';
import { JOB_STATES, TASK_STATES, TERMINAL_TASK_STATES } from '../domain/tasks.js';
import { openDatabaseWhenReachable } from '../persistence/data-source.js';
import { TypeormTransactor } from '../persistence/transactor.js';
import { connectRedis, type RedisConnection, RedisSessionStore } from '../queue/redis.js';
import { hashPassword, verifyPassword } from '../security/password-hash.js';
import { loadSecretKey, randomNonce, randomSecret, SecretBox } from '../security/secret-box.js';
import { boundedPasswordHasher } from '../services/bounded-password-hasher.js';
import { CallerAuthService } from '../services/caller-auth.js';
import { DeviceManagerService } from '../services/device-manager.js';
import { type Clock, systemClock } from '../services/ports.js';
import { DeviceCommandService } from '../dm/server/device-commands.js';
import { DmServer } from '../dm/server/dm-server.js';
import { DmEventRouter } from '../dm/server/event-router.js';
import { DeviceNotifier } from '../dm/server/notifier.js';
import type { NotificationSender } from '../dm/server/ports.js';
import { AlertLog } from '../persistence/alert-store.js';
import { RegistryDmDeviceDirectory } from '../persistence/dm-device-directory.js';
import { RedisDeviceRequestQueue } from '../queue/device-request-queue.js';
import { RedisResyncOffers } from '../queue/resync-offers.js';
import { RedisDmSessionStore } from '../queue/dm-session-store.js';
import { dmEndpoint } from '../transport/dm-endpoint.js';
import { HttpNotificationSender } from '../transport/notification/http-sender.js';
import { createHttpApp } from '../transport/http-app.js';
import { RedisBrokerCache } from '../queue/broker-cache.js';
import { BullTaskJobs, startTaskWorker, TASK_QUEUE } from '../queue/task-jobs.js';
import { deliverBootstrap } from '../dm/bootstrap/delivery.js';
import { BootstrapService } from '../services/broker/bootstrap.js';
import { DeploymentBroker } from '../services/broker/deployment-broker.js';
import { BulkOperations } from '../services/bulk/bulk-operations.js';
import { JobDispatcher } from '../services/bulk/dispatcher.js';
import { TargetExpander } from '../services/bulk/filter-expansion.js';

/** A filter job's cursor standing still this long: its writer died, and the sweep has the job's tick finish it. */
const EXPANSION_STALE_MS = 30_000;
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
import { consoleRouter } from '../console/routes.js';
import { queueDashboard } from '../console/queue-dashboard.js';
import { Dm2DataLinks } from '../dm2/data-links.js';
import { Dm2HttpAuth } from '../dm2/http-auth.js';
import { Dm2Server } from '../dm2/server.js';
import { RegistryDm2DeviceDirectory } from '../persistence/dm2-device-directory.js';
import { RedisDm2UploadStore } from '../queue/dm2-upload-store.js';
import { dm2HttpHandler } from '../transport/dm2-endpoint.js';
import { OpeningGate } from '../transport/opening-gate.js';
import { EventLoopLag } from '../transport/event-loop-lag.js';
import { dm2TlsServerOptions } from '../dm2/tls-identity.js';
import { BullWebhookDeliveries, startWebhookWorker } from '../queue/webhook-jobs.js';
import { WebhookDeliverer } from '../services/webhooks/delivery.js';
import { startWebhookPump, WebhookPump } from '../services/webhooks/event-pump.js';
import { WebhookService } from '../services/webhooks/webhook-service.js';
import { HttpWebhookPoster } from '../transport/notification/webhook-poster.js';
import { webhookHandlers } from '../wsi/handlers/webhooks.js';
import { webhookRoutes } from '../transport/webhook-routes.js';

export interface GatewayOptions {
  logger?: Logger;
  clock?: Clock;
  /** How Package#0 triggers reach devices (default: HTTP to notificationUrl, SMS over SMPP_URL). */
  notificationSender?: NotificationSender;
  /** How long the tasks/jobs/queue gauges of /metrics keep a reading: default 10 s, ended tasks 5 min (tests use 0). */
  stateMetricsTtl?: { ms?: number; endedTasksMs?: number };
}

export interface Gateway {
  /** Base URL the gateway listens on, e.g. http://127.0.0.1:8080 */
  url: string;
  dataSource: DataSource;
  redis: RedisConnection;
  auth: CallerAuthService;
  deviceManager: DeviceManagerService;
  /** Queue commands for a device's next session and wake it. */
  deviceCommands: DeviceCommandService;
  broker: DeploymentBroker;
  bulk: BulkOperations;
  /** Where command outcomes and Generic Alerts are routed to their consumers. */
  dmEvents: DmEventRouter;
  /** The DM 1.2 server's view of the registry (the DM server and the notifier read devices through it). */
  dmDevices: RegistryDmDeviceDirectory;
  metrics: GatewayMetrics;
  /** The package store; pkgUrlFor gives a task's PkgURL. */
  content: ContentService;
  /** Webhook registrations and their deliveries with state (the console lists them: `deliveries`). */
  webhooks: WebhookService;
  close(): Promise<void>;
}

export async function startGateway(config: Config, opts: GatewayOptions = {}): Promise<Gateway> {
  if (!config.redisUrl) throw new Error('startGateway needs a resolved REDIS_URL');
  const logger = opts.logger ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  const gatewayKey = loadSecretKey(config.secretKey, config.dataDir);
  const sealer = new SecretBox(gatewayKey);

  const dataSource = await openDatabaseWhenReachable(
    { url: config.databaseUrl, schema: config.databaseSchema, sqliteCacheMib: config.sqliteCacheMib },
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
        ? https.createServer(
            {
              cert: fs.readFileSync(config.tlsCert),
              key: fs.readFileSync(config.tlsKey),
              // DM 2.0 devices may authenticate in TLS: a client certificate or a PSK (src/dm2/tls-identity.ts).
              ...dm2TlsServerOptions({
                gatewayKey,
                ...(config.dm2ClientCa ? { clientCa: fs.readFileSync(config.dm2ClientCa) } : {}),
                psk: config.dm2Psk,
              }),
            },
            listener,
          )
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
      sessions: new RedisSessionStore(redis, config.queuePrefix),
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
      // From the pooled CSPRNG (secret-box.ts): the same bytes at a fraction of a randomBytes call each (two per imported device).
      newNonce: () => randomNonce(),
    });
    const metrics = new GatewayMetrics();
    const prefix = config.queuePrefix;
    // PostgreSQL: a DM message's contact write and a Generic Alert's record ride on its first task move
    // (ride-along.ts: a round trip less each).
    const rideAlongMoves = dataSource.options.type === 'postgres';
    const dmDevices = new RegistryDmDeviceDirectory(tx, config.dmServerId, rideAlongMoves);
    const requestQueue = new RedisDeviceRequestQueue(redis, prefix);
    const dmEvents = new DmEventRouter(new AlertLog(tx, rideAlongMoves), logger);
    // Package#0 over HTTP and bootstraps leave through this one client, where the destination is checked.
    const httpPush = new HttpNotificationSender({
      allowedNetworks: config.notificationAllowedNetworks,
      logger: logger.child({ component: 'http-push' }),
    });
    closers.push(() => httpPush.close());
    const sender = countedSender(
      opts.notificationSender ?? (await defaultNotificationSender(config, logger, closers, httpPush)),
      metrics.notifications,
    );
    const resyncOffers = new RedisResyncOffers(redis, prefix);
    const deviceCommands = new DeviceCommandService(requestQueue, new DeviceNotifier(dmDevices, sender, resyncOffers));
    const dmServer = new DmServer({
      devices: dmDevices,
      sessions: new RedisDmSessionStore(redis, prefix),
      queue: requestQueue,
      events: dmEvents,
      resyncOffers,
      logger,
      clock,
      serverUri: publicDmUrl,
      serverId: config.dmServerId,
      sessionTtlSeconds: config.dmSessionTtlSeconds,
      maxMsgSize: config.dmMaxBodyBytes,
      maxSessions: config.dmMaxSessions,
      metrics: metrics.dmSessions,
    });
    // DM 2.0 (/dm2) shares the session store, the request queue and the event sink with DM 1.2.
    const dm2Url = dm2UrlOf(publicDmUrl);
    const dm2Server = new Dm2Server({
      devices: new RegistryDm2DeviceDirectory(tx, config.dmServerId, rideAlongMoves),
      sessions: new RedisDmSessionStore(redis, prefix),
      queue: requestQueue,
      events: dmEvents,
      logger,
      clock,
      auth: new Dm2HttpAuth(gatewayKey),
      links: new Dm2DataLinks(gatewayKey, `${dm2Url}/data`),
      uploadLinks: new Dm2DataLinks(gatewayKey, `${dm2Url}/up`, 'upload'),
      uploads: new RedisDm2UploadStore(redis, prefix),
      dm2Url,
      sessionTtlSeconds: config.dmSessionTtlSeconds,
      maxSessions: config.dmMaxSessions,
      linkTtlMs: config.taskDeadlineSeconds * 1000,
    });
    // BullMQ does not close connections it is handed: quit them after it closes.
    const jobsRedis = connectRedis(config.redisUrl, 'dmwsi-jobs', { logger });
    closers.push(() => jobsRedis.quit());
    const jobs = new BullTaskJobs(jobsRedis, prefix, logger);
    closers.unshift(() => jobs.close());
    if (config.role === 'all' || config.role === 'api') {
      // Cluster-wide figures: exported by the processes serving the API only (state-gauges.ts).
      registerStateGauges(
        metrics.registry,
        {
          openTasks: () => countByStatus(dataSource, 'open-tasks'),
          endedTasks: () => countByStatus(dataSource, 'ended-tasks'),
          jobs: () => countByStatus(dataSource, 'jobs'),
          queues: async () => new Map([[TASK_QUEUE, await jobs.queue.getJobCounts('waiting', 'active', 'delayed', 'failed')]]),
        },
        {
          openTaskStates: TASK_STATES.filter((s) => !TERMINAL_TASK_STATES.has(s)),
          endedTaskStates: [...TERMINAL_TASK_STATES],
          jobStates: JOB_STATES,
          ttlMs: opts.stateMetricsTtl?.ms ?? 10_000,
          endedTtlMs: opts.stateMetricsTtl?.endedTasksMs ?? 300_000,
          logger,
        },
      );
    }
    const brokerCache = new RedisBrokerCache(redis, prefix);
    const broker = new DeploymentBroker({
      tx,
      devices: deviceCommands,
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
      deliver: async (url, body, contentType) => {
        const outcome = await deliverBootstrap(httpPush, url, body, contentType);
        metrics.notifications.count('bootstrap', outcome);
        return outcome;
      },
      schedule: async (taskId) => {
        await jobs.bootstrap(taskId);
        await jobs.expire(taskId, new Date(clock.now() + config.taskDeadlineSeconds * 1000));
      },
      serverId: config.dmServerId,
      serverAddress: publicDmUrl,
      dm2ServerAddress: dm2Url,
      taskDeadlineMs: config.taskDeadlineSeconds * 1000,
    });
    dmEvents.onSessionStarted((deviceId, previous, at) => bootstrap.onSessionStarted(deviceId, previous, at));
    const expander = new TargetExpander({ tx, clock, rangeSize: config.expansionChunkDevices });
    const bulk = new BulkOperations({
      tx,
      expander,
      expansionCallMs: config.expansionCallSeconds * 1000,
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
    const dispatcher = new JobDispatcher({ tx, expander, cache: brokerCache, jobs, clock, logger });
    // Webhooks: POSTs leave through their own client, checked against NOTIFICATION_ALLOWED_NETWORKS as pushes are.
    const webhookPoster = new HttpWebhookPoster({
      allowedNetworks: config.notificationAllowedNetworks,
      timeoutMs: config.webhookTimeoutSeconds * 1000,
    });
    closers.push(() => webhookPoster.close());
    const webhookQueue = new BullWebhookDeliveries(
      jobsRedis,
      prefix,
      { attempts: config.webhookAttempts, retryMs: config.webhookRetryMs },
      logger,
    );
    closers.unshift(() => webhookQueue.close());
    const webhooks = new WebhookService({ tx, sealer, destinations: webhookPoster, firstIds: brokerCache, clock });
    if (config.role === 'all' || config.role === 'worker') {
      const workerRedis = connectRedis(config.redisUrl, 'dmwsi-worker', { logger });
      closers.push(() => workerRedis.quit());
      const worker = startTaskWorker(
        workerRedis,
        prefix,
        {
          notify: (id, retry) => broker.processNotify(id, retry),
          notifyBatch: (ids) => broker.processNotifyBatch(ids),
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
        retryStalled: (ms) => broker.retryStalled(ms, Math.max(ms, (config.taskRetryMaxSeconds ?? 12 * config.taskRetrySeconds) * 1000)),
        resumeCancels: () => bulk.resumeCancels(),
        resumeExpansions: () => bulk.resumeExpansions(EXPANSION_STALE_MS),
        lock: brokerCache,
        logger,
        retryMs: config.taskRetrySeconds * 1000,
      });
      closers.unshift(stopSweeper);
      const deliverer = new WebhookDeliverer({ tx, sealer, poster: webhookPoster, clock, logger: logger.child({ component: 'webhooks' }) });
      const webhookWorker = startWebhookWorker(workerRedis, prefix, (key, last) => deliverer.attempt(key, last), logger, {
        concurrency: config.workerConcurrency,
        timeoutMs: config.webhookTimeoutSeconds * 1000,
      });
      closers.unshift(() => webhookWorker.close());
      const pump = new WebhookPump({ tx, queue: webhookQueue, lock: brokerCache, clock, logger });
      closers.unshift(startWebhookPump(pump, config.webhookPollMs, logger));
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
        ...webhookHandlers(webhooks),
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
    // DM_MAX_IN_FLIGHT: one count of opening messages for /dm and /dm2.
    const loopLag = config.dmMaxEventLoopLagMs > 0 ? new EventLoopLag() : undefined;
    if (loopLag) closers.push(async () => loopLag.stop());
    const openingGate = new OpeningGate(
      config.dmMaxInFlight,
      loopLag ? { maxLagMs: config.dmMaxEventLoopLagMs, lagMs: () => loopLag.ms, inFlightWhenLate: config.dmInFlightWhenLate } : undefined,
    );
    // Webhook deliveries for the console (JSON), beside the SOAP surface.
    if (servesApi) routers.push(webhookRoutes({ webhooks, auth, logger }));
    if (config.role === 'all' || config.role === 'dm') {
      routers.push(
        dmEndpoint({
          server: dmServer,
          logger,
          maxBodyBytes: config.dmMaxBodyBytes,
          maxInFlight: config.dmMaxInFlight,
          gate: openingGate,
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
    if (servesApi) {
      // The web console and the queue dashboard: the same users, roles and services as SOAP.
      routers.push(
        consoleRouter({
          auth,
          devices: deviceManager,
          broker,
          bulk,
          webhooks,
          audit: tx.stores.audit,
          clock,
          logger: logger.child({ component: 'console' }),
          // Secure also behind a TLS-terminating proxy, which PUBLIC_BASE_URL names.
          secureCookies: Boolean(config.tlsCert) || (config.publicBaseUrl ?? '').startsWith('https:'),
          sessionTtlSeconds: config.userSessionTtlSeconds,
          rateLimit,
        }),
        queueDashboard({ auth, queues: [jobs.queue, webhookQueue.queue], logger: logger.child({ component: 'queue-dashboard' }) }),
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
    const serveDm2 =
      config.role === 'all' || config.role === 'dm'
        ? dm2HttpHandler({
            server: dm2Server,
            logger,
            maxBodyBytes: config.dmMaxBodyBytes,
            gate: openingGate,
            allowPlainHttp: config.dm2AllowPlainHttp,
            observe: (status, seconds) => metrics.observeDm(status, seconds),
          })
        : undefined;
    handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (!serveDm?.(req, res) && !serveDm2?.(req, res) && !serveDownload?.(req, res)) app(req, res);
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
      dmDevices,
      metrics,
      content,
      webhooks,
      close: async () => {
        // Stop taking connections, let the DM messages being served finish (a cut-off one leaves
        // its device's lock to lapse), then cut whatever is still open.
        server.close();
        server.closeIdleConnections?.();
        await Promise.all([dmServer.idle(5_000), dm2Server.idle(5_000)]);
        server.closeAllConnections?.();
        for (const c of closers) await c().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const c of closers) await c().catch(() => undefined);
    throw err;
  }
}

/** The public URL of /dm2: PUBLIC_DM_URL with its last `/dm` segment made `/dm2` (its origin + /dm2 otherwise). */
export function dm2UrlOf(publicDmUrl: string): string {
  const u = publicDmUrl.replace(/\/+$/, '');
  return u.endsWith('/dm') ? `${u}2` : `${new URL(u).origin}/dm2`;
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
