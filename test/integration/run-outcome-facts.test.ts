/**
 * The outcome of a task's run request decided from the facts the request
 * carried (ServerCommandRequest.facts, handed back as CommandOutcome.facts),
 * on SQLite and PostgreSQL with a real Redis: the task is not read before its
 * move, and every case ends exactly as the same outcome without facts (a
 * request queued before they were carried, whose task is read) ends: the
 * same state, history rows and follow-up requests.
 */
import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { CommandOutcome } from '../../src/dm/server/ports.js';
import type { CommandResult, ServerCommandRequest } from '../../src/dm/session/server-commands.js';
import type { OperationDefinition, Task, TaskStatus } from '../../src/domain/tasks.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import type { RedisDeviceRequestQueue } from '../../src/queue/device-request-queue.js';
import type { BullTaskJobs } from '../../src/queue/task-jobs.js';
import { SecretBox } from '../../src/security/secret-box.js';
import type { DeploymentBroker } from '../../src/services/broker/deployment-broker.js';
import { sseNodeUri } from '../../src/services/broker/plan.js';
import type { Stores, Transactor } from '../../src/services/ports.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { freshDatabase } from '../support/fresh-database.js';
import { startStoreBroker } from '../support/store-broker.js';
import { postgresUrl } from '../support/postgres.js';

const pgUrl = await postgresUrl();
const T0 = 1_700_000_000_000;

const backends = [
  { name: 'sqlite', available: true },
  { name: 'postgres', available: pgUrl !== undefined },
] as const;

/** The transactor, every store call the broker makes through it listed (the database does the work). */
function counting(tx: Transactor): { tx: Transactor; calls: string[] } {
  const calls: string[] = [];
  const wrap = (stores: Stores): Stores =>
    new Proxy(stores, {
      get: (target, name) => {
        const store = Reflect.get(target, name) as object;
        return new Proxy(store, {
          get: (s, method) => {
            const value = Reflect.get(s, method) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              calls.push(`${String(name)}.${String(method)}`);
              return (value as (...a: unknown[]) => unknown).apply(s, args);
            };
          },
        });
      },
    });
  return { calls, tx: { stores: wrap(tx.stores), run: (work) => tx.run((s) => work(wrap(s))) } };
}

/** An AtTime long after the test (the schedule is armed, never due). */
const FAR_AHEAD = '2099-01-01T00:00:00Z';
const SSE: OperationDefinition = { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime: FAR_AHEAD, commands: [] };
const QUERY: OperationDefinition = { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] };
const EXEC: OperationDefinition = { name: 'EXEC', awaitResult: true, commands: [{ verb: 'Exec', uri: './Ext/Reboot' }] };

/** Each command's status: `status(spec index)`; a Get answers with a value. */
function answered(request: ServerCommandRequest, status: (index: number) => number): CommandResult[] {
  return request.commands.map((c, index) => ({
    index,
    verb: c.verb,
    ...('uri' in c ? { uri: c.uri } : {}),
    status: status(index),
    ...(c.verb === 'Get' ? { data: 'X1', format: 'chr', type: 'text/plain' } : {}),
  }));
}

interface Case {
  name: string;
  ends: TaskStatus;
  operation: OperationDefinition;
  bOptin?: boolean;
  /** What happens to the task between the request's taking and its outcome. */
  meanwhile?: (tx: Transactor, taskId: string) => Promise<unknown>;
  outcome: (request: ServerCommandRequest) => Pick<CommandOutcome, 'outcome' | 'results' | 'reason'>;
  /** The store calls of the outcome with facts. */
  calls: string[];
  /**
   * PostgreSQL: the statements it sends through the pool, the device's read for a wake included
   * (a unit of work's go on a client of its own: not counted).
   */
  statements?: number;
}

