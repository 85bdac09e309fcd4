/**
 * Long operations: work the device accepts now and finishes later (an Exec
 * answered 202, or a FUMO/SCOMO operation a SingleShotExec started), ending
 * with the device's own Generic Alert (1226; notes §5, §10, §11, §13).
 *
 * This module says which kind of long operation a task waits for and what a
 * final alert means for each kind, as pure functions. The broker owns the
 * flow (correlation, state moves, the deadline). A kind's interpreter is one
 * entry of FINAL_ALERT_INTERPRETERS: the FUMO/SCOMO tables replace theirs
 * without touching the flow.
 */
import type { DeviceCapability } from '../../domain/registry.js';
import { isMoOperation, type Task } from '../../domain/tasks.js';
import {
  describeFumoResult,
  describeScomoResult,
  fumoOperationOfAlertType,
  fumoOperationOfNode,
  isUnder,
  normaliseAlertType,
  parseResultCode,
  parseScomoOperationNode,
  parseScomoResultData,
  FUMO_ALERT_TYPE,
  type ResultMeaning,
  SCOMO_ALERT_TYPE,
} from '../../dm/mo/index.js';
import type { DeviceAlert } from '../../dm/server/ports.js';

export type LongOperationKind = 'exec' | 'fumo' | 'scomo';

/** What a final alert means for its task: the end state, or why it is not this task's end. */
export type FinalAlertReading =
  | { ends: true; to: 'COMPLETED' | 'FAILED'; resultCode: number; meaning: string }
  | { ends: false; why: string };

export type FinalAlertInterpreter = (alert: DeviceAlert) => FinalAlertReading;

/**
 * The integer result code in an alert's Data: bare (FUMO, SingleShotExec,
 * generic Execs) or as SCOMO's `<ResultCode>1200</ResultCode>`. Formats vary
 * between clients (int, chr, none: notes §13.4), so the text decides.
 */
export function resultCodeOf(data: string | undefined): number | undefined {
  // One reader of result Data (src/dm/mo): bare, or in SCOMO's tags (escaped too), linear.
  return parseScomoResultData(data ?? '').resultCode;
}

/**
 * A generic Exec's final alert: any alert type (the target's MO defines it,
 * and the gateway knows none of them), success iff the result code is 2xx.
 * An alert without an integer result code ends nothing.
 */
export const readExecFinalAlert: FinalAlertInterpreter = (alert) => {
  const code = resultCodeOf(alert.data);
  if (code === undefined) return { ends: false, why: `no integer result code in Data ${JSON.stringify(alert.data ?? '')}` };
  const ok = code >= 200 && code < 300;
  return { ends: true, to: ok ? 'COMPLETED' : 'FAILED', resultCode: code, meaning: `${alert.alertType || '(no type)'} reported ${code}` };
};

/**
 * A result code read against its MO's table (src/dm/mo): success and listed
 * failures (vendor ranges included) end the task with the code's meaning; a
 * code the table does not know ends nothing (issue 14: recorded, the task
 * unchanged), so a client's unknown code cannot pass for a result.
 */
function byTable(what: string, code: number, result: ResultMeaning): FinalAlertReading {
  const meaning = `${what}: ${code} ${result.meaning}`;
  if (result.class === 'success') return { ends: true, to: 'COMPLETED', resultCode: code, meaning };
  if (result.class === 'failure') return { ends: true, to: 'FAILED', resultCode: code, meaning };
  return { ends: false, why: `result code ${code} is outside the ${what} table` };
}

/** FUMO (notes §10): a firmwareupdate.* alert type, its code read by describeFumoResult. */
export const readFumoFinalAlert: FinalAlertInterpreter = (alert) => {
  const operation = fumoOperationOfAlertType(alert.alertType);
  if (!operation) return { ends: false, why: `alert type ${alert.alertType || '(none)'} is not a FUMO result` };
  const code = parseResultCode(alert.data ?? '');
  if (code === undefined) return { ends: false, why: 'no integer result code' };
  return byTable(`FUMO ${operation}`, code, describeFumoResult(code));
};

