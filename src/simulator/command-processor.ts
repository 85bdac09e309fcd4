/**
 * The simulated DM client's command processor: runs a server message's
 * commands against the management tree and produces the client's Statuses
 * and Results (notes §1, §2).
 *
 * Pure: every piece of state that outlives one message (the Large Object
 * buffer, the CmdID counter, the user) is owned by the caller and passed in.
 *
 * Choices where the notes are silent:
 * - One Status per Item, each with that Item's TargetRef (and SourceRef for
 *   Copy), as libdmclient does; a Get's successful Items go in one Results
 *   after its Statuses, Meta on each Item, Format/Type left out when `chr` /
 *   `text/plain`.
 * - A container's Status is placed before its children's (the Sequence "gets
 *   200 once started"); CmdIDs are drawn in reply order at the end.
 * - NoResp on a container applies to the commands inside it too.
 * - Only a UI alert stops a Sequence: any answer but 200 skips the rest of
 *   the Sequence (215); a cancel (214) also skips the rest of the message.
 *   Other failures inside a Sequence do not stop it.
 * - Atomic stops at the first failing child (any code >= 300, or 214), rolls
 *   back, keeps the failing codes and answers 216 for every other child, run
 *   or not. A forbidden child (Get, Exec, Sequence, Atomic) gets 500 (its own
 *   children 215) and nothing in the Atomic runs.
 * - An Item without a Target (or a Copy without a Source) is 412.
 */
import { dataText } from '../dm/codec/index.js';
import type {
  AlertCommand,
  Command,
  ContainerCommand,
  Item,
  ItemCommand,
  Meta,
  ResultsCommand,
  StatusCommand,
} from '../dm/codec/types.js';
import { type LargeObjectAssembly, takeChunk } from './tree/large-object.js';
import type { ManagementTree } from './tree/management-tree.js';

export {
  createLargeObjectAssembly,
  type LargeObjectAssembly,
  type PendingObject,
} from './tree/large-object.js';

export type UiAlertCode = 1100 | 1101 | 1102 | 1103 | 1104;

/** Item 1 of a UI alert, URL-decoded (notes §2). */
export interface UiAlertOptions {
  minDisplaySeconds?: number;
  maxDisplaySeconds?: number;
  defaultResponse?: string;
  maxLength?: number;
  inputType?: string;
  echoType?: string;
  raw: Record<string, string>;
}

export interface UiAlertRequest {
  code: UiAlertCode;
  cmdId: number;
  options: UiAlertOptions;
  /** Item 2: the text or title shown to the user. */
  text: string;
  /** Items 3..n of 1103/1104, choice 1 first. */
  choices: string[];
}

/**
 * 200 yes/OK, 304 no (1101), 214 cancel, 408 timeout... `text` answers 1102,
 * `choices` (numbered from 1) answer 1103/1104.
 */
export interface UiAlertResponse {
  code: number;
  text?: string;
  choices?: number[];
}

export type UiHandler = (request: UiAlertRequest) => UiAlertResponse;

export interface ProcessContext {
  /** The server message's MsgID (every reply's MsgRef). */
  msgId: number;
  nextCmdId: () => number;
  /** The user; default: accept everything (200, default response/choices). */
  ui?: UiHandler;
  /** Without it a chunk (MoreData) is answered 406: Large Objects unsupported. */
  largeObject?: LargeObjectAssembly;
}

export type Reply = StatusCommand | ResultsCommand;

export interface ProcessResult {
  /** Statuses and Results in message order. */
  replies: Reply[];
  statuses: StatusCommand[];
  /** Server 1222/1223/1225, for the session layer. 1223 gets no Status. */
  controlAlerts: AlertCommand[];
  /** Statuses the server sent (e.g. the header Status with Chal). */
  serverStatuses: StatusCommand[];
  /** Results a server should not send; passed on, never statused. */
  serverResults: ResultsCommand[];
  /** Alerts the client must send, e.g. 1225 for an interrupted Large Object. */
  outgoingAlerts: AlertCommand[];
  /** A 1223 arrived: the client does not answer this message. */
  aborted: boolean;
}

interface State {
  tree: ManagementTree;
  ctx: ProcessContext;
  result: ProcessResult;
  cancelled: boolean;
}

interface Outcome {
  replies: Reply[];
  /** Every code this command produced, including unsent (NoResp) ones. */
  codes: number[];
}

const ATOMIC_KINDS: ReadonlySet<string> = new Set(['Add', 'Alert', 'Delete', 'Copy', 'Replace']);
const CONTROL_ALERTS: ReadonlySet<number> = new Set([1222, 1223, 1225]);

