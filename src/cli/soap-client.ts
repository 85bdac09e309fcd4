/**
 * A small typed SOAP client for the CLI: the same SOAP API integrators call,
 * driven by the contract description (src/wsi/contract/schema.ts), so a
 * request is written in the order the gateway expects and an answer is read
 * back with ints as numbers and repeated elements as arrays.
 *
 * Every call carries a WS-Security UsernameToken with a PasswordDigest (a
 * fresh nonce each time), so the password itself never crosses the wire.
 * A SOAP Fault becomes a GatewayFault holding the DmwsiFault code; a gateway
 * that cannot be reached, or answers something that is not SOAP, becomes a
 * CliError with the "server" exit code.
 */
import crypto from 'node:crypto';
import { ERROR_CODES, type ErrorCode } from '../domain/errors.js';
import { COMPLEX_TYPES, type FieldSpec, inputFields, type ServiceName, serviceSpec, TARGET_NAMESPACE } from '../wsi/contract/schema.js';
import { SOAP_ENV } from '../wsi/faults.js';
import { writeFields } from '../wsi/message-codec.js';
import { escapeXml } from '../wsi/xml-escape.js';
import { CliError, EXIT, exitCodeOfFault } from './exit-codes.js';
import { MalformedResponseError, readSoapBody, type XmlNode, type XmlTree } from './soap-response.js';

const WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const WSU = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
const TOKEN_PROFILE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0';

export interface GatewayEndpoint {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  username: string;
  password: string;
  /** Per call; an import chunk of 5,000 rows takes a few seconds on a busy gateway. */
  timeoutMs?: number;
}

/** A SOAP Fault from the gateway: its DmwsiFault code and message. */
export class GatewayFault extends CliError {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`, exitCodeOfFault(code));
    this.name = 'GatewayFault';
  }
}

function isSimple(t: FieldSpec['type']): boolean {
  return !(t in COMPLEX_TYPES);
}

/** Reads a value as the contract types it; lenient about elements it does not know (a newer gateway may add some). */
function readValue(f: FieldSpec, v: XmlNode): unknown {
  if (!isSimple(f.type)) return readFields(COMPLEX_TYPES[f.type as keyof typeof COMPLEX_TYPES], v);
  const text = typeof v === 'string' ? v : '';
  switch (f.type) {
    case 'int':
    case 'long':
      return Number(text.trim());
    case 'boolean':
      return text.trim() === 'true' || text.trim() === '1';
    default:
      return text;
  }
}

export function readFields(fields: readonly FieldSpec[], node: XmlNode | undefined): Record<string, unknown> {
  const tree: XmlTree = node && typeof node === 'object' ? node : {};
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = tree[f.name];
    if (v === undefined) {
      if (f.repeated) out[f.name] = [];
      continue;
    }
    const list = Array.isArray(v) ? v : [v];
    out[f.name] = f.repeated ? list.map((item) => readValue(f, item)) : readValue(f, list[0]!);
  }
  return out;
}

function faultOf(content: XmlNode): GatewayFault {
  const fault = typeof content === 'object' ? content : {};
  const detail = fault.detail;
  const dmwsi = detail && typeof detail === 'object' && !Array.isArray(detail) ? detail.DmwsiFault : undefined;
  const d = dmwsi && typeof dmwsi === 'object' && !Array.isArray(dmwsi) ? dmwsi : {};
  const code = typeof d.code === 'string' && (ERROR_CODES as readonly string[]).includes(d.code) ? (d.code as ErrorCode) : 'Internal';
  const message = typeof d.message === 'string' ? d.message : typeof fault.faultstring === 'string' ? fault.faultstring : 'the gateway answered with a fault';
  return new GatewayFault(code, message);
}

export class GatewayClient {
  constructor(private readonly endpoint: GatewayEndpoint) {}

  get url(): string {
    return this.endpoint.url;
  }

  /** The WS-Security header: UsernameToken with a PasswordDigest over a fresh nonce and the current time. */
  private securityHeader(): string {
    const nonce = crypto.randomBytes(16);
    const created = new Date().toISOString();
    const digest = crypto
      .createHash('sha1')
      .update(Buffer.concat([nonce, Buffer.from(created, 'utf8'), Buffer.from(this.endpoint.password, 'utf8')]))
      .digest('base64');
    return (
      `<wsse:Security xmlns:wsse="${WSSE}" xmlns:wsu="${WSU}"><wsse:UsernameToken>` +
      `<wsse:Username>${escapeXml(this.endpoint.username)}</wsse:Username>` +
      `<wsse:Password Type="${TOKEN_PROFILE}#PasswordDigest">${digest}</wsse:Password>` +
      `<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-soap-message-security-1.0#Base64Binary">${nonce.toString('base64')}</wsse:Nonce>` +
      `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
    );
  }

  /** Calls one operation with its parameters (userSession is sent empty: the header authenticates). */
  async call<T = Record<string, unknown>>(service: ServiceName, operation: string, args: Record<string, unknown> = {}): Promise<T> {
    const spec = serviceSpec(service);
    const op = spec.operations.find((o) => o.name === operation);
    if (!op) throw new Error(`the contract has no operation ${service}.${operation}`);
    const body = `<${op.name} xmlns="${TARGET_NAMESPACE}">${writeFields(inputFields(op), { userSession: '', ...args })}</${op.name}>`;
    const envelope =
      '<?xml version="1.0" encoding="utf-8"?>' +
      `<soap:Envelope xmlns:soap="${SOAP_ENV}"><soap:Header>${this.securityHeader()}</soap:Header>` +
      `<soap:Body>${body}</soap:Body></soap:Envelope>`;
    const target = `${this.endpoint.url.replace(/\/+$/, '')}${spec.path}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${op.name}"` },
        body: envelope,
        signal: AbortSignal.timeout(this.endpoint.timeoutMs ?? 120_000),
      });
      text = await res.text();
    } catch (err) {
      throw unreachable(this.endpoint.url, err);
    }
    let answer: ReturnType<typeof readSoapBody>;
    try {
      answer = readSoapBody(text);
    } catch (err) {
      if (!(err instanceof MalformedResponseError)) throw err;
      throw new CliError(`the gateway at ${this.endpoint.url} answered HTTP ${res.status} without a SOAP envelope: is this a dmwsi gateway?`, EXIT.server);
    }
    if (answer.name === 'Fault') throw faultOf(answer.content);
    if (answer.name !== `${op.name}Response`) {
      throw new CliError(`the gateway answered ${answer.name} to ${op.name}`, EXIT.server);
    }
    return readFields(op.output, answer.content) as T;
  }
}

function unreachable(url: string, err: unknown): CliError {
  const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e.name === 'TimeoutError') return new CliError(`the gateway at ${url} did not answer in time`, EXIT.server);
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  return new CliError(`cannot reach the gateway at ${url} (${why})`, EXIT.server);
}
