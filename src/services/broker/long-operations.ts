/**
 * The flow of long operations (IN_PROGRESS): the deadline a task gets when
 * the device accepts one, the final alert that ends it, and the expiry when
 * none comes within LONG_OPERATION_SECONDS. What an alert means per kind of
 * operation is final-alerts.ts; the broker decides when a task becomes
 * IN_PROGRESS (interpret.ts, and its SingleShotExec report handling).
 */
import type { Logger } from 'pino';
import type { Task } from '../../domain/tasks.js';
import type { DeviceAlert } from '../../dm/server/ports.js';
import { correlationId, withCorrelation } from '../../observability/correlation.js';
import type { Clock, DeviceMoRoots, Transactor } from '../ports.js';
import {
  FINAL_ALERT_INTERPRETERS,
  type FinalAlertInterpreter,
  type FinalAlertReading,
  type LongOperationKind,
  longOperationKindOf,
  sourceConcerns,
} from './final-alerts.js';
import { taskIdFromExecCorrelator } from './plan.js';
import type { TaskJobs } from './ports.js';
import { moveTask } from './task-moves.js';

export interface LongOperationDeps {
  tx: Transactor;
  jobs: Pick<TaskJobs, 'expire'>;
  clock: Clock;
  logger: Logger;
  /** LONG_OPERATION_SECONDS in ms. */
  longOperationMs: number;
  /** Readings per kind of long operation replacing FINAL_ALERT_INTERPRETERS' (tests, vendor tables). */
  finalAlerts?: Partial<Record<LongOperationKind, FinalAlertInterpreter>>;
}

export class LongOperations {
  private readonly interpreters: Record<LongOperationKind, FinalAlertInterpreter>;

  constructor(private readonly d: LongOperationDeps) {
    this.interpreters = { ...FINAL_ALERT_INTERPRETERS, ...d.finalAlerts };
  }

  /** The task just became IN_PROGRESS at `at`: its deadline job (the id carries the time, so a retry adds nothing). */
  started(taskId: string, at: number): Promise<void> {
    return this.d.jobs.expire(taskId, new Date(at + this.d.longOperationMs));
  }

  /** A final alert under an Exec's correlator (`exec-<taskId>`). Returns true when it ended its task. */
  async onExecAlert(alert: DeviceAlert): Promise<boolean> {
    const taskId = alert.correlator ? taskIdFromExecCorrelator(alert.correlator) : undefined;
    const task = taskId ? await this.d.tx.stores.tasks.get(taskId) : undefined;
    if (!task || task.deviceId !== alert.deviceId) return false;
    return this.onFinalAlert(task, alert);
  }

  /**
   * A FUMO/SCOMO final alert without a correlator. A schedule's target is
   * executed by the device's SingleShotExec client, which sends none, so the
   * operation's alert may carry none either (notes §5: none sent, none
   * returned). It ends the device's oldest IN_PROGRESS scheduled task whose
   * target its Source names. One with a correlator is matched by that only.
   */
  async onUncorrelatedFinalAlert(alert: DeviceAlert): Promise<boolean> {
    if (alert.correlator) return false;
    const open = await this.d.tx.stores.tasks.openForDevice(alert.deviceId, 'SCHEDULED_EXEC');
    const task = open.find((t) => t.status === 'IN_PROGRESS' && sourceConcerns(alert.source, t.operation.targetUri));
    return task ? this.onFinalAlert(task, alert) : false;
  }

  /**
   * Ends an IN_PROGRESS task by its long operation's final alert, read by the
   * operation kind's interpreter. An alert that is not that end (another state,
   * wrong type, a code outside the table) changes nothing: the task's history
   * says why, and the router records the alert as unhandled.
   */
  onFinalAlert(task: Task, alert: DeviceAlert): Promise<boolean> {
    // Under the id of the call that created the task: the alert may come hours later, to any process.
    return withCorrelation(task.correlationId ?? correlationId(), () => this.readFinalAlert(task, alert));
  }

  private async readFinalAlert(task: Task, alert: DeviceAlert): Promise<boolean> {
    const kind = await this.kindOf(task);
    const reading: FinalAlertReading =
      task.status !== 'IN_PROGRESS' || !kind
        ? { ends: false, why: `the task is ${task.status}, not waiting for a final alert` }
        : this.interpreters[kind](alert);
    this.d.logger.debug(
      { deviceId: alert.deviceId, taskId: task.taskId, correlator: alert.correlator, alertType: alert.alertType, kind, reading },
      'Generic Alert read as a final alert',
    );
    if (!reading.ends) {
      const seen = `${alert.alertType || '(no type)'} ${alert.data ?? ''}`.trim();
      this.d.logger.warn({ deviceId: alert.deviceId, taskId: task.taskId, alertType: alert.alertType }, `final alert ignored: ${reading.why}`);
      await this.d.tx.run((s) => s.tasks.note(task.taskId, { event: 'final-alert-ignored', detail: `${seen}: ${reading.why}` }, alert.at));
      return false;
    }
    await this.d.tx.run((s) =>
      moveTask(s, task.taskId, reading.to, {
        event: reading.to === 'COMPLETED' ? 'operation-succeeded' : 'operation-failed',
        resultCode: reading.resultCode,
        detail: reading.meaning,
        from: ['IN_PROGRESS'],
      }, alert.at),
    );
    return true;
  }

  /** IN_PROGRESS past its deadline (counted from entering IN_PROGRESS): EXPIRED; before it, looked at again then. */
  async expire(task: Task, now: number): Promise<void> {
    const history = await this.d.tx.stores.tasks.history(task.taskId);
    const since = history.findLast((h) => h.toStatus === 'IN_PROGRESS' && h.fromStatus !== 'IN_PROGRESS')?.at.getTime() ?? now;
    const due = since + this.d.longOperationMs;
    if (due > now) {
      await this.d.jobs.expire(task.taskId, new Date(due));
      return;
    }
    await this.d.tx.run((s) =>
      moveTask(s, task.taskId, 'EXPIRED', {
        event: 'long-operation-timeout',
        from: ['IN_PROGRESS'],
        detail: `no final alert within ${Math.round(this.d.longOperationMs / 1000)} s of the device accepting the operation`,
      }, now),
    );
  }

  /**
   * The long operation the task runs once accepted; a schedule's depends on its model's FUMO/SCOMO roots.
   * `roots`: the device's, when the caller has read them already (one read for the report's handling).
   */
  async kindOf(task: Task, roots?: DeviceMoRoots): Promise<LongOperationKind | undefined> {
    if (task.operation.name !== 'SCHEDULED_EXEC') return longOperationKindOf(task, undefined);
    // The capability's roots, else those found on this device (mo-operations.ts).
    const where = roots ?? (await this.d.tx.stores.capabilities.rootsOfDevice(task.deviceId));
    const fumoRoot = where?.capability.fumoRoot ?? where?.found?.fumo;
    const scomoRoot = where?.capability.scomoRoot ?? where?.found?.scomo;
    return longOperationKindOf(task, { ...(fumoRoot ? { fumoRoot } : {}), ...(scomoRoot ? { scomoRoot } : {}) });
  }

}
