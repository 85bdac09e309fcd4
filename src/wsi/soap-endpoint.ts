/**
 * One SOAP service on express: reads the envelope with the project's own
 * parser (soap-envelope.ts), and owns the body size limit (applied after
 * decompression), authentication, role checks, strict validation against
 * the contract (message-codec.ts over contract/schema.ts), SOAP 1.1 faults,
 * audit rows for failed calls, metrics and logs. The `soap` package is not
 * used on the server side (only its client, in tests and examples).
 */
import { performance } from 'node:perf_hooks';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { DmwsiError, invalidArgument } from '../domain/errors.js';
import { acceptedCorrelationId, newCorrelationId, withCorrelation } from '../observability/correlation.js';
import { type Caller, roleAllows } from '../domain/roles.js';
import type { CallerAuthService } from '../services/caller-auth.js';
import type { AuditTrail, Clock } from '../services/ports.js';
import { type FieldSpec, inputFields, type OperationSpec, type ServiceSpec, TARGET_NAMESPACE } from './contract/schema.js';
import { PLACEHOLDER_BASE, renderWsdl } from './contract/wsdl-generator.js';
import type { CallerRateLimit } from './caller-rate-limit.js';
import { faultEnvelope, faultInfo, resultEnvelope } from './faults.js';
import type { OperationHandlers } from './handlers/types.js';
import { decodeFields, writeFields } from './message-codec.js';
import { readSoapEnvelope, type SoapRequestEnvelope } from './soap-envelope.js';
import { wsAddressingMessageId } from './ws-addressing.js';
import { usernameToken } from './ws-security.js';

export interface SoapMetrics {
  observe(service: string, operation: string, outcome: string, seconds: number): void;
}

export interface SoapEndpointDeps {
  auth: CallerAuthService;
  audit: AuditTrail;
  clock: Clock;
  handlers: OperationHandlers;
  logger: Logger;
  metrics: SoapMetrics;
  maxBodyBytes: number;
  /** Per-caller request budget (Overloaded faults beyond it). */
  rateLimit?: CallerRateLimit;
  /** Base URL written into served WSDLs; default: the request's own scheme and host. */
  publicBaseUrl: string | undefined;
}

const XML_TYPE = 'text/xml; charset=utf-8';
/** Linear: anchored, each alternative a run of one character class then an optional bounded port; no nested quantifier. */
const SAFE_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** What each request needs of its operation, worked out once. */
interface PreparedOperation {
  spec: OperationSpec;
  /** inputFields(spec): userSession first, then the parameters. */
  input: readonly FieldSpec[];
  /** The response element around the result fields. */
  open: string;
  close: string;
}

function prepare(op: OperationSpec): PreparedOperation {
  return {
    spec: op,
    input: inputFields(op),
    open: `<${op.name}Response xmlns="${TARGET_NAMESPACE}">`,
    close: `</${op.name}Response>`,
  };
}

/**
 * Writes the answer without res.send, which for every response parsed and
 * re-formatted the Content-Type and hashed the body for an ETag (useless on a
 * POST answer): ~2% of the gateway's CPU on getDeviceInstanceByDeviceID.
 */
function sendXml(res: Response, status: number, xml: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', XML_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(xml));
  res.end(xml);
}

function bodyLimitError(err: { type?: string; status?: number; message?: string }, limit: number): DmwsiError {
  switch (err.type) {
    case 'entity.too.large':
      return invalidArgument('body', `the request body exceeds ${limit} bytes (after decompression)`);
    case 'encoding.unsupported':
      return invalidArgument('body', 'unsupported Content-Encoding (use gzip, deflate or none)');
    default:
      return invalidArgument('body', 'the request body could not be read (bad compression or encoding)');
  }
}