const cases: Case[] = [
  {
    name: 'a SingleShotExec armed',
    ends: 'SCHEDULED',
    operation: SSE,
    outcome: (r) => ({ outcome: 'completed', results: answered(r, () => 200) }),
    calls: ['tasks.transition'],
    statements: 1,
  },
  {
    name: 'a SingleShotExec the device refused (its MO is deleted)',
    ends: 'FAILED',
    operation: SSE,
    outcome: (r) => ({ outcome: 'completed', results: answered(r, (i) => (i === 3 ? 500 : 200)) }),
    calls: ['tasks.transition', 'capabilities.ofDevice'],
    statements: 2,
  },
  {
    name: 'a SingleShotExec armed after its task expired (its MO is deleted)',
    ends: 'EXPIRED',
    operation: SSE,
    meanwhile: (tx, taskId) => tx.stores.tasks.transition(taskId, 'EXPIRED', { event: 'deadline-passed' }, T0 + 2),
    outcome: (r) => ({ outcome: 'completed', results: answered(r, () => 200) }),
    calls: ['tasks.transition', 'capabilities.ofDevice'],
    statements: 3,
  },
  {
    name: 'a query answered',
    ends: 'COMPLETED',
    operation: QUERY,
    outcome: (r) => ({ outcome: 'completed', results: answered(r, () => 200) }),
    calls: ['tasks.transition'],
    statements: 1,
  },
  {
    name: 'a query whose opt-in the user declined',
    ends: 'FAILED',
    operation: QUERY,
    bOptin: true,
    outcome: (r) => ({ outcome: 'completed', results: answered(r, (i) => (i === 0 ? 304 : 215)) }),
    calls: ['tasks.transition'],
    statements: 1,
  },
  {
    name: 'a query answered after its task was cancelled (noted as ignored)',
    ends: 'CANCELLED',
    operation: QUERY,
    meanwhile: (tx, taskId) => tx.stores.tasks.transition(taskId, 'CANCELLED', { event: 'cancelled' }, T0 + 2),
    outcome: (r) => ({ outcome: 'completed', results: answered(r, () => 200) }),
    calls: ['tasks.transition', 'tasks.note'],
    statements: 2,
  },
  {
    name: 'an Exec awaiting its final alert (202)',
    ends: 'IN_PROGRESS',
    operation: EXEC,
    outcome: (r) => ({ outcome: 'completed', results: answered(r, () => 202) }),
    calls: ['tasks.transition'],
    statements: 1,
  },
  {
    name: 'a request the device cannot take',
    ends: 'FAILED',
    operation: QUERY,
    outcome: () => ({ outcome: 'rejected', results: [], reason: 'commands[0]: uri must be a non-empty string' }),
    calls: ['tasks.transition'],
    statements: 1,
  },
  {
    name: 'a request refused by the device policy',
    ends: 'FAILED',
    operation: SSE,
    outcome: () => ({ outcome: 'rejected', results: [], reason: 'policy 10: the device reports another TAC' }),
    calls: ['tasks.transition'],
  },
];

