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
import type { Task } from '../../domain/tasks.js';
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
  const text = (data ?? '').trim();
  const m = /^(\d{1,6})$/.exec(text) ?? /<ResultCode>\s*(\d{1,6})\s*<\/ResultCode>/.exec(text);
  return m ? Number(m[1]) : undefined;
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

const FUMO_ALERT_PREFIX = 'org.openmobilealliance.dm.firmwareupdate.';
export const FUMO_FINAL_ALERT_TYPES: readonly string[] = ['download', 'update', 'downloadandupdate'].map((t) => FUMO_ALERT_PREFIX + t);
const FUMO_FINAL_TYPES = new Set(FUMO_FINAL_ALERT_TYPES);

/** FUMO (notes §10): 200 and 250–299 succeed; 400–599 are the table's failures; anything else is outside it. */
export const readFumoFinalAlert: FinalAlertInterpreter = (alert) => {
  if (!FUMO_FINAL_TYPES.has(alert.alertType)) return { ends: false, why: `alert type ${alert.alertType || '(none)'} is not a FUMO result` };
  const code = resultCodeOf(alert.data);
  if (code === undefined) return { ends: false, why: 'no integer result code' };
  if (code === 200 || (code >= 250 && code <= 299)) return { ends: true, to: 'COMPLETED', resultCode: code, meaning: `firmware update reported ${code}` };
  if (code >= 400 && code <= 599) return { ends: true, to: 'FAILED', resultCode: code, meaning: `firmware update failed with ${code}` };
  return { ends: false, why: `result code ${code} is outside the FUMO table` };
};

export const SCOMO_FINAL_TYPE = 'urn:oma:at:scomo:1.0:OperationComplete';

/** SCOMO (notes §11): 1200 and 1250–1299 succeed; 1400–1599 are the table's failures. */
export const readScomoFinalAlert: FinalAlertInterpreter = (alert) => {
  if (alert.alertType !== SCOMO_FINAL_TYPE) return { ends: false, why: `alert type ${alert.alertType || '(none)'} is not a SCOMO result` };
  const code = resultCodeOf(alert.data);
  if (code === undefined) return { ends: false, why: 'no integer ResultCode' };
  if (code === 1200 || (code >= 1250 && code <= 1299)) return { ends: true, to: 'COMPLETED', resultCode: code, meaning: `software operation reported ${code}` };
  if (code >= 1400 && code <= 1599) return { ends: true, to: 'FAILED', resultCode: code, meaning: `software operation failed with ${code}` };
  return { ends: false, why: `result code ${code} is outside the SCOMO table` };
};

export const FINAL_ALERT_INTERPRETERS: Readonly<Record<LongOperationKind, FinalAlertInterpreter>> = {
  exec: readExecFinalAlert,
  fumo: readFumoFinalAlert,
  scomo: readScomoFinalAlert,
};

const FUMO_OPERATION_NODES = new Set(['Download', 'Update', 'DownloadAndUpdate']);

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
  const under = (root: string | undefined) => (root ? target.startsWith(`${bare(root)}/`) : false);
  if (under(capability.fumoRoot)) {
    const rest = target.slice(bare(capability.fumoRoot!).length + 1).split('/');
    if (rest.length === 2 && FUMO_OPERATION_NODES.has(rest[1]!)) return 'fumo';
  }
  if (under(capability.scomoRoot)) {
    const segments = target.split('/');
    if (segments.length >= 2 && segments[segments.length - 2] === 'Operations') return 'scomo';
  }
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
  if (task.operation.name === 'SCHEDULED_EXEC') {
    return capability && task.operation.targetUri ? scheduledLongOperation(task.operation.targetUri, capability) : undefined;
  }
  return task.operation.awaitResult ? 'exec' : undefined;
}
