/**
 * Validates an OperationDefinition before anything is queued: the verbs each
 * operation allows, device URIs, formats, and for SCHEDULED_EXEC the target
 * and the time (UTC with Z, or local time; never in the past unless this is a
 * test cycle).
 */
import { DmwsiError, invalidArgument } from './errors.js';
import {
  COMMAND_VERBS,
  type CommandVerb,
  isMoOperation,
  type MoOperationName,
  OPERATION_NAMES,
  type OperationCommand,
  type OperationDefinition,
  type OperationName,
} from './tasks.js';

// Linear: anchored, bounded repetitions of '/'-led segments that cannot hold '/'.
const DEVICE_URI = /^\.(\/[^/\s?#]{1,64}){1,16}$/;
const FORMATS = new Set(['b64', 'bin', 'bool', 'chr', 'int', 'node', 'null', 'xml', 'date', 'time', 'float']);
const MAX_COMMANDS = 64;

/** Which verbs each operation may carry; SCHEDULED_EXEC builds its own commands. */
const VERBS: Record<OperationName, ReadonlySet<CommandVerb>> = {
  QUERY: new Set(['Get']),
  UPDATE: new Set(['Replace', 'Add']),
  DELETE: new Set(['Delete']),
  EXEC: new Set(['Exec']),
  SCHEDULED_EXEC: new Set(),
  CUSTOM: new Set(COMMAND_VERBS),
  FIRMWARE_UPDATE: new Set(),
  SOFTWARE_INSTALL: new Set(),
  SOFTWARE_ACTIVATE: new Set(),
  SOFTWARE_DEACTIVATE: new Set(),
  SOFTWARE_REMOVE: new Set(),
  SOFTWARE_INVENTORY: new Set(),
};

/** What each firmware/software operation names besides itself. */
const MO_NEEDS: Record<MoOperationName, 'contentId' | 'componentId' | undefined> = {
  FIRMWARE_UPDATE: 'contentId',
  SOFTWARE_INSTALL: 'contentId',
  SOFTWARE_ACTIVATE: 'componentId',
  SOFTWARE_DEACTIVATE: 'componentId',
  SOFTWARE_REMOVE: 'componentId',
  SOFTWARE_INVENTORY: undefined,
};
// A component ID becomes a node name of the SCOMO tree (Inventory/Deployed/<ID>): one segment.
const COMPONENT_ID = /^[^/\s?#]{1,64}$/;
const CONTENT_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The gateway plans these: no commands, only what the operation names. */
function checkMoOperation(op: OperationDefinition, name: MoOperationName): void {
  if (op.commands.length > 0) throw invalidArgument('operation.commands', `${name} takes no commands: the gateway plans them`);
  if (op.targetUri !== undefined || op.atTime !== undefined) {
    throw invalidArgument('operation.targetUri', 'targetUri and atTime belong to SCHEDULED_EXEC only');
  }
  if (op.awaitResult !== undefined) throw invalidArgument('operation.awaitResult', `${name} always awaits the device's final alert`);
  const needs = MO_NEEDS[name];
  if (needs === 'contentId') {
    if (!op.contentId || !CONTENT_ID.test(op.contentId)) throw invalidArgument('operation.contentId', `${name} needs the contentId of its package`);
  } else if (op.contentId !== undefined) {
    throw invalidArgument('operation.contentId', `${name} takes no contentId`);
  }
  if (needs === 'componentId') {
    if (!op.componentId || !COMPONENT_ID.test(op.componentId)) {
      throw invalidArgument('operation.componentId', `${name} needs the deployed component's ID (one node name, at most 64 characters)`);
    }
  } else if (op.componentId !== undefined) {
    throw invalidArgument('operation.componentId', `${name} takes no componentId`);
  }
  if (op.activate !== undefined && name !== 'SOFTWARE_INSTALL') throw invalidArgument('operation.activate', 'activate belongs to SOFTWARE_INSTALL only');
}

/** A SingleShotExec time: the instant (UTC, or local read as UTC for checks) and the text sent to the device. */
export interface ScheduleTime {
  /** As the device gets it: ISO-8601 basic, `20250301T020000Z` or local `20250301T020000`. */
  deviceText: string;
  utc: boolean;
  /** The instant (for local times: the wall clock read as UTC). */
  at: Date;
}

// Linear: anchored; the one unbounded run (fraction digits) is followed by non-digits only.
const AT_TIME = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.\d+)?(Z)?$/;

export function parseScheduleTime(text: string): ScheduleTime | undefined {
  const m = AT_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, z] = m as unknown as string[];
  const at = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  if (Number.isNaN(at.getTime()) || at.getUTCDate() !== Number(d) || at.getUTCMonth() !== Number(mo) - 1) return undefined;
  return { deviceText: `${y}${mo}${d}T${h}${mi}${s}${z ?? ''}`, utc: z === 'Z', at };
}

/** The same schedule time `seconds` later, in the same zone style (UTC `…Z` or local): a later wave's AtTime. */
export function laterScheduleTime(text: string, seconds: number): string {
  const t = parseScheduleTime(text);
  if (!t) throw new Error(`not a schedule time: ${text}`);
  const iso = new Date(t.at.getTime() + seconds * 1000).toISOString().slice(0, 19);
  return t.utc ? `${iso}Z` : iso;
}

/** Local times may be up to 12 h behind UTC (UTC-12): only a time past everywhere counts as past. */
const LOCAL_SLACK_MS = 12 * 3600_000;

function checkCommand(op: OperationName, c: OperationCommand, i: number): void {
  const at = `operation.commands[${i + 1}]`;
  if (!(COMMAND_VERBS as readonly string[]).includes(c.verb)) {
    throw invalidArgument(`${at}.verb`, `must be one of ${COMMAND_VERBS.join(', ')}`);
  }
  if (!VERBS[op].has(c.verb)) throw invalidArgument(`${at}.verb`, `${op} does not take ${c.verb}`);
  if (!DEVICE_URI.test(c.uri)) throw invalidArgument(`${at}.uri`, 'must be a device URI such as ./DevInfo/Mod');
  if (c.format !== undefined && !FORMATS.has(c.format)) {
    throw invalidArgument(`${at}.format`, `must be one of ${[...FORMATS].join(', ')}`);
  }
  if ((c.verb === 'Replace' || c.verb === 'Add') && c.value === undefined && c.format !== 'node') {
    throw invalidArgument(`${at}.value`, `${c.verb} needs a value (or format node)`);
  }
  if ((c.verb === 'Get' || c.verb === 'Delete') && c.value !== undefined) {
    throw invalidArgument(`${at}.value`, `${c.verb} takes no value`);
  }
}

export interface ValidatedOperation {
  operation: OperationDefinition;
  schedule?: ScheduleTime;
}

export function validateOperation(op: OperationDefinition, opts: { now: Date; testCycle: boolean }): ValidatedOperation {
  if (!(OPERATION_NAMES as readonly string[]).includes(op.name)) {
    throw invalidArgument('operation.name', `must be one of ${OPERATION_NAMES.join(', ')}`);
  }
  const name = op.name as OperationName;
  if (isMoOperation(name)) {
    checkMoOperation(op, name);
    return { operation: op };
  }
  if (op.contentId !== undefined || op.componentId !== undefined || op.activate !== undefined) {
    throw invalidArgument('operation.contentId', 'contentId, componentId and activate belong to the firmware and software operations');
  }
  if (op.commands.length > MAX_COMMANDS) throw invalidArgument('operation.commands', `at most ${MAX_COMMANDS} commands`);
  op.commands.forEach((c, i) => {
    checkCommand(name, c, i);
  });
  if (op.awaitResult && !op.commands.some((c) => c.verb === 'Exec')) {
    throw invalidArgument('operation.awaitResult', 'awaits the final alert of an Exec: the operation has no Exec command');
  }
  if (op.name !== 'SCHEDULED_EXEC') {
    if (op.commands.length === 0) throw invalidArgument('operation.commands', `${op.name} needs at least one command`);
    if (op.targetUri !== undefined || op.atTime !== undefined) {
      throw invalidArgument('operation.targetUri', 'targetUri and atTime belong to SCHEDULED_EXEC only');
    }
    return { operation: op };
  }
  if (op.commands.length > 0) throw invalidArgument('operation.commands', 'SCHEDULED_EXEC takes targetUri and atTime, not commands');
  if (!op.targetUri || !DEVICE_URI.test(op.targetUri)) {
    throw invalidArgument('operation.targetUri', 'SCHEDULED_EXEC needs a device URI to execute, such as ./FUMO/fw1/Update');
  }
  if (!op.atTime) throw invalidArgument('operation.atTime', 'SCHEDULED_EXEC needs atTime');
  const schedule = parseScheduleTime(op.atTime);
  if (!schedule) throw invalidArgument('operation.atTime', 'must be a date and time, UTC with Z or local without a zone');
  const past = schedule.utc ? schedule.at < opts.now : schedule.at.getTime() + LOCAL_SLACK_MS < opts.now.getTime();
  if (past && !opts.testCycle) throw invalidArgument('operation.atTime', `${op.atTime} is in the past`);
  return { operation: op, schedule };
}

export function validatePolicy(policy: number): 10 | 20 | 30 {
  if (policy === 40) {
    throw new DmwsiError('NotImplemented', 'acceptDevicePolicy 40 (carrier call-back) is not implemented');
  }
  if (policy !== 10 && policy !== 20 && policy !== 30) throw invalidArgument('acceptDevicePolicy', 'must be 10, 20, 30 or 40');
  return policy;
}