for (const backend of backends) {
  describe.skipIf(!backend.available)(`a run outcome with the task's facts on ${backend.name}`, () => {
    let ds: DataSource;
    let tx: TypeormTransactor;
    let counted: ReturnType<typeof counting>;
    let cleanup: () => Promise<void>;
    let jobs: BullTaskJobs;
    let requests: RedisDeviceRequestQueue;
    let closeBroker: () => Promise<void>;
    let broker: DeploymentBroker;
    const prefix = `test-rf-${crypto.randomBytes(4).toString('hex')}`;
    let registered = 0;

    beforeAll(async () => {
      ({ ds, cleanup } = await freshDatabase(backend.name, pgUrl));
      tx = new TypeormTransactor(ds, new SecretBox(crypto.randomBytes(32)));
      counted = counting(tx);
      ({ broker, jobs, requests, close: closeBroker } = startStoreBroker({ redisUrl: inject('redisUrl'), prefix, tx, brokerTx: counted.tx, now: () => T0 + 1 }));
      await tx.stores.capabilities.insert({ ...CAPABILITY, dmVersion: '1.2' }, T0);
    });
    afterAll(async () => {
      await closeBroker?.();
      await cleanup?.();
    });

    /**
     * A task of its own device (no notification channel: its wake is a history row), its run
     * request queued by its notify job and taken into a session; returns the request as queued.
     */
    async function taskInSession(c: Case): Promise<{ task: Task; request: ServerCommandRequest }> {
      const n = ++registered;
      await tx.stores.devices.insert({
        deviceId: imeiN(n),
        phoneNumber: phoneN(n),
        capabilityOid: CAPABILITY.oid,
        authType: 'md5',
        state: 'ACTIVE',
        attributes: {},
        credentials: { clientUsername: `u${n}`, clientPassword: `c${n}`, serverPassword: `s${n}`, clientNonce: 'Y2xpZW50', serverNonce: 'c2VydmVy' },
        createdAt: new Date(T0),
        updatedAt: new Date(T0),
      });
      const taskId = `t${n}-${crypto.randomBytes(3).toString('hex')}`;
      const task: Task = {
        taskId,
        deviceId: imeiN(n),
        phoneNumber: phoneN(n),
        operation: c.operation,
        status: 'QUEUED',
        ...(c.operation.name === 'SCHEDULED_EXEC' ? { correlator: `sse-${taskId}` } : {}),
        results: [],
        bOptin: c.bOptin ?? false,
        acceptDevicePolicy: 30,
        testCycle: false,
        createdBy: 'test',
        createdAt: new Date(T0),
        updatedAt: new Date(T0),
      };
      await tx.stores.tasks.insert(task, 'created');
      await broker.processNotify(task.taskId, false);
      const [request] = await requests.pending(task.deviceId);
      await broker.onRequestsTaken(task.deviceId, [request!.requestId], T0 + 1);
      await c.meanwhile?.(tx, task.taskId);
      return { task, request: request! };
    }

    /** What the outcome left, with the task's own names (its id, its MO's node) made generic. */
    async function endOf(task: Task) {
      const after = (await tx.stores.tasks.get(task.taskId))!;
      const history = (await tx.stores.tasks.history(task.taskId)).map(({ seq, fromStatus, toStatus, event, code, detail }) => ({
        seq,
        fromStatus,
        toStatus,
        event,
        code,
        detail,
      }));
      const queued = await requests.pending(task.deviceId);
      const generic = (v: unknown) =>
        JSON.parse(JSON.stringify(v).replaceAll(sseNodeUri(CAPABILITY.sseRoot, task.taskId), '<node>').replaceAll(task.taskId, '<task>').replaceAll(task.deviceId, '<device>')) as unknown;
      // A task that went IN_PROGRESS at the outcome has its long operation's deadline job.
      const deadlineJob = (await jobs.queue.getJob(`expire-${task.taskId}-${T0 + 3 + 3_600_000}`)) !== undefined;
      return generic({
        deadlineJob,
        status: after.status,
        dmStatus: after.dmStatus,
        correlator: after.correlator,
        results: after.results,
        history,
        queued: queued.map(({ correlationId: _c, ...r }) => r),
      });
    }

    for (const c of cases) {
      it(`${c.name}: the move with no read of the task before it, ending as with a read`, async () => {
        const withFacts = await taskInSession(c);
        const withoutFacts = await taskInSession(c);
        // What the request carries: the task's immutable facts its outcome needs.
        expect(withFacts.request.facts).toEqual({ operation: c.operation.name, bOptin: c.bOptin ?? false, awaitResult: c.operation.awaitResult === true });

        const outcomeOf = ({ task, request }: { task: Task; request: ServerCommandRequest }): CommandOutcome => ({
          deviceId: task.deviceId,
          requestId: request.requestId,
          at: T0 + 3,
          ...c.outcome(request),
        });
        const pool = backend.name === 'postgres' ? (ds.driver as unknown as { master: { query: (...a: unknown[]) => unknown } }).master : undefined;
        const statements = pool ? vi.spyOn(pool, 'query') : undefined;
        counted.calls.length = 0;
        await broker.onOutcome({ ...outcomeOf(withFacts), facts: withFacts.request.facts! });
        const calls = [...counted.calls];
        const sent = statements?.mock.calls.length;
        statements?.mockRestore();
        expect(calls).toEqual(c.calls);
        if (sent !== undefined && c.statements !== undefined) expect(sent).toBe(c.statements);

        counted.calls.length = 0;
        await broker.onOutcome(outcomeOf(withoutFacts));
        // Without facts (queued before they were carried) the task is read first, as ever.
        expect(counted.calls[0]).toBe('tasks.get');
        const end = await endOf(withFacts.task);
        expect(end).toMatchObject({ status: c.ends, deadlineJob: c.ends === 'IN_PROGRESS' });
        expect(end).toEqual(await endOf(withoutFacts.task));
      });
    }
  });
}
