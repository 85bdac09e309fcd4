/**
 * What a task asks of its device, as DM command requests. Names derived from
 * the task id are deterministic — the SingleShotExec MO node and correlator,
 * the request ids — so a retried job, a redelivered event or a restarted
 * worker always means the same thing to the device.
 */
import crypto from 'node:crypto';
import type { ScheduleTime } from '../../domain/operation-validation.js';
import { isMoOperation, type Task } from '../../domain/tasks.js';
import { scomoPaths } from '../../dm/mo/index.js';
import type { ServerCommandRequest, ServerCommandSpec } from '../../dm/session/server-commands.js';
import { componentGets, discoveryGets, FWV_URI, fumoUpdateSpecs, type MoPlanContext, moOperationSpecs, scomoDownloadName } from './mo-plan.js';
import { runFactsOf } from './run-facts.js';

/** What planning a task needs besides the task: its model's SSE root, and for FUMO/SCOMO the roots and package. */
export interface PlanContext extends MoPlanContext {
  sseRoot?: string;
}

/**
 * run: the task's commands; probe/cleanup/cancel: its schedule's MO; discover/fwv/inventory/components:
 * FUMO/SCOMO readings; unstage: the Download/<X> a SOFTWARE_INSTALL added; update: the FUMO Update
 * after a downloadThenUpdate's Download.
 */
export type RequestPurpose = 'run' | 'probe' | 'cleanup' | 'cancel' | 'discover' | 'fwv' | 'inventory' | 'components' | 'unstage' | 'update';

export const TASK_REQUEST_PREFIX = 'task:';
export const SSE_CORRELATOR_PREFIX = 'sse-';
/** Every other Exec a task sends carries this correlator, so a deferred (202) result can find its task. */
export const EXEC_CORRELATOR_PREFIX = 'exec-';

export function requestIdFor(taskId: string, purpose: RequestPurpose, attempt = 0): string {
  return `${TASK_REQUEST_PREFIX}${taskId}:${purpose}${attempt ? `:${attempt}` : ''}`;
}

export function parseRequestId(requestId: string): { taskId: string; purpose: RequestPurpose } | undefined {
  const m = /^task:([^:]+):(run|probe|cleanup|cancel|discover|fwv|inventory|components|unstage|update)(?::\d+)?$/.exec(requestId);
  return m ? { taskId: m[1]!, purpose: m[2] as RequestPurpose } : undefined;
}

export function sseCorrelator(taskId: string): string {
  return `${SSE_CORRELATOR_PREFIX}${taskId}`;
}

export function execCorrelator(taskId: string): string {
  return `${EXEC_CORRELATOR_PREFIX}${taskId}`;
}

export function taskIdFromExecCorrelator(correlator: string): string | undefined {
  return correlator.startsWith(EXEC_CORRELATOR_PREFIX) ? correlator.slice(EXEC_CORRELATOR_PREFIX.length) : undefined;
}

export function taskIdFromCorrelator(correlator: string): string | undefined {
  return correlator.startsWith(SSE_CORRELATOR_PREFIX) ? correlator.slice(SSE_CORRELATOR_PREFIX.length) : undefined;
}

/** The schedule's node under the model's SSE root: short (MaxSegLen) and derived from the task. */
export function sseNodeUri(sseRoot: string, taskId: string): string {
  return `${sseRoot}/t${crypto.createHash('sha256').update(taskId).digest('hex').slice(0, 15)}`;
}

const OPT_IN_TEXT = 'Your operator would like to update this device. Allow?';

function operationSpecs(task: Task, ctx: PlanContext, schedule: ScheduleTime | undefined): ServerCommandSpec[] {
  const op = task.operation;
  if (isMoOperation(op.name)) {
    // A firmware/software operation always awaits its final alert (DM 2.0: an asynchronous EXEC).
    return moOperationSpecs(task, op.name, ctx, execCorrelator(task.taskId)).map((s) => (s.verb === 'Exec' ? { ...s, awaitReport: true } : s));
  }
  if (op.name === 'SCHEDULED_EXEC') {
    const node = sseNodeUri(ctx.sseRoot!, task.taskId);
    return [
      { verb: 'Add', uri: node, format: 'node' },
      { verb: 'Add', uri: `${node}/TargetURI`, data: op.targetUri!, format: 'chr', type: 'text/plain' },
      { verb: 'Add', uri: `${node}/AtTime`, data: schedule!.deviceText, format: 'chr', type: 'text/plain' },
      // The report comes later with the correlator (DM 2.0: an asynchronous EXEC, reported to its ServerURI).
      { verb: 'Exec', uri: `${node}/Go`, correlator: sseCorrelator(task.taskId), awaitReport: true },
    ];
  }
  return op.commands.map((c): ServerCommandSpec => {
    switch (c.verb) {
      case 'Get':
      case 'Delete':
        return { verb: c.verb, uri: c.uri };
      case 'Exec':
        return {
          verb: 'Exec',
          uri: c.uri,
          correlator: execCorrelator(task.taskId),
          ...(c.value !== undefined ? { data: c.value } : {}),
          ...(op.awaitResult ? { awaitReport: true } : {}),
        };
      default:
        return {
          verb: c.verb,
          uri: c.uri,
          ...(c.value !== undefined ? { data: c.value } : {}),
          format: c.format ?? 'chr',
          ...(c.type ? { type: c.type } : {}),
        };
    }
  });
}

