/** What a device's answers mean for a task: pure functions from outcomes and alerts to state changes. */
import { isMoOperation, type ResultItem, type TaskStatus } from '../../domain/tasks.js';
import type { CommandOutcome, DeviceAlert } from '../../dm/server/ports.js';
import type { CommandResult } from '../../dm/session/server-commands.js';
import type { TaskChange } from '../ports.js';
import { execCorrelator } from './plan.js';
import type { RunSubject } from './run-facts.js';

export interface Decision {
  to: TaskStatus;
  change: TaskChange;
}

const ok = (s: number) => s >= 200 && s < 300;

export const SSE_ALERT = 'org.openmobilealliance.dm.singleshotexec';
export const SSE_EXECFAILED_ALERT = 'org.openmobilealliance.dm.singleshotexec.execfailed';

/** Interprets the run request's outcome once every command has its status. */
export function interpretRun(task: RunSubject, o: CommandOutcome): Decision {
  if (o.outcome === 'rejected') {
    return { to: 'FAILED', change: { event: 'request-rejected', detail: o.reason ?? 'the device cannot take this request' } };
  }
  let results: CommandResult[] = o.results;
  if (task.bOptin) {
    const answer = results.find((r) => r.index === 0);
    if (answer?.status !== 200) {
      const code = answer?.status ?? 215;
      const why = code === 304 ? 'the user declined' : code === 214 ? 'the user cancelled' : `confirmation answered ${code}`;
      return { to: 'FAILED', change: { event: 'opt-in-declined', dmStatus: code, detail: why } };
    }
    results = results.filter((r) => r.index !== 0);
  }
  const failed = results.find((r) => !ok(r.status));
  if (task.operation.name === 'SCHEDULED_EXEC') {
    const go = results.find((r) => r.verb === 'Exec');
    if (go && (go.status === 200 || go.status === 202)) {
      return { to: 'SCHEDULED', change: { event: 'schedule-armed', dmStatus: go.status, correlator: correlatorOf(task) } };
    }
    const code = go?.status ?? failed?.status ?? 500;
    return { to: 'FAILED', change: { event: 'schedule-refused', dmStatus: code, detail: describe(results) } };
  }
  if (failed) {
    return { to: 'FAILED', change: { event: 'command-failed', dmStatus: failed.status, detail: describe(results) } };
  }
  const last = results[results.length - 1]?.status ?? 200;
  const values: ResultItem[] = results
    .filter((r) => r.verb === 'Get' && r.data !== undefined)
    .map((r) => ({ uri: r.uri ?? '', value: r.data!, ...(r.format ? { format: r.format } : {}) }));
  // A 202 is the device's promise of a final alert; awaitResult makes the task wait for it, as a
  // firmware/software operation always does (its alert carries the result).
  const deferred = task.operation.awaitResult || isMoOperation(task.operation.name) ? results.find((r) => r.verb === 'Exec' && r.status === 202) : undefined;
  if (deferred) {
    return {
      to: 'IN_PROGRESS',
      change: {
        event: 'exec-accepted',
        dmStatus: 202,
        results: values,
        correlator: execCorrelator(task.taskId),
        detail: `${deferred.uri ?? 'Exec'} answered 202: awaiting the device's final alert`,
      },
    };
  }
  return { to: 'COMPLETED', change: { event: 'commands-completed', dmStatus: last, results: values } };
}

function correlatorOf(task: RunSubject): string {
  return `sse-${task.taskId}`;
}

function describe(results: CommandResult[]): string {
  return results.map((r) => `${r.verb} ${r.uri ?? ''} ${r.status}`).join('; ');
}

/**
 * Why a report carrying a task's correlator is not that task's report, if it
 * is not (seed 000 §6.3): only the two SingleShotExec alert types, from the
 * task's MO. Clients often name a node under the MO (its Go) rather than the
 * MO itself (notes §13), so any node under it matches.
 */
export function scheduleReportMismatch(alert: DeviceAlert, moUri: string | undefined): string | undefined {
  if (moUri === undefined) return 'the task is not a SingleShotExec';
  if (alert.alertType !== SSE_ALERT && alert.alertType !== SSE_EXECFAILED_ALERT) {
    return `alert type ${alert.alertType || '(none)'} is not a SingleShotExec report`;
  }
  if (alert.source === undefined) return `no Source; expected ${moUri}`;
  const source = bareUri(alert.source);
  const mo = bareUri(moUri);
  if (source !== mo && !source.startsWith(`${mo}/`)) return `Source ${alert.source} is not the task's MO ${moUri}`;
  return undefined;
}

/** A URI as devices vary it: without `./` and trailing `/`. */
function bareUri(uri: string): string {
  return uri.trim().replace(/^\.\//, '').replace(/\/+$/, '');
}

/** The SingleShotExec report (seed 000 §6.3.4). */
export function interpretScheduleReport(alert: DeviceAlert): Decision {
  const code = Number.parseInt(alert.data ?? '', 10);
  const detail = `${alert.alertType} ${alert.data ?? ''} (mark ${alert.mark})`;
  if (alert.alertType === SSE_EXECFAILED_ALERT) {
    return { to: 'FAILED', change: { event: 'target-exec-failed', resultCode: Number.isNaN(code) ? 500 : code, detail } };
  }
  if (Number.isNaN(code)) return { to: 'FAILED', change: { event: 'schedule-report-unreadable', detail } };
  if (code === 200 || (code >= 250 && code <= 299)) {
    return { to: 'COMPLETED', change: { event: 'schedule-executed', resultCode: code, detail } };
  }
  if (code === 401) return { to: 'MISSED', change: { event: 'schedule-missed', resultCode: code, detail } };
  return { to: 'FAILED', change: { event: 'schedule-failed', resultCode: code, detail } };
}
