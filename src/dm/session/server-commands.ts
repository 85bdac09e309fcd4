/**
 * Server command requests: what other parts of the gateway queue for a device
 * and the DM session engine sends to it (notes §1, §2, §6).
 *
 * Everything here is plain JSON (requests sit in Redis/BullMQ between the
 * producer and the session): binary payloads travel as base64 text with
 * `dataEncoding: 'base64'`, never as Buffers.
 *
 * One spec is one target: its result is one entry of `CommandResult[]`, at the
 * spec's index. The engine decides the wire shape: consecutive Add/Replace
 * specs of one request with the same verb, Format, Type and data encoding go
 * out as one command with several Items (as Example (b) packs the
 * SingleShotExec request; Format/Type go in each Item, which common clients
 * require); every other spec is its own command.
 */

/** How a spec's `data` is to be read. */
export type DataEncoding = 'text' | 'base64';

/** Add or Replace a node. An interior Add has `format: 'node'` and no data. */
export interface NodeWriteSpec {
  verb: 'Add' | 'Replace';
  /** Full device URI (`./…`). */
  uri: string;
  data?: string;
  /** 'base64': `data` is base64 of the bytes to send (WBXML OPAQUE); default 'text'. */
  dataEncoding?: DataEncoding;
  /** Meta Format (`chr`, `int`, `b64`, `bin`, `node`, `xml`, …); omitted = the client's default (`chr`). */
  format?: string;
  /** Meta Type (MIME type, or an MO identifier on an interior node). */
  type?: string;
}

export interface GetSpec {
  verb: 'Get';
  uri: string;
}

export interface DeleteSpec {
  verb: 'Delete';
  uri: string;
}

/** Copy is leaf to leaf on the device: `sourceUri` → `uri`. */
export interface CopySpec {
  verb: 'Copy';
  uri: string;
  sourceUri: string;
}

export interface ExecSpec {
  verb: 'Exec';
  uri: string;
  /** Argument to the executable node. */
  data?: string;
  format?: string;
  type?: string;
  /** Echoed by the client's later Generic Alert (asynchronous completion, notes §5). */
  correlator?: string;
  /**
   * The requester awaits the device's final report (awaitResult, FUMO/SCOMO). DM 1.2 sends the
   * same Exec either way; DM 2.0 then gives the EXEC a ServerURI, which obliges the client to
   * report asynchronously (seed 001 §5.4.1), and otherwise lets the client answer at once.
   */
  awaitReport?: boolean;
}

export type UiAlertCode = 1100 | 1101 | 1102 | 1103 | 1104;

/** Item 1 of a UI alert (notes §2), written URL-encoded. */
export interface UiAlertOptions {
  /** MINDT: minimum display time, seconds. */
  minDisplaySeconds?: number;
  /** MAXDT: maximum wait for the user, seconds. */
  maxDisplaySeconds?: number;
  /** DR: default response. */
  defaultResponse?: string;
  /** MAXLEN: longest text input (1102). */
  maxLength?: number;
  /** IT: input type (1102) A alphanumeric, N numeric, D date, T time, P phone, I IP address. */
  inputType?: 'A' | 'N' | 'D' | 'T' | 'P' | 'I';
  /** ET: echo type (1102) T text, P password. */
  echoType?: 'T' | 'P';
}

/**
 * A user-interaction alert (server → client only). 1100 display, 1101
 * confirm (200 yes, 304 no, 214 cancel), 1102 text input, 1103/1104 single/
 * multiple choice. In a Sequence a "No" skips the rest (215); in an Atomic it
 * rolls it back. The user's answer is `CommandResult.response`.
 */
export interface UiAlertSpec {
  verb: 'Alert';
  code: UiAlertCode;
  /** Item 2: the text or title shown. */
  text: string;
  options?: UiAlertOptions;
  /** 1103/1104 only: the choices, numbered from 1 by the client. */
  choices?: string[];
}

export type ServerCommandSpec = NodeWriteSpec | GetSpec | DeleteSpec | CopySpec | ExecSpec | UiAlertSpec;
export type ServerCommandVerb = ServerCommandSpec['verb'];

/**
 * A unit of work for one device: its commands are sent in order in one
 * session, optionally inside a Sequence (run in order; a declined UI alert
 * skips the rest) or an Atomic (all or nothing; Get, Exec and nested
 * containers are not allowed, notes §1). A container request must fit in one
 * message and cannot hold a Large Object.
 */
export interface ServerCommandRequest {
  /** Unique per device; the key of every effect about this request. */
  requestId: string;
  commands: ServerCommandSpec[];
  container?: 'Sequence' | 'Atomic';
  /** The correlation id of the work that queued it: the session's log lines about it carry it (the engine ignores it). */
  correlationId?: string;
  /**
   * What the requester wants back with the request's outcome (CommandOutcome.facts), so that it need
   * not look up again what it knew when it queued the request. Opaque to the engine, which never reads it.
   */
  facts?: RequestFacts;
}

/** A requester's facts about its request: a few flat values (they sit in the queue with every request). */
export type RequestFacts = Readonly<Record<string, string | number | boolean>>;

