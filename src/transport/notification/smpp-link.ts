/**
 * One long-lived SMPP 3.4 transceiver session to the SMSC: connect and bind
 * on demand, reconnect with backoff after a loss, enquire_link keep-alive,
 * a bounded window of outstanding requests and a timeout per PDU. It speaks
 * PDUs and knows nothing of notifications (see smpp-sender.ts).
 *
 * Link trouble (unreachable, bind refused, connection lost, no response) is
 * a rejected promise carrying SmppLinkError with `retryable`; an SMSC answer
 * with an error status is a resolved PDU: what it means is the caller's call.
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import smpp, { type PDU, type PduFields, type Session } from 'smpp';
import { type BackoffPolicy, backoffDelay } from './backoff.js';
import { describeSmsc, type SmscAddress } from './smpp-url.js';
import { describeSmppStatus, isCredentialBindStatus, SmppStatus } from './smpp-status.js';
import { SubmitWindow } from './submit-window.js';

export type LinkState = 'idle' | 'connecting' | 'bound' | 'closed';

export class SmppLinkError extends Error {
  override readonly name = 'SmppLinkError';
  constructor(
    message: string,
    /** False for a configuration error (bind credentials or TLS certificate refused). */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** pino's Logger satisfies this. */
export interface SmppLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SmppLinkOptions {
  address: SmscAddress;
  /** Extra tls.connect options for ssmpp:// (ca, servername, rejectUnauthorized). */
  tls?: TlsConnectionOptions;
  systemType: string;
  window: number;
  pduTimeoutMs: number;
  /** TCP (and TLS) connect plus bind. */
  connectTimeoutMs: number;
  enquireLinkIntervalMs: number;
  reconnect: BackoffPolicy;
  /** How long close() waits for outstanding responses, then for unbind_resp. */
  closeTimeoutMs: number;
  /** Every deliver_sm, after it has been acknowledged. */
  onDeliverSm: (pdu: PDU) => void;
  log?: SmppLog;
}

/** SMPP 3.4 interface_version: this client speaks 3.4 (the package defaults to 5.0). */
const INTERFACE_VERSION_34 = 0x34;
/** Requests the SMSC may send that are answered by the handlers in onBound. */
const HANDLED_REQUESTS = new Set(['enquire_link', 'deliver_sm', 'unbind']);
/** A session lost sooner than this after its bind counts as a failed connect. */
const STABLE_SESSION_MS = 10_000;
/** Requests that have no response PDU in SMPP 3.4. */
const UNANSWERED_REQUESTS = new Set(['alert_notification', 'outbind']);

interface Outstanding {
  session: Session;
  fail: (e: SmppLinkError) => void;
}

export class SmppLink {
  private session: Session | undefined;
  private connecting: Promise<Session> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private enquireTimer: NodeJS.Timeout | undefined;
  private probing = false;
  /** Failed connects and short-lived sessions in a row; drives the backoff. */
  private failures = 0;
  private boundAt = 0;
  private lastFailure: SmppLinkError | undefined;
  private closed = false;
  private readonly outstanding = new Set<Outstanding>();
  private idleWaiters: (() => void)[] = [];
  private readonly window: SubmitWindow;
  private readonly name: string;

  constructor(private readonly o: SmppLinkOptions) {
    this.window = new SubmitWindow(o.window);
    this.name = describeSmsc(o.address);
  }

  get state(): LinkState {
    if (this.closed) return 'closed';
    if (this.session) return 'bound';
    return this.connecting ? 'connecting' : 'idle';
  }

  /** Connects and binds now rather than on the first submit. */
  start(): void {
    this.ensureBound().catch(() => undefined);
  }

  /** Sends a submit_sm within the window; resolves with the response, whatever its status. */
  async submit(fields: PduFields): Promise<PDU> {
    if (this.closed) throw new SmppLinkError('SMPP sender closed', true);
    const release = await this.window.acquire();
    try {
      const session = await this.ensureBound();
      if (this.closed) throw new SmppLinkError('SMPP sender closed', true);
      return await this.exchange(session, 'submit_sm', fields, this.o.pduTimeoutMs);
    } finally {
      release();
    }
  }