export function processCommands(tree: ManagementTree, commands: Command[], ctx: ProcessContext): ProcessResult {
  const result: ProcessResult = {
    replies: [],
    statuses: [],
    controlAlerts: [],
    serverStatuses: [],
    serverResults: [],
    outgoingAlerts: [],
    aborted: false,
  };
  const st: State = { tree, ctx, result, cancelled: false };
  result.replies = runList(st, commands, false, false);
  for (const reply of result.replies) reply.cmdId = ctx.nextCmdId();
  for (const alert of result.outgoingAlerts) alert.cmdId = ctx.nextCmdId();
  result.statuses = result.replies.filter((r): r is StatusCommand => r.kind === 'Status');
  return result;
}

/**
 * Runs commands in order. After a cancel (214) everything left is 215; in a
 * Sequence so is everything after a UI alert not answered 200 (§2).
 */
function runList(st: State, commands: Command[], quiet: boolean, inSequence: boolean): Reply[] {
  let declined = false;
  const replies: Reply[] = [];
  for (const cmd of commands) {
    if (st.result.aborted) break;
    if (declined || st.cancelled) {
      replies.push(...skip(st, cmd, 215, 215, quiet).replies);
      continue;
    }
    const out = run(st, cmd, quiet);
    replies.push(...out.replies);
    if (inSequence && cmd.kind === 'Alert' && isUiAlert(cmd.data) && out.codes[0] !== 200) declined = true;
  }
  return replies;
}

function run(st: State, cmd: Command, inheritedQuiet: boolean): Outcome {
  const quiet = inheritedQuiet || ('noResp' in cmd && cmd.noResp === true);
  let out: Outcome;
  switch (cmd.kind) {
    case 'Status':
    case 'Results':
      return passThrough(st, cmd);
    case 'Sequence':
      out = runSequence(st, cmd, quiet);
      break;
    case 'Atomic':
      out = runAtomic(st, cmd, quiet);
      break;
    case 'Alert':
      out = runAlert(st, cmd);
      break;
    case 'Exec': {
      const target = cmd.item.target?.locUri;
      interruptLargeObject(st, 'Exec', target);
      const code = target === undefined ? 412 : st.tree.exec(target, cmd.item.data, cmd.correlator);
      out = { replies: [status(st, cmd, code, target)], codes: [code] };
      break;
    }
    default:
      out = runItems(st, cmd);
  }
  return quiet ? { replies: out.replies.filter((r) => r.kind !== 'Status'), codes: out.codes } : out;
}

function runSequence(st: State, seq: ContainerCommand, quiet: boolean): Outcome {
  return { replies: [status(st, seq, 200), ...runList(st, seq.commands, quiet, true)], codes: [200] };
}

function runAtomic(st: State, atomic: ContainerCommand, quiet: boolean): Outcome {
  const children = atomic.commands;
  if (children.some((c) => !ATOMIC_KINDS.has(c.kind))) {
    const replies = children.flatMap((c) =>
      ATOMIC_KINDS.has(c.kind) ? skip(st, c, 216, 216, quiet).replies : skip(st, c, 500, 215, quiet).replies,
    );
    return { replies: [status(st, atomic, 507), ...replies], codes: [507] };
  }
  const snapshot = st.tree.snapshot();
  const outs: Outcome[] = [];
  let failedAt = -1;
  for (const [i, child] of children.entries()) {
    const out = run(st, child, quiet);
    outs.push(out);
    if (st.result.aborted || st.cancelled || out.codes.some(isAtomicFailure)) {
      failedAt = i;
      break;
    }
  }
  if (failedAt < 0) return { replies: [status(st, atomic, 200), ...outs.flatMap((o) => o.replies)], codes: [200] };

  // Restoring a deep clone cannot fail, so 516 never arises here.
  st.tree.restore(snapshot);
  const replies = children.flatMap((child, i): Reply[] => {
    const out = outs[i];
    if (!out) return skip(st, child, 216, 216, quiet).replies;
    return out.replies
      .filter((r): r is StatusCommand => r.kind === 'Status')
      .map((s) => (i === failedAt && isAtomicFailure(s.data) ? s : { ...s, data: 216, items: [] }));
  });
  return { replies: [status(st, atomic, 507), ...replies], codes: [507] };
}

