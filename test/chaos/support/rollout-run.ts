/**
 * Crash safety of a bulk SCHEDULED_EXEC rollout (issue 6 item 1), in the
 * variants the *.chaos.ts files name (defineChaosRollout).
 *
 * The gateway runs as separate api, dm and worker processes (the compiled
 * CLI; one or two of each, the DM processes behind a round-robin balancer)
 * on a Redis of the test's own (one server, or a Redis Cluster whose queue
 * master is killed and failed over) and PostgreSQL (or one shared SQLite
 * file); a simulated fleet runs in its own process and is never disturbed:
 * it is the witness of what devices really ran. One createDeployments call
 * over SOAP arms a SingleShotExec on every device. While that job runs, the
 * test kills -9 each kind of gateway process at moments drawn from a seed
 * and restarts it, kills and restarts Redis, makes the database unavailable,
 * cancels some tasks, and pauses and restarts the job. A second, slower
 * rollout (a QUERY) is cancelled with cancelJob while it runs, and the
 * worker is killed -9 right after.
 *
 * Afterwards:
 * - every task is in an end state, the job too;
 * - each device ran its schedule exactly once when its task COMPLETED and
 *   never when it was CANCELLED (the fleet's own counts, GET /executions);
 * - no task ended otherwise (every accepted request was carried out or
 *   cancelled);
 * - the job's counters equal the per-state task counts in the database;
 * - every task's history is seq 1..n without a gap or duplicate;
 * - every task of the cancelled rollout that had not ended is CANCELLED;
 * - a webhook receiver (task.status, signatures checked) got every task's
 *   final state at least once, kills of the worker mid-delivery included.
 *
 * CHAOS_SEED replays a run (the seed is printed); CHAOS_DEVICES and
 * CHAOS_AT_SECONDS change its size; CHAOS_DATABASE=sqlite|postgres picks the
 * database of the variants that do not insist on PostgreSQL. A failed run
 * keeps its folder (process logs) and says where.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { escapeXml, type FleetProcess, startFleetProcess } from '../../../bench/support/broker-load.js';
import { freePort } from '../../../src/main/redis-launcher.js';
import type { FleetStats } from '../../../src/simulator/fleet.js';
import { type ChaosRedis, startClusterRedis, startSingleRedis } from './chaos-redis.js';
import { GatewayCluster, type GatewayRole, ROLES } from './cluster.js';
import { openChaosDatabase } from './database.js';
import { type ChaosEvent, describeEvent, drawPlan } from './plan.js';
import { RoundRobinProxy } from './round-robin-proxy.js';
import { ChaosSoap, SoapFault } from './soap.js';
import { startWebhookReceiver } from '../../support/webhook-receiver.js';

export interface ChaosVariant {
  /** Devices and seconds to AtTime unless CHAOS_DEVICES / CHAOS_AT_SECONDS say otherwise. */
  devices: number;
  atSeconds: number;
  /** Gateway processes per role (api, dm, worker). */
  processesPerRole: number;
  /** 'postgres': PostgreSQL or a failure (the caller skips first where that is allowed). */
  database?: 'postgres';
  redis: 'single' | 'cluster';
}

const QUEUE_PREFIX = 'chaos';
/** After the last disruption, this long for every task to end. */
const SETTLE_MS = 240_000;
const TARGET_URI = './FUMO/fw1/Update';
const CAPABILITY = 'chaos-cap';
const ADMIN_PASSWORD = 'chaos-admin-password';
const TERMINAL = new Set(['COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED']);
const CANCEL_JOB_AT_MS = 6_000;

const isoSeconds = (ms: number) => new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sortKeys = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
const countBy = <T>(items: T[], key: (t: T) => string) => {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
};