  /** Waits (bounded) for outstanding responses, unbinds, and stops reconnecting. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.window.rejectWaiting(new SmppLinkError('SMPP sender closed', true));
    if (this.connecting) await this.connecting.catch(() => undefined);
    const session = this.session;
    if (!session) return;
    await this.whenIdle(this.o.closeTimeoutMs);
    clearInterval(this.enquireTimer);
    await this.exchange(session, 'unbind', {}, this.o.closeTimeoutMs).catch(() => undefined);
    await endSession(session, this.o.closeTimeoutMs);
    this.onLost(session, 'closed');
  }

  private ensureBound(): Promise<Session> {
    if (this.closed) return Promise.reject(new SmppLinkError('SMPP sender closed', true));
    if (this.session) return Promise.resolve(this.session);
    if (this.connecting) return this.connecting;
    // Backing off after a failed connect: answer at once rather than pile
    // connection attempts on an SMSC that is down.
    if (this.reconnectTimer && this.lastFailure) return Promise.reject(this.lastFailure);
    return this.connectNow();
  }

  private connectNow(): Promise<Session> {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const attempt = this.openAndBind().then(
      (session) => {
        this.connecting = undefined;
        this.onBound(session);
        return session;
      },
      (e: SmppLinkError) => {
        this.connecting = undefined;
        this.failures++;
        this.lastFailure = e;
        this.o.log?.warn({ smsc: this.name, failures: this.failures, retryable: e.retryable }, e.message);
        this.scheduleReconnect();
        throw e;
      },
    );
    this.connecting = attempt;
    return attempt;
  }

  /**
   * Only transient failures reconnect by themselves. Configuration errors wait
   * for the next submit, which tries one bind: a fixed account recovers
   * without a restart, and a wrong one is not hammered.
   */
  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.lastFailure?.retryable === false) return;
    const delay = backoffDelay(this.o.reconnect, this.failures);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connectNow().catch(() => undefined);
    }, delay);
    // Reconnecting alone must not keep a finished process alive.
    this.reconnectTimer.unref();
  }

  private openAndBind(): Promise<Session> {
    const a = this.o.address;
    return new Promise((resolve, reject) => {
      let done = false;
      const session = smpp.connect({ ...this.o.tls, host: a.host, port: a.port, tls: a.tls });
      // PDUs are small and pipelined: with Nagle on, the 2nd..nth of a window
      // wait for the SMSC's delayed ACK (~40 ms on Linux) and the window
      // degenerates to one PDU at a time.
      session.socket.setNoDelay(true);
      const fail = (e: SmppLinkError): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        session.destroy();
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new SmppLinkError(`SMSC ${this.name}: no bind within ${this.o.connectTimeoutMs} ms`, true)),
        this.o.connectTimeoutMs,
      );
      // Stays attached for the session's life: an 'error' without a listener would crash the process.
      session.on('error', (e: NodeJS.ErrnoException) =>
        fail(
          isCertificateError(e)
            ? new SmppLinkError(`SMSC ${this.name}: TLS certificate rejected: ${e.message}`, false)
            : new SmppLinkError(`SMSC ${this.name} unreachable: ${e.message}`, true),
        ),
      );
      session.on('close', () => fail(new SmppLinkError(`SMSC ${this.name} closed the connection before bind`, true)));
      session.once(a.tls ? 'secureConnect' : 'connect', () => {
        const bind = {
          system_id: a.systemId,
          password: a.password,
          system_type: this.o.systemType,
          interface_version: INTERFACE_VERSION_34,
        };
        session.bind_transceiver(bind, (resp) => {
          if (resp.command_status === SmppStatus.ESME_ROK) {
            done = true;
            clearTimeout(timer);
            resolve(session);
            return;
          }
          const status = resp.command_status;
          const why = isCredentialBindStatus(status) ? ' (check system_id and password in SMPP_URL)' : '';
          fail(
            new SmppLinkError(
              `SMSC ${this.name} refused bind_transceiver: ${describeSmppStatus(status)}${why}`,
              !isCredentialBindStatus(status),
            ),
          );
        });
      });
    });
  }

  private onBound(session: Session): void {
    this.session = session;
    this.boundAt = Date.now();
    this.lastFailure = undefined;
    let why = 'connection closed by the SMSC';
    session.on('error', (e: Error) => {
      why = e.message;
    });
    session.on('close', () => this.onLost(session, why));
    session.on('enquire_link', (pdu: PDU) => session.send(pdu.response()));
    session.on('unbind', (pdu: PDU) => {
      why = 'SMSC unbound';
      session.send(pdu.response());
      session.close();
    });
    session.on('deliver_sm', (pdu: PDU) => {
      session.send(pdu.response());
      try {
        this.o.onDeliverSm(pdu);
      } catch (e) {
        this.o.log?.warn({ smsc: this.name, err: e }, 'deliver_sm handler failed');
      }
    });
    session.on('pdu', (pdu: PDU) => answerUnsupported(session, pdu));
    this.enquireTimer = setInterval(() => this.probe(session), this.o.enquireLinkIntervalMs);
    this.enquireTimer.unref();
    this.o.log?.info({ smsc: this.name }, 'SMPP session bound');
  }

  private onLost(session: Session, why: string): void {
    if (this.session !== session) return;
    this.session = undefined;
    clearInterval(this.enquireTimer);
    this.probing = false;
    const error = new SmppLinkError(`SMPP connection lost: ${why}`, true);
    for (const o of [...this.outstanding]) if (o.session === session) o.fail(error);
    if (this.closed) return;
    this.o.log?.warn({ smsc: this.name }, error.message);
    if (Date.now() - this.boundAt >= STABLE_SESSION_MS) {
      // A session that had been fine: try again at once; backoff starts if that fails.
      this.failures = 0;
      this.connectNow().catch(() => undefined);
    } else {
      // Bound, then dropped at once (an SMSC over its bind limit does this):
      // back off instead of looping. A submit meanwhile still connects at once.
      this.failures++;
      this.scheduleReconnect();
    }
  }

  /** enquire_link; no answer in time means a dead link, which is dropped and rebuilt. */
  private probe(session: Session): void {
    if (this.probing || this.session !== session) return;
    this.probing = true;
    this.exchange(session, 'enquire_link', {}, this.o.pduTimeoutMs).then(
      () => {
        this.probing = false;
      },
      () => {
        this.probing = false;
        if (this.session !== session || this.closed) return;
        this.onLost(session, 'no enquire_link_resp');
        session.destroy();
      },
    );
  }

  private exchange(session: Session, command: string, fields: PduFields, timeoutMs: number): Promise<PDU> {
    return new Promise((resolve, reject) => {
      let done = false;
      const settle = (then: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.outstanding.delete(entry);
        then();
        if (this.outstanding.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      };
      const entry: Outstanding = { session, fail: (e) => settle(() => reject(e)) };
      const timer = setTimeout(() => {
        settle(() => reject(new SmppLinkError(`SMSC ${this.name}: no ${command}_resp within ${timeoutMs} ms`, true)));
        // One silent PDU may be the SMSC's fault; a silent link is checked at once.
        if (command === 'submit_sm') this.probe(session);
      }, timeoutMs);
      this.outstanding.add(entry);
      try {
        const sent = session.send(new smpp.PDU(command, fields), (resp) => settle(() => resolve(resp)));
        if (!sent) settle(() => reject(new SmppLinkError('SMPP connection not writable', true)));
      } catch (e) {
        // A PDU that cannot be encoded: a programming error, passed on as is.
        settle(() => reject(e));
      }
    });
  }

  private whenIdle(timeoutMs: number): Promise<void> {
    if (this.outstanding.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * The SMSC's certificate failed verification: like refused credentials, a
 * configuration error (CA, host name) that retrying cannot fix.
 */
function isCertificateError(e: NodeJS.ErrnoException): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(e.code ?? '');
}

/** Requests we do not serve get ESME_RINVCMDID rather than silence (which would stall the SMSC's window). */
function answerUnsupported(session: Session, pdu: PDU): void {
  if (pdu.isResponse() || HANDLED_REQUESTS.has(pdu.command) || UNANSWERED_REQUESTS.has(pdu.command)) return;
  session.send(pdu.response({ command_status: SmppStatus.ESME_RINVCMDID }));
}

/** Ends the socket, destroying it if the peer does not close within the timeout. */
function endSession(session: Session, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (session.socket.destroyed) return resolve();
    const timer = setTimeout(() => session.destroy(), timeoutMs);
    session.socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    session.close();
  });
}