/** The device's answer for one spec. */
export interface CommandResult {
  /** Index of the spec in `ServerCommandRequest.commands`. */
  index: number;
  verb: ServerCommandVerb;
  /** The spec's target URI (undefined for UI alerts). */
  uri?: string;
  /**
   * The client's status code for the spec (200, 202, 215, 216, 404, 418, 500,
   * 507…). For a Large Object the status of its last chunk. 424 is also used
   * by the engine itself when a Results Large Object from the client arrived
   * incomplete or with the wrong size.
   */
  status: number;
  /** Get: the value from Results (directory listing for an interior node). */
  data?: string;
  /** 'base64' when `data` is base64 of bytes (Format `bin` sent as WBXML OPAQUE; the codec decides). */
  dataEncoding?: 'base64';
  /** Get: Meta Format / Type of the value, defaults (`chr`, `text/plain`) filled in. */
  format?: string;
  type?: string;
  /** UI alerts: the text (1102) or the chosen numbers (1103/1104) from the Status Items. */
  response?: string[];
}

const WRITE_VERBS = new Set(['Add', 'Replace']);
const ATOMIC_VERBS = new Set(['Add', 'Replace', 'Delete', 'Copy', 'Alert']);
const UI_CODES = new Set([1100, 1101, 1102, 1103, 1104]);

/**
 * Checks a request read from an untrusted store. Returns undefined when it is
 * usable, else why not (the engine answers that with `request-rejected`).
 */
export function checkServerCommandRequest(value: unknown): string | undefined {
  if (!isRecord(value)) return 'not an object';
  if (typeof value.requestId !== 'string' || value.requestId === '') return 'requestId must be a non-empty string';
  if (value.container !== undefined && value.container !== 'Sequence' && value.container !== 'Atomic') {
    return 'container must be Sequence or Atomic';
  }
  if (!Array.isArray(value.commands) || value.commands.length === 0) return 'commands must be a non-empty array';
  if (value.facts !== undefined && !isFacts(value.facts)) return 'facts must be an object of strings, numbers and booleans';
  for (const [i, spec] of value.commands.entries()) {
    const problem = checkSpec(spec);
    if (problem !== undefined) return `commands[${i}]: ${problem}`;
    if (value.container === 'Atomic' && !ATOMIC_VERBS.has((spec as ServerCommandSpec).verb)) {
      return `commands[${i}]: ${(spec as ServerCommandSpec).verb} is not allowed in an Atomic`;
    }
  }
  return undefined;
}

function checkSpec(spec: unknown): string | undefined {
  if (!isRecord(spec)) return 'not an object';
  const optionalString = (key: string) =>
    spec[key] === undefined || typeof spec[key] === 'string' ? undefined : `${key} must be a string`;
  switch (spec.verb) {
    case 'Alert': {
      if (typeof spec.code !== 'number' || !UI_CODES.has(spec.code)) return 'code must be 1100..1104';
      if (typeof spec.text !== 'string') return 'text must be a string';
      if (spec.options !== undefined && !isRecord(spec.options)) return 'options must be an object';
      if (spec.choices !== undefined) {
        if (!Array.isArray(spec.choices) || !spec.choices.every((c) => typeof c === 'string')) {
          return 'choices must be strings';
        }
      }
      return undefined;
    }
    case 'Add':
    case 'Replace':
    case 'Get':
    case 'Delete':
    case 'Copy':
    case 'Exec':
      break;
    default:
      return `unknown verb ${JSON.stringify(spec.verb)}`;
  }
  if (typeof spec.uri !== 'string' || spec.uri === '') return 'uri must be a non-empty string';
  if (spec.verb === 'Copy' && (typeof spec.sourceUri !== 'string' || spec.sourceUri === '')) {
    return 'Copy needs a sourceUri';
  }
  for (const key of ['data', 'format', 'type', 'correlator']) {
    const problem = optionalString(key);
    if (problem !== undefined) return problem;
  }
  if (spec.dataEncoding !== undefined) {
    if (!WRITE_VERBS.has(spec.verb)) return 'dataEncoding is only for Add/Replace';
    if (spec.dataEncoding !== 'text' && spec.dataEncoding !== 'base64') return 'dataEncoding must be text or base64';
  }
  return undefined;
}

/** Item 1 of a UI alert: `MINDT=10&MAXDT=30&DR=1…` (empty when no options). */
export function encodeUiOptions(options: UiAlertOptions | undefined): string {
  if (options === undefined) return '';
  const params = new URLSearchParams();
  const put = (key: string, value: string | number | undefined) => {
    if (value !== undefined) params.append(key, String(value));
  };
  put('MINDT', options.minDisplaySeconds);
  put('MAXDT', options.maxDisplaySeconds);
  put('DR', options.defaultResponse);
  put('MAXLEN', options.maxLength);
  put('IT', options.inputType);
  put('ET', options.echoType);
  return params.toString();
}

function isFacts(v: unknown): v is RequestFacts {
  return isRecord(v) && Object.values(v).every((f) => typeof f === 'string' || typeof f === 'number' || typeof f === 'boolean');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
