/**
 * SingleShotExec (urn:oma:mo:oma-ssemo:1.0) client logic over the management
 * tree: arming on `<X>/Go`, firing once, and the Generic Alert that reports it.
 *
 * Pure: no timers. The caller owns the clock; `arm` tells it when to call
 * `fireSchedule`.
 */
import { genericAlert } from '../generic-alert.js';
import { nodeText } from './node-text.js';
import type { AlertCommand } from '../../dm/codec/types.js';
import { parseAtTime } from './at-time.js';
import type { ManagementTree } from './management-tree.js';

export const SSE_MOID = 'urn:oma:mo:oma-ssemo:1.0';
export const SSE_ALERT_TYPE = 'org.openmobilealliance.dm.singleshotexec';
export const SSE_EXECFAILED_ALERT_TYPE = 'org.openmobilealliance.dm.singleshotexec.execfailed';

/** Annotation on `<X>` holding the id of the schedule armed by its last Go. */
const ARM_ID = 'sse.armId';
/** Annotation on `<X>` holding the id of the schedule already fired. */
const FIRED_ID = 'sse.firedArmId';
/** Annotation on the SSE root counting Go executions, so arm ids never repeat. */
const ARM_SEQ = 'sse.armSeq';

export interface SseSchedule {
  /** Normalised URI of the `<X>` node; the alert's Source. */
  moUri: string;
  /** Normalised target URI, validated when armed. */
  targetUri: string;
  atTime: Date;
  correlator?: string;
  /** Identifies this arming: a newer Go on the same MO supersedes it. */
  armId: number;
}

export interface SseClientOptions {
  /** The SSE root interior node, e.g. `./SSE`. */
  root: string;
  /** Called with each validated schedule; the caller sets its timer. */
  arm: (schedule: SseSchedule) => void;
  /** Status of a successful Go Exec; the notes treat 200 and 202 alike. */
  goStatus?: 200 | 202;
  /** Device zone for AtTime without a zone; default: the process's local zone. */
  utcOffsetMinutes?: number;
}

export type SseMark = 'informational' | 'warning' | 'critical';

export interface SseReport {
  type: typeof SSE_ALERT_TYPE | typeof SSE_EXECFAILED_ALERT_TYPE;
  resultCode: number;
  /** The SSE MO URI (`<X>`). */
  source: string;
  correlator?: string;
  mark: SseMark;
}

export type SseSkipReason = 'mo-deleted' | 'superseded' | 'already-fired' | 'not-armed' | 'not-due';

export type SseFireResult = { report: SseReport } | { report: null; reason: SseSkipReason };

/**
 * Creates the SSE root and the rights of server-created schedule nodes.
 *
 * The MO table gives `<X>` Get only and TargetURI Get only, yet the server must
 * Add `<X>`, `<X>/TargetURI` and `<X>/AtTime` (notes §6, example (b)) and may
 * reuse the MO by replacing TargetURI and AtTime, or delete it. In DM the
 * rights to create and remove nodes are held by the parent (Add) and the node
 * (Delete), granted to the creating server by the ACL; the table lists only
 * what the MO itself defines. So: the root allows Add (creating `<X>`); `<X>`
 * allows Get, Add (its leaves) and Delete (removing the schedule); TargetURI
 * and AtTime allow Get and Replace (reuse); Go allows Exec only. Go is not
 * added by the server in the notes' flow, so the device materialises it when
 * `<X>` is created.
 */
export function defineSseMo(tree: ManagementTree, root: string): void {
  if (!tree.exists(root)) tree.define(root, { format: 'node', access: ['Get', 'Add'], permanent: true });
  tree.defineTemplate(`${root}/*`, {
    access: ['Get', 'Add', 'Delete'],
    autoLeaves: { Go: { format: 'chr', data: '', access: ['Exec'] } },
  });
  tree.defineTemplate(`${root}/*/TargetURI`, { access: ['Get', 'Replace'] });
  tree.defineTemplate(`${root}/*/AtTime`, { access: ['Get', 'Replace'] });
}