export const SCOMO_FINAL_TYPE = SCOMO_ALERT_TYPE;
/** The alert types that end a FUMO operation (the alert router listens for them). */
export const FUMO_FINAL_ALERT_TYPES: readonly string[] = Object.values(FUMO_ALERT_TYPE);

/** SCOMO (notes §11): OperationComplete, its ResultCode read by describeScomoResult. */
export const readScomoFinalAlert: FinalAlertInterpreter = (alert) => {
  if (normaliseAlertType(alert.alertType) !== SCOMO_ALERT_TYPE) return { ends: false, why: `alert type ${alert.alertType || '(none)'} is not a SCOMO result` };
  const code = parseScomoResultData(alert.data ?? '').resultCode;
  if (code === undefined) return { ends: false, why: 'no integer ResultCode' };
  return byTable('SCOMO', code, describeScomoResult(code));
};

export const FINAL_ALERT_INTERPRETERS: Readonly<Record<LongOperationKind, FinalAlertInterpreter>> = {
  exec: readExecFinalAlert,
  fumo: readFumoFinalAlert,
  scomo: readScomoFinalAlert,
};

/** A URI as devices vary it: without `./` and trailing `/`. */
function bare(uri: string): string {
  return uri.trim().replace(/^\.\//, '').replace(/\/+$/, '');
}

/**
 * The long operation a SingleShotExec's target starts, if any: the one place
 * that decides whether a schedule's report ends its task or only starts the
 * wait for the operation's own alert (seed 000's editor's note: the SSE report
 * does not mean the operation finished). A FUMO operation node
 * (`<fumoRoot>/<x>/Download|Update|DownloadAndUpdate`) or a SCOMO Operations
 * node (`<scomoRoot>/.../Operations/<op>`) under the roots the model's
 * capability declares. A model that declares no root: no target is treated as
 * long, since guessing from names alone would leave a task of a model without
 * that MO waiting a whole LONG_OPERATION_SECONDS for an alert never sent.
 */
export function scheduledLongOperation(targetUri: string, capability: Pick<DeviceCapability, 'fumoRoot' | 'scomoRoot'>): LongOperationKind | undefined {
  const target = bare(targetUri);
  const { fumoRoot, scomoRoot } = capability;
  if (fumoRoot && isUnder(target, fumoRoot) && fumoOperationOfNode(target)) {
    // `<fumoRoot>/<Op>` (the root is the FUMO node) or `<fumoRoot>/<x>/<Op>` (the root holds instances).
    const depth = target.split('/').length - bare(fumoRoot).split('/').length;
    if (depth === 1 || depth === 2) return 'fumo';
  }
  if (scomoRoot && isUnder(target, scomoRoot) && parseScomoOperationNode(target)) return 'scomo';
  return undefined;
}

/**
 * Whether an alert's Source names this target: the node itself, a node above
 * it (the FUMO instance, as the spec says) or under it (the executed node, as
 * many clients send: notes §13.3).
 */
export function sourceConcerns(source: string | undefined, targetUri: string | undefined): boolean {
  if (source === undefined || targetUri === undefined) return false;
  const s = bare(source);
  const t = bare(targetUri);
  return s !== '' && (s === t || t.startsWith(`${s}/`) || s.startsWith(`${t}/`));
}

/** The long operation a task waits for once the device has accepted it, if any. */
export function longOperationKindOf(task: Task, capability: Pick<DeviceCapability, 'fumoRoot' | 'scomoRoot'> | undefined): LongOperationKind | undefined {
  const name = task.operation.name;
  if (name === 'SCHEDULED_EXEC') {
    return capability && task.operation.targetUri ? scheduledLongOperation(task.operation.targetUri, capability) : undefined;
  }
  if (name === 'FIRMWARE_UPDATE') return 'fumo';
  if (isMoOperation(name)) return name === 'SOFTWARE_INVENTORY' ? undefined : 'scomo';
  return task.operation.awaitResult ? 'exec' : undefined;
}