export async function soapEndpoint(spec: ServiceSpec, deps: SoapEndpointDeps): Promise<Router> {
  const operations = new Map<string, PreparedOperation>(spec.operations.map((o) => [o.name, prepare(o)]));
  const served = new Map<string, string>();
  const router = express.Router();

  router.get(spec.path, (req, res) => {
    if (!('wsdl' in req.query) && !('WSDL' in req.query)) {
      res.status(404).type('text/plain').send('append ?wsdl to fetch the service description\n');
      return;
    }
    const host = req.get('host') ?? '';
    const base = deps.publicBaseUrl ?? (SAFE_HOST.test(host) ? `${req.protocol}://${host}` : PLACEHOLDER_BASE);
    let text = served.get(base);
    if (!text) {
      text = renderWsdl(spec, base + spec.path);
      if (served.size < 16) served.set(base, text);
    }
    res.type(XML_TYPE).send(text);
  });

  const sendFault = (res: Response, err: unknown, opName: string, started: number) => {
    const info = faultInfo(err);
    if (info.code === 'Internal') deps.logger.error({ err, service: spec.name, operation: opName }, 'SOAP call failed');
    else deps.logger.info({ service: spec.name, operation: opName, code: info.code, reason: info.message }, 'SOAP fault');
    deps.metrics.observe(spec.name, opName, info.code, (performance.now() - started) / 1000);
    sendXml(res, 500, faultEnvelope(info));
  };

  router.post(
    spec.path,
    // One id per call (the caller's X-Correlation-Id when well formed): on every log line the call
    // causes, on its task and job rows and the work they queue; the answer names it, a fault's too.
    (req: Request, res: Response, next: NextFunction) => {
      const correlationId = acceptedCorrelationId(req.headers['x-correlation-id']) ?? newCorrelationId();
      res.locals.correlationId = correlationId;
      res.setHeader('X-Correlation-Id', correlationId);
      next();
    },
    express.raw({ type: () => true, limit: deps.maxBodyBytes, inflate: true }),
    (req: Request, res: Response) => {
      const correlationId = res.locals.correlationId as string;
      return withCorrelation(correlationId, () => serveCall(req, res, correlationId));
    },
  );

  const serveCall = async (req: Request, res: Response, correlationId: string) => {
    const started = performance.now();
    let op: OperationSpec | undefined;
    let caller: Caller | undefined;
    try {
      const envelope = parseEnvelope(req.body);
      const prepared = operations.get(envelope.operation);
      if (!prepared) {
        throw invalidArgument('operation', `${spec.portType} has no operation "${envelope.operation.slice(0, 64)}"`);
      }
      op = prepared.spec;
      const rawArgs = envelope.args;
      const userSession = sessionOf(rawArgs);
      if (op.permission !== undefined) {
        caller = await authenticate(deps.auth, envelope.Header, userSession);
        deps.rateLimit?.take(caller.username);
        if (!roleAllows(caller.role, op.permission)) {
          throw new DmwsiError('NotAuthorized', `role ${caller.role} may not call ${op.name}`);
        }
      }
      const args = decodeFields(prepared.input, rawArgs);
      const handler = deps.handlers[op.name];
      if (!handler) throw new DmwsiError('NotImplemented', `${op.name} is not available in this version`);
      const result = await handler(
        { caller, operation: op.name, userSession, messageId: wsAddressingMessageId(envelope.Header), correlationId },
        args,
      );
      const body = prepared.open + writeFields(op.output, result) + prepared.close;
      const seconds = (performance.now() - started) / 1000;
      deps.metrics.observe(spec.name, op.name, 'ok', seconds);
      // Calls that change something at info (they are few and start work worth following); reads at debug.
      if (op.audited || deps.logger.isLevelEnabled('debug')) {
        deps.logger[op.audited ? 'info' : 'debug'](
          { service: spec.name, operation: op.name, caller: caller?.username, ms: Math.round(seconds * 10_000) / 10 },
          'SOAP call',
        );
      }
      sendXml(res, 200, resultEnvelope(body));
    } catch (err) {
      if (op?.audited) await auditFailure(deps, caller, op.name, err);
      sendFault(res, err, op?.name ?? 'unknown', started);
    }
  };

  router.use(spec.path, (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    withCorrelation(res.locals.correlationId as string | undefined, () =>
      sendFault(res, bodyLimitError(err as { type?: string }, deps.maxBodyBytes), 'unknown', performance.now()),
    );
  });
  return router;
}

function parseEnvelope(body: unknown): SoapRequestEnvelope {
  if (!Buffer.isBuffer(body) || body.length === 0) throw invalidArgument('body', 'the request has no SOAP envelope');
  return readSoapEnvelope(body.toString('utf8'));
}

function sessionOf(rawArgs: unknown): string {
  const v = (rawArgs as { userSession?: unknown } | undefined)?.userSession;
  return typeof v === 'string' ? v.trim() : '';
}

async function authenticate(auth: CallerAuthService, header: unknown, userSession: string): Promise<Caller> {
  const token = usernameToken(header);
  if (token === 'malformed') {
    throw new DmwsiError('AuthenticationFailed', 'the WS-Security header holds no usable UsernameToken');
  }
  if (token?.kind === 'text') return auth.verifyPassword(token.username, token.password);
  if (token?.kind === 'digest') return auth.verifyDigest(token);
  if (userSession) return auth.resolveSession(userSession);
  throw new DmwsiError('AuthenticationFailed', 'no credentials: send a WS-Security UsernameToken or a userSession');
}

async function auditFailure(deps: SoapEndpointDeps, caller: Caller | undefined, operation: string, err: unknown) {
  try {
    await deps.audit.record(
      { caller: caller?.username ?? 'anonymous', operation, outcome: faultInfo(err).code, detail: faultInfo(err).message },
      deps.clock.now(),
    );
  } catch (auditErr) {
    deps.logger.error({ err: auditErr, operation }, 'could not write the audit row of a failed call');
  }
}