function runAlert(st: State, alert: AlertCommand): Outcome {
  if (CONTROL_ALERTS.has(alert.data)) {
    st.result.controlAlerts.push(alert);
    if (alert.data === 1223) {
      st.result.aborted = true;
      return { replies: [], codes: [] };
    }
    return { replies: [status(st, alert, 200)], codes: [200] };
  }
  interruptLargeObject(st, 'Alert', undefined);
  if (!isUiAlert(alert.data)) return { replies: [status(st, alert, 406)], codes: [406] };

  const texts = alert.items.map((i) => dataText(i.data));
  const request: UiAlertRequest = {
    code: alert.data,
    cmdId: alert.cmdId,
    options: parseUiOptions(texts[0] ?? ''),
    text: texts[1] ?? '',
    choices: texts.slice(2),
  };
  const answer = st.ctx.ui ? st.ctx.ui(request) : autoAccept(request);
  if (answer.code === 214) st.cancelled = true;
  let items: Item[] = [];
  if (answer.code === 200 && request.code === 1102) items = [{ data: answer.text ?? '' }];
  if (answer.code === 200 && (request.code === 1103 || request.code === 1104)) {
    items = (answer.choices ?? []).map((n) => ({ data: String(n) }));
  }
  return { replies: [status(st, alert, answer.code, undefined, undefined, items)], codes: [answer.code] };
}

function runItems(st: State, cmd: ItemCommand): Outcome {
  const replies: Reply[] = [];
  const codes: number[] = [];
  const results: Item[] = [];
  for (const item of cmd.items) {
    const target = item.target?.locUri;
    const source = item.source?.locUri;
    interruptLargeObject(st, cmd.kind, target);
    const code = target === undefined ? 412 : runItem(st, cmd, item, target, results);
    codes.push(code);
    replies.push(status(st, cmd, code, target, cmd.kind === 'Copy' ? source : undefined));
  }
  if (cmd.items.length === 0) {
    codes.push(412);
    replies.push(status(st, cmd, 412));
  }
  if (results.length > 0) {
    replies.push({ kind: 'Results', cmdId: 0, msgRef: st.ctx.msgId, cmdRef: cmd.cmdId, items: results });
  }
  return { replies, codes };
}

function runItem(st: State, cmd: ItemCommand, item: Item, target: string, results: Item[]): number {
  const meta: Meta = { ...cmd.meta, ...item.meta };
  switch (cmd.kind) {
    case 'Add':
    case 'Replace': {
      const chunked = largeObjectStep(st, cmd.kind, item, target, meta);
      if (chunked !== undefined) return chunked;
      const content = { format: meta.format, type: meta.type, data: item.data };
      return cmd.kind === 'Add' ? st.tree.add(target, content) : st.tree.replace(target, content);
    }
    case 'Delete':
      return st.tree.delete(target);
    case 'Copy':
      return item.source === undefined ? 412 : st.tree.copy(item.source.locUri, target);
    case 'Get': {
      const got = st.tree.get(target);
      if (got.ok) {
        const resultMeta: Meta = {};
        if (got.format !== 'chr') resultMeta.format = got.format;
        if (got.type !== undefined && got.type !== 'text/plain') resultMeta.type = got.type;
        const result: Item = { source: { locUri: target }, data: got.data };
        if (Object.keys(resultMeta).length > 0) result.meta = resultMeta;
        results.push(result);
      }
      return got.status;
    }
  }
}

/**
 * Buffers MoreData chunks (213) and commits on the last one (424 when the
 * size is wrong). Returns undefined for an ordinary item.
 */
function largeObjectStep(st: State, kind: 'Add' | 'Replace', item: Item, target: string, meta: Meta) {
  const assembly = st.ctx.largeObject;
  if (!item.moreData && !assembly?.pending) return undefined;
  if (!assembly) return 406;
  const outcome = takeChunk(assembly, {
    kind,
    targetUri: target,
    sourceUri: item.source?.locUri,
    format: meta.format,
    type: meta.type,
    size: meta.size,
    data: item.data,
    moreData: item.moreData === true,
  });
  if (outcome.state === 'buffered') return 213;
  if (outcome.state === 'size-mismatch') return 424;
  return outcome.kind === 'Add' ? st.tree.add(target, outcome.content) : st.tree.replace(target, outcome.content);
}

/**
 * Anything but the next chunk of the pending object (same command kind and
 * target) ends it: the buffer is dropped and the client alerts 1225 with the
 * original item's Target and Source.
 */