/**
 * The request that carries out the task. Opt-in puts a 1101 confirmation
 * first in a Sequence, so a "No" skips the rest; SingleShotExec is always one
 * Sequence (Atomic forbids Exec).
 */
export function runRequest(
  task: Task,
  ctx: PlanContext | undefined,
  schedule: ScheduleTime | undefined,
  /** > 0 for a request sent again after the first was lost: a new id, so it queues even while the lost one is being removed. */
  attempt = 0,
): ServerCommandRequest {
  const specs = operationSpecs(task, ctx ?? {}, schedule);
  const optIn: ServerCommandSpec[] = task.bOptin
    ? [{ verb: 'Alert', code: 1101, text: OPT_IN_TEXT, options: { minDisplaySeconds: 10, maxDisplaySeconds: 300 } }]
    : [];
  const sequence = task.bOptin || task.operation.name === 'SCHEDULED_EXEC';
  return {
    requestId: requestIdFor(task.taskId, 'run', attempt),
    commands: [...optIn, ...specs],
    ...(sequence ? { container: 'Sequence' as const } : {}),
    // Handed back with the outcome: interpreting it then needs no read of the task.
    facts: runFactsOf(task),
  };
}

/** Is the schedule already on the device? (After a crash or a lost answer: never arm twice.) */
export function probeRequest(taskId: string, sseRoot: string, attempt: number): ServerCommandRequest {
  return { requestId: requestIdFor(taskId, 'probe', attempt), commands: [{ verb: 'Get', uri: sseNodeUri(sseRoot, taskId) }] };
}

/** Removes the schedule's MO: a removed MO never runs. */
export function deleteScheduleRequest(taskId: string, sseRoot: string, purpose: 'cleanup' | 'cancel', attempt = 0): ServerCommandRequest {
  return { requestId: requestIdFor(taskId, purpose, attempt), commands: [{ verb: 'Delete', uri: sseNodeUri(sseRoot, taskId) }] };
}

/** The attempt number in a request id (`task:<id>:probe:2` is 2); 0 without one. */
export function attemptOf(requestId: string): number {
  return Number(/:(\d+)$/.exec(requestId)?.[1] ?? 0);
}

/** Gets of the well-known FUMO or SCOMO roots, to find the MO on a model that does not name it (mo-plan.ts). */
export function discoverRequest(taskId: string, mo: 'fumo' | 'scomo', attempt = 0): ServerCommandRequest {
  return { requestId: requestIdFor(taskId, 'discover', attempt), commands: discoveryGets(mo) };
}

/** The firmware the device runs, read after a FUMO success. */
export function fwvRequest(taskId: string, attempt = 0): ServerCommandRequest {
  return { requestId: requestIdFor(taskId, 'fwv', attempt), commands: [{ verb: 'Get', uri: FWV_URI }] };
}

/** The deployed components' node names (the first step of reading the inventory). */
export function inventoryRequest(taskId: string, scomoRoot: string, attempt = 0): ServerCommandRequest {
  return { requestId: requestIdFor(taskId, 'inventory', attempt), commands: [{ verb: 'Get', uri: scomoPaths(scomoRoot).deployed }] };
}

/** Each deployed component's ID, Name, Version and State. */
export function componentsRequest(taskId: string, scomoRoot: string, names: readonly string[], attempt = 0): ServerCommandRequest {
  return { requestId: requestIdFor(taskId, 'components', attempt), commands: componentGets(scomoRoot, names) };
}

/** Deletes the Download/<X> a SOFTWARE_INSTALL added, once its install has ended. */
export function unstageRequest(taskId: string, scomoRoot: string): ServerCommandRequest {
  return { requestId: requestIdFor(taskId, 'unstage'), commands: [{ verb: 'Delete', uri: scomoPaths(scomoRoot).downloadItem(scomoDownloadName(taskId)) }] };
}

/** The Exec of FUMO Update once a downloadThenUpdate's Download succeeded: one id per task, so a resent alert queues it once. */
export function fumoUpdateRequest(taskId: string, fumoRoot: string, attempt = 0): ServerCommandRequest {
  return { requestId: requestIdFor(taskId, 'update', attempt), commands: fumoUpdateSpecs(fumoRoot, execCorrelator(taskId)) };
}