/** Registers the variant's test (and its clean-up) in the calling *.chaos.ts file. */
export function defineChaosRollout(variant: ChaosVariant): void {
  const DEVICES = Number(process.env.CHAOS_DEVICES ?? variant.devices);
  const AT_SECONDS = Number(process.env.CHAOS_AT_SECONDS ?? variant.atSeconds);
  const SEED = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : crypto.randomInt(1, 2 ** 31);
  const PER_ROLE = variant.processesPerRole;
  /** The second rollout, cancelled while it runs. */
  const CANCELLED_DEVICES = Math.min(100, DEVICES);

  const started = Date.now();
  const log = (line: string) => process.stderr.write(`[chaos ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-chaos-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  let passed = false;

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`clean-up: ${(err as Error).message}`));
    if (passed) fs.rmSync(dir, { recursive: true, force: true });
    else log(`run kept in ${dir} (process logs in ${dir}/logs); replay with CHAOS_SEED=${SEED}`);
  });

  const shape = PER_ROLE === 1 ? 'every role' : `every role (${PER_ROLE} processes each)`;
  const redisHarm = variant.redis === 'cluster' ? 'a Redis Cluster master failed over' : 'a Redis restart';
  it(
    `a ${DEVICES}-device SCHEDULED_EXEC rollout survives kill -9 of ${shape}, ${redisHarm} and a database outage`,
    { timeout: 900_000 },
    async () => {
      log(`seed ${SEED} (replay with CHAOS_SEED=${SEED}); ${DEVICES} devices, AtTime ${AT_SECONDS} s after the call; ${PER_ROLE} process(es) per role; Redis ${variant.redis}; folder ${dir}`);
      const redis: ChaosRedis = variant.redis === 'cluster' ? await startClusterRedis(dir, QUEUE_PREFIX, log) : await startSingleRedis(dir, log);
      cleanups.push(() => redis.stop(passed));
      const db = await openChaosDatabase(dir, log, variant.database);
      cleanups.push(() => db.close(passed));

      const ports = async () => Promise.all(Array.from({ length: PER_ROLE }, () => freePort()));
      const rolePorts = Object.fromEntries(await Promise.all(ROLES.map(async (r) => [r, await ports()] as const))) as Record<GatewayRole, number[]>;
      const fleetPort = await freePort();
      // Devices reach the DM processes through one address, as behind a load balancer.
      const dmProxy = PER_ROLE > 1 ? await RoundRobinProxy.start(rolePorts.dm) : undefined;
      if (dmProxy) cleanups.push(() => dmProxy.close());
      const dmUrl = `http://127.0.0.1:${dmProxy?.port ?? rolePorts.dm[0]}/dm`;
      const cluster = new GatewayCluster({
        dir,
        ports: rolePorts,
        log,
        env: {
          HOST: '127.0.0.1',
          REDIS_URL: redis.url,
          ...db.env,
          DATA_DIR: path.join(dir, 'data'),
          DMWSI_ADMIN_PASSWORD: ADMIN_PASSWORD,
          DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
          QUEUE_PREFIX: QUEUE_PREFIX,
          PUBLIC_DM_URL: dmUrl,
          LOG_LEVEL: 'info',
          // A report that never comes ends the task EXPIRED within the run (it should not come to that).
          REPORT_GRACE_SECONDS: '600',
          // Devices of tasks that stop moving are woken again after 30 s (then 60, 120, ...).
          TASK_RETRY_SECONDS: '30',
          // Webhook deliveries retried soon, so that every event is in before the checks.
          WEBHOOK_RETRY_MS: '1000',
          WEBHOOK_TIMEOUT_SECONDS: '5',
        },
      });
      cleanups.push(() => cluster.stop());

      // The first api process first: it creates the schema (migrations) before the others start.
      const csvPath = path.join(dir, 'fleet.csv');
      let fleet: FleetProcess | undefined;
      await Promise.all([
        cluster.start('api', { only: 0 }),
        startFleetProcess(
          {
            devices: DEVICES,
            serverUrl: dmUrl,
            listenPort: fleetPort,
            csvPath,
            capabilityOid: CAPABILITY,
            imeiStart: '35700000000000',
            phonePrefix: '+1777',
            secretSeed: `chaos-${SEED}`,
            maxSessions: 64,
          },
          120_000,
        ).then((f) => {
          fleet = f;
          cleanups.push(() => f.stop());
        }),
      ]);
      await Promise.all([cluster.start('api'), cluster.start('dm'), cluster.start('worker')]);
      const soap = new ChaosSoap(cluster.urls('api'), 'admin', ADMIN_PASSWORD);
      // An OSS listening for task states instead of polling getTaskById.
      const webhookSecret = `chaos-webhook-${SEED}`;
      const receiver = await startWebhookReceiver(webhookSecret);
      cleanups.push(() => receiver.close());
      await soap.call(
        'BulkOperationsManager',
        'createWebhook',
        `<t:webhook><t:url>${receiver.url}</t:url><t:secret>${webhookSecret}</t:secret><t:events><t:event>task.status</t:event></t:events></t:webhook>`,
      );

      // --- the fleet is registered ---------------------------------------------------------------
      await soap.call(
        'DeviceManager',
        'createDeviceCapability',
        `<t:capability><t:oid>${CAPABILITY}</t:oid><t:make>DmwsiSim</t:make><t:model>SimPhone-1</t:model><t:firmwareVersion>1.0.0</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion><t:sseRoot>./SSE</t:sseRoot></t:capability>`,
      );
      const [header, ...rows] = fs.readFileSync(csvPath, 'utf8').split('\n').filter((l) => l !== '');
      expect(rows.length).toBe(DEVICES);
      const deviceIds = rows.map((r) => r.slice(0, r.indexOf(',')));
      for (let i = 0; i < rows.length; i += 1000) {
        const csv = [header, ...rows.slice(i, i + 1000)].join('\n');
        const answer = await soap.call('DeviceManager', 'importDeviceInstances', `<t:csv>${escapeXml(csv)}</t:csv>`);
        expect(Number(/<imported>(\d+)<\/imported>/.exec(answer)?.[1])).toBe(Math.min(1000, rows.length - i));
      }
      log(`${DEVICES} devices registered; gateway ${cluster.summary()}`);

      // --- the rollout, and what is done to it -------------------------------------------------------
      const t0 = Date.now();
      const atTime = isoSeconds(t0 + AT_SECONDS * 1000);
      const targets = deviceIds.map((id) => `<t:targets>${escapeXml(id)}</t:targets>`).join('');
      // Released at 100 a second (about 20 s for 2,000), so that pausing the job means something.
      const create = await soap.call(
        'BulkOperationsManager',
        'createDeployments',
        `<t:operation><t:name>SCHEDULED_EXEC</t:name><t:targetUri>${TARGET_URI}</t:targetUri><t:atTime>${atTime}</t:atTime></t:operation>${targets}<t:options><t:notificationsPerSecond>100</t:notificationsPerSecond></t:options>`,
        { timeoutMs: 120_000 },
      );
      const jobId = /<jobId>([^<]+)<\/jobId>/.exec(create)?.[1];
      if (!jobId) throw new Error(`createDeployments gave no jobId: ${create.slice(0, 300)}`);
      log(`createDeployments: job ${jobId} in ${Date.now() - t0} ms, AtTime ${atTime}`);

      // A second rollout, slow enough that most of it still waits when cancelJob comes; the worker is
      // killed -9 right after that call, so its cancel pass is left to whoever starts next.
      const second = await soap.call(
        'BulkOperationsManager',
        'createDeployments',
        `<t:operation><t:name>QUERY</t:name><t:commands><t:command><t:verb>Get</t:verb><t:uri>./DevInfo/Mod</t:uri></t:command></t:commands></t:operation>${deviceIds
          .slice(0, CANCELLED_DEVICES)
          .map((id) => `<t:targets>${escapeXml(id)}</t:targets>`)
          .join('')}<t:options><t:notificationsPerSecond>5</t:notificationsPerSecond></t:options>`,
      );
      const cancelledJobId = /<jobId>([^<]+)<\/jobId>/.exec(second)?.[1];
      if (!cancelledJobId) throw new Error(`createDeployments gave no jobId: ${second.slice(0, 300)}`);
      const cancelJobThenKill = async (): Promise<void> => {
        await sleep(Math.max(0, t0 + CANCEL_JOB_AT_MS - Date.now()));
        log(`now: cancelJob ${cancelledJobId}, then kill -9 worker`);
        await soap.call('BulkOperationsManager', 'cancelJob', `<t:jobId>${cancelledJobId}</t:jobId>`).catch((err: unknown) => {
          // A retried call finds the job cancelled already.
          if (!(err instanceof SoapFault && err.code === 'InvalidState')) throw err;
          log(`cancelJob ${cancelledJobId}: ${err.message}`);
        });
        await cluster.kill('worker', 1_000);
      };

      const plan = drawPlan(SEED, {
        tasks: DEVICES,
        atMs: Date.parse(atTime) - t0,
        killsPerRole: 2,
        cancels: Math.min(20, Math.ceil(DEVICES / 50)),
        processesPerRole: PER_ROLE,
        redisDisruption: variant.redis === 'cluster' ? "kill -9 the Redis Cluster master of the task queue's slot (failed over to its replica)" : undefined,
      });
      for (const e of plan) log(`plan: ${describeEvent(e)}`);
      const cancelRequested = new Set<string>();
      const run = async (e: ChaosEvent): Promise<void> => {
        await sleep(Math.max(0, t0 + e.at - Date.now()));
        log(`now: ${describeEvent(e)}`);
        switch (e.kind) {
          case 'kill':
            await cluster.kill(e.role, e.downMs, e.index);
            return;
          case 'redis-restart':
            log(await redis.disrupt(e.downMs));
            return;
          case 'database-outage':
            await db.outage(e.ms);
            log('the database is back');
            return;
          case 'cancel': {
            const taskId = `${jobId}-${e.seq}`;
            cancelRequested.add(taskId);
            await soap.call('BulkOperationsManager', 'cancelTask', `<t:taskId>${taskId}</t:taskId>`).catch((err: unknown) => {
              // A retried cancel finds the task cancelled already; one that was too late finds it ended.
              if (!(err instanceof SoapFault && err.code === 'InvalidState')) throw err;
              log(`cancelTask ${taskId}: ${err.message}`);
            });
            return;
          }
          case 'pause':
            await soap.call('BulkOperationsManager', 'pauseJob', `<t:jobId>${jobId}</t:jobId>`);
            await sleep(e.resumeAfterMs);
            await soap.call('BulkOperationsManager', 'restartJob', `<t:jobId>${jobId}</t:jobId>`);
            log('job restarted');
            return;
        }
      };
      const chaos = Promise.all([...plan.map(run), cancelJobThenKill()]);

      // --- until every task has ended ------------------------------------------------------------------
      const lastEvent = t0 + Math.max(...plan.map((e) => e.at));
      const deadline = Math.max(lastEvent, Date.parse(atTime)) + SETTLE_MS;
      let lastLog = 0;
      let tasks = await db.tasks(jobId);
      for (;;) {
        tasks = await db.tasks(jobId).catch(() => tasks);
        const open = tasks.filter((t) => !TERMINAL.has(t.status));
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          const stats = await fleet!.stats().catch(() => undefined);
          log(
            `tasks ${JSON.stringify(countBy(tasks, (t) => t.status))}; fleet ${stats ? `sessions ${stats.sessionsOk} ok / ${stats.sessionsFailed} failed, armed ${stats.schedulesArmed}, fired ${stats.schedulesFired}, executions ${stats.executions}` : 'no answer'}`,
          );
        }
        if (tasks.length === DEVICES && open.length === 0 && Date.now() > lastEvent) break;
        if (Date.now() > deadline) break;
        await sleep(2000);
      }
      await chaos;
      // Every process is up again, and the devices have nothing left to do (a schedule armed twice by
      // mistake would run now: its AtTime has passed).
      await Promise.all([cluster.ready('api'), cluster.ready('dm'), cluster.ready('worker')]);
      let stats: FleetStats | undefined;
      for (let quiet = 0; quiet < 3; ) {
        await sleep(1000);
        stats = await fleet!.stats();
        quiet = stats.activeSessions === 0 && stats.queuedSessions === 0 ? quiet + 1 : 0;
      }
      tasks = await db.tasks(jobId);
      let cancelledTasks = await db.tasks(cancelledJobId);
      for (const until = Date.now() + 60_000; cancelledTasks.some((t) => !TERMINAL.has(t.status)) && Date.now() < until; ) {
        await sleep(1000);
        cancelledTasks = await db.tasks(cancelledJobId);
      }
      const cancelledJob = await db.job(cancelledJobId);
      const executions = (await (await fetch(`${fleet!.url}/executions`)).json()) as Record<string, Record<string, number>>;
      const job = await db.job(jobId);
      const history = await db.historyProblems();
      // Each task's final state reaches the webhook at least once (retries and redeliveries carry on after the last kill).
      // And every other change of state: an event committed late is not skipped by the pump's cursor.
      const finalStates = [...tasks, ...cancelledTasks].map((t) => `${t.taskId} ${t.status}`);
      const notified = () => new Set(receiver.received.map((e) => `${e.data.taskId as string} ${e.data.status as string}`));
      const statusEvents = await db.taskStatusEvents();
      const missing = () => statusEvents.filter((id) => !receiver.ids().has(id));
      for (const until = Date.now() + 120_000; (finalStates.some((f) => !notified().has(f)) || missing().length > 0) && Date.now() < until; ) {
        await sleep(2000);
      }
      const unnotified = finalStates.filter((f) => !notified().has(f));
      const lostEvents = missing();
      log(
        `webhook: ${receiver.received.length} POSTs, ${receiver.ids().size} distinct events of ${statusEvents.length} changes of state, ${finalStates.length - unnotified.length} of ${finalStates.length} final states`,
      );
      log(`fleet: ${JSON.stringify(stats)}`);
      log(`gateway: ${cluster.summary()}; SOAP retries ${soap.retries}`);
      log(`tasks: ${JSON.stringify(countBy(tasks, (t) => t.status))}; job ${JSON.stringify(job)}`);

      // --- what must hold ------------------------------------------------------------------------------
      const ranOf = (deviceId: string) => executions[deviceId]?.[TARGET_URI] ?? 0;
      const open = tasks.filter((t) => !TERMINAL.has(t.status));
      const ranWrongly = tasks
        .filter((t) => (t.status === 'CANCELLED' ? ranOf(t.deviceId) !== 0 : ranOf(t.deviceId) !== 1))
        .map((t) => `${t.taskId} ${t.status} ran ${ranOf(t.deviceId)}x`);
      const notCarriedOut = tasks.filter((t) => t.status !== 'COMPLETED' && t.status !== 'CANCELLED').map((t) => `${t.taskId} ${t.status}`);
      const cancelledUnasked = tasks.filter((t) => t.status === 'CANCELLED' && !cancelRequested.has(t.taskId)).map((t) => t.taskId);
      const perState = countBy(tasks, (t) => t.status);
      const counters = sortKeys(Object.fromEntries(Object.entries(job?.counters ?? {}).filter(([, n]) => n !== 0)));

      // Every broken promise in one report: each list by its count and first entries (a run gone
      // wrong lists thousands).
      const problems: Record<string, unknown> = {};
      const check = (what: string, items: string[]) => {
        if (items.length > 0) problems[what] = { count: items.length, first: items.slice(0, 15) };
      };
      check('tasks in the job', tasks.length === DEVICES ? [] : [`${tasks.length} of ${DEVICES}`]);
      check('tasks not ended', open.map((t) => `${t.taskId} ${t.status}`));
      check('COMPLETED tasks whose device ran other than once, CANCELLED ones whose device ran', ranWrongly);
      check('tasks neither COMPLETED nor CANCELLED', notCarriedOut);
      check('CANCELLED tasks nobody cancelled', cancelledUnasked);
      check('job counters unlike the per-state task counts', JSON.stringify(counters) === JSON.stringify(sortKeys(perState)) ? [] : [JSON.stringify({ counters, perState })]);
      check('job', job?.total === DEVICES && ['COMPLETED', 'COMPLETED_WITH_ERRORS'].includes(job.status) ? [] : [JSON.stringify(job)]);
      check('task histories with a gap or a duplicate', history.map((h) => JSON.stringify(h)));
      check('final task states no webhook POST carried', unnotified);
      check('task.status events no webhook POST carried', lostEvents);
      check('webhook POSTs whose signature did not verify', receiver.badSignatures().map((e) => e.id));
      check('no task was cancelled (the plan cancels some)', (perState.CANCELLED ?? 0) > 0 ? [] : ['none']);
      // The cancelled rollout: what had ended before cancelJob stays as it ended (a QUERY completes
      // or fails); everything else is CANCELLED, the worker's kill -9 notwithstanding.
      log(`cancelled rollout: tasks ${JSON.stringify(countBy(cancelledTasks, (t) => t.status))}; job ${JSON.stringify(cancelledJob)}`);
      check('tasks in the cancelled rollout', cancelledTasks.length === CANCELLED_DEVICES ? [] : [`${cancelledTasks.length} of ${CANCELLED_DEVICES}`]);
      check(
        'tasks of the cancelled rollout neither ended before the cancel nor CANCELLED',
        cancelledTasks.filter((t) => !['CANCELLED', 'COMPLETED', 'FAILED'].includes(t.status)).map((t) => `${t.taskId} ${t.status}`),
      );
      check('cancelled rollout', cancelledJob?.status === 'CANCELLED' && (cancelledJob.counters.CANCELLED ?? 0) > 0 ? [] : [JSON.stringify(cancelledJob)]);
      expect(problems).toEqual({});
      passed = true;
      log(`passed in ${((Date.now() - started) / 1000).toFixed(0)} s (rollout ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    },
  );
}