function interruptLargeObject(st: State, kind: string, target: string | undefined): void {
  const assembly = st.ctx.largeObject;
  const pending = assembly?.pending;
  if (!assembly || !pending) return;
  if (kind === pending.kind && target !== undefined && sameUri(st, target, pending.targetUri)) return;
  assembly.pending = undefined;
  const item: Item = { target: { locUri: pending.targetUri } };
  if (pending.sourceUri !== undefined) item.source = { locUri: pending.sourceUri };
  st.result.outgoingAlerts.push({ kind: 'Alert', cmdId: 0, data: 1225, items: [item] });
}

/** Statuses for commands that are not run: 215 (skipped), 216 (rolled back), 500. */
function skip(st: State, cmd: Command, code: number, childCode: number, inheritedQuiet: boolean): Outcome {
  const quiet = inheritedQuiet || ('noResp' in cmd && cmd.noResp === true);
  let replies: Reply[];
  switch (cmd.kind) {
    case 'Status':
    case 'Results':
      return passThrough(st, cmd);
    case 'Sequence':
    case 'Atomic':
      replies = [
        status(st, cmd, code),
        ...cmd.commands.flatMap((c) => skip(st, c, childCode, childCode, quiet).replies),
      ];
      break;
    case 'Alert':
      replies = cmd.data === 1223 ? [] : [status(st, cmd, code)];
      break;
    case 'Exec':
      replies = [status(st, cmd, code, cmd.item.target?.locUri)];
      break;
    default:
      replies = cmd.items.length === 0 ? [status(st, cmd, code)] : cmd.items.map((i) => itemSkip(st, cmd, i, code));
  }
  return { replies: quiet ? [] : replies, codes: [code] };
}

function itemSkip(st: State, cmd: ItemCommand, item: Item, code: number): StatusCommand {
  return status(st, cmd, code, item.target?.locUri, cmd.kind === 'Copy' ? item.source?.locUri : undefined);
}

function passThrough(st: State, cmd: StatusCommand | ResultsCommand): Outcome {
  if (cmd.kind === 'Status') st.result.serverStatuses.push(cmd);
  else st.result.serverResults.push(cmd);
  return { replies: [], codes: [] };
}

/** CmdID is 0 until `processCommands` numbers the replies in order. */
function status(
  st: State,
  cmd: { kind: string; cmdId: number },
  code: number,
  targetRef?: string,
  sourceRef?: string,
  items: Item[] = [],
): StatusCommand {
  return {
    kind: 'Status',
    cmdId: 0,
    msgRef: st.ctx.msgId,
    cmdRef: cmd.cmdId,
    cmd: cmd.kind,
    targetRefs: targetRef === undefined ? [] : [targetRef],
    sourceRefs: sourceRef === undefined ? [] : [sourceRef],
    data: code,
    items,
  };
}

function isUiAlert(code: number): code is UiAlertCode {
  return code >= 1100 && code <= 1104;
}

function isAtomicFailure(code: number): boolean {
  return code >= 300 || code === 214;
}

function sameUri(st: State, a: string, b: string): boolean {
  const pa = st.tree.parse(a);
  const pb = st.tree.parse(b);
  return pa.ok && pb.ok ? pa.uri === pb.uri : a === b;
}


export function parseUiOptions(text: string): UiAlertOptions {
  const raw = Object.fromEntries(new URLSearchParams(text));
  const num = (key: string) => (raw[key] !== undefined && raw[key] !== '' ? Number(raw[key]) : undefined);
  const options: UiAlertOptions = { raw };
  const set = <K extends keyof UiAlertOptions>(key: K, value: UiAlertOptions[K] | undefined) => {
    if (value !== undefined && !(typeof value === 'number' && Number.isNaN(value))) options[key] = value;
  };
  set('minDisplaySeconds', num('MINDT'));
  set('maxDisplaySeconds', num('MAXDT'));
  set('defaultResponse', raw.DR);
  set('maxLength', num('MAXLEN'));
  set('inputType', raw.IT);
  set('echoType', raw.ET);
  return options;
}

/** The default user: OK, "Yes", the default text, the default choice(s). */
export function autoAccept(request: UiAlertRequest): UiAlertResponse {
  const dr = request.options.defaultResponse;
  switch (request.code) {
    case 1102:
      return { code: 200, text: dr ?? '' };
    case 1103:
      return { code: 200, choices: request.choices.length > 0 ? [Number(dr) || 1] : [] };
    case 1104:
      // A multiple-choice DR lists the picks separated by '-', e.g. "1-3".
      return { code: 200, choices: (dr ?? '').split('-').map(Number).filter((n) => Number.isInteger(n) && n > 0) };
    default:
      return { code: 200 };
  }
}