/**
 * Registers the Go handler (creating the root if needed); returns an
 * unregister function.
 *
 * Validation outcomes (the MO is silent on them):
 * - TargetURI names a node that does not exist: 404 (the DM meaning of "not
 *   found", and the likeliest server bug: a wrong target path);
 * - TargetURI or AtTime missing, TargetURI malformed or not executable, AtTime
 *   unparseable: 400, the schedule itself is a bad request.
 * An AtTime in the past is still armed: deciding that it was missed needs a
 * clock, which belongs to the caller.
 */
export function installSseClient(tree: ManagementTree, opts: SseClientOptions): () => void {
  const root = tree.parse(opts.root);
  if (!root.ok) throw new Error(`invalid SSE root ${opts.root}`);
  if (!tree.exists(root.uri)) defineSseMo(tree, root.uri);
  return tree.onExec(`${root.uri}/*/Go`, ({ uri, correlator }) => {
    const moUri = uri.slice(0, -'/Go'.length);
    const target = nodeText(tree, `${moUri}/TargetURI`);
    const atText = nodeText(tree, `${moUri}/AtTime`);
    if (target === undefined || atText === undefined) return 400;
    const targetUri = tree.parse(target);
    if (!targetUri.ok) return 400;
    const targetNode = tree.read(targetUri.uri);
    if (!targetNode) return 404;
    if (!targetNode.access.includes('Exec')) return 400;
    const atTime = parseAtTime(atText, opts.utcOffsetMinutes);
    if (!atTime) return 400;

    const armId = Number(tree.annotation(root.uri, ARM_SEQ) ?? 0) + 1;
    tree.annotate(root.uri, ARM_SEQ, armId);
    tree.annotate(moUri, ARM_ID, armId);
    const schedule: SseSchedule = { moUri, targetUri: targetUri.uri, atTime, armId };
    if (correlator !== undefined) schedule.correlator = correlator;
    opts.arm(schedule);
    return opts.goStatus ?? 200;
  });
}

/**
 * Runs an armed schedule at most once and returns what to report.
 *
 * Nothing runs when the MO was deleted (§6.2), when a newer Go re-armed it,
 * when it already fired, or when called before `atTime` (unless `missed`).
 * The schedule's own target is executed, i.e. the one validated at arming: a
 * server that replaces TargetURI must Exec Go again to change it.
 * With `missed` (the device was off past the time) the target is not run and
 * 401 is reported. A 2xx from the target (202 included: the target may still
 * be working, and reports its own end, notes §6) reports 200.
 */
export function fireSchedule(
  tree: ManagementTree,
  schedule: SseSchedule,
  now: Date,
  opts: { missed?: boolean } = {},
): SseFireResult {
  if (!tree.exists(schedule.moUri)) return { report: null, reason: 'mo-deleted' };
  if (tree.annotation(schedule.moUri, FIRED_ID) === schedule.armId) {
    return { report: null, reason: 'already-fired' };
  }
  const armed = tree.annotation(schedule.moUri, ARM_ID);
  if (armed === undefined) return { report: null, reason: 'not-armed' };
  if (armed !== schedule.armId) return { report: null, reason: 'superseded' };
  if (!opts.missed && now.getTime() < schedule.atTime.getTime()) return { report: null, reason: 'not-due' };

  // Mark first: the spec forbids a retry whatever happens next.
  tree.annotate(schedule.moUri, FIRED_ID, schedule.armId);
  const base = { source: schedule.moUri, ...(schedule.correlator !== undefined && { correlator: schedule.correlator }) };
  if (opts.missed) return { report: { ...base, type: SSE_ALERT_TYPE, resultCode: 401, mark: 'warning' } };
  const status = tree.exec(schedule.targetUri);
  if (status >= 200 && status < 300) {
    return { report: { ...base, type: SSE_ALERT_TYPE, resultCode: 200, mark: 'informational' } };
  }
  return { report: { ...base, type: SSE_EXECFAILED_ALERT_TYPE, resultCode: status, mark: 'critical' } };
}

/** Generic Alert (1226) carrying an SSE report, as in notes example (c). */
export function buildGenericAlert(report: SseReport, cmdId: number): AlertCommand {
  const { source, type, mark, resultCode, correlator } = report;
  return genericAlert({ source, type, format: 'int', mark, data: String(resultCode), correlator }, cmdId);
}
