/**
 * A small SMSC for tests, benchmarks and the demo, on the `smpp` package's
 * server: checks bind credentials, answers submit_sm with message ids,
 * records what it receives, reassembles WAP Push notifications per
 * (destination, concatenation reference), sends delivery receipts when asked,
 * and can be told to answer with an error status or drop the connection.
 * Not for production: it keeps everything in memory and delivers nothing.
 */
import type { AddressInfo } from 'node:net';
import smpp, { type PDU, type Server, type Session } from 'smpp';
import { type ParsedWapPush, parseWapPush } from '../../dm/notification/wap-push.js';
import { formatDeliveryReceiptText } from './delivery-receipt.js';
import { SmppStatus } from './smpp-status.js';

export interface TestSmscOptions {
  /** Default 'dmwsi'. */
  systemId?: string;
  /** Default 'secret'. */
  password?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Answer registered_delivery with a deliver_sm receipt. Default true. */
  deliveryReceipts?: boolean;
  /** The receipt's stat. Default DELIVRD. */
  receiptStat?: string;
  /** Delay before each submit_sm_resp, to model a real SMSC's latency. Default 0. */
  responseDelayMs?: number;
  /** Serve SMPP over TLS (ssmpp://) with this key and certificate. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

/** One submit_sm as received. */
export interface ReceivedSubmit {
  destination: string;
  destTon: number;
  destNpi: number;
  esmClass: number;
  dataCoding: number;
  registeredDelivery: number;
  /** The SMS user data, UDH (with its length byte) included. */
  userData: Buffer;
  /** The status answered. */
  status: number;
  /** Set when the status was 0. */
  messageId?: string;
}

export interface ReceivedNotification {
  destination: string;
  /** The Package#0 bytes. */
  trigger: Buffer;
  push: ParsedWapPush;
}

export type NotificationListener = (destination: string, trigger: Buffer, push: ParsedWapPush) => void;

type Fault = { kind: 'pass' } | { kind: 'status'; status: number } | { kind: 'drop' } | { kind: 'ignore' };

const ESM_UDHI = 0x40;
const ESM_DELIVERY_RECEIPT = 0x04;
const MESSAGE_STATE_BY_STAT: Readonly<Record<string, number>> = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };

export class TestSmsc {
  /** Every PDU received, in order (binds, submits, acks, enquire_links, unbinds). */
  readonly pdus: PDU[] = [];
  readonly submits: ReceivedSubmit[] = [];
  readonly notifications: ReceivedNotification[] = [];
  /** Segments that could not be reassembled into a WAP Push, with why. */
  readonly errors: string[] = [];
  private readonly listeners = new Set<NotificationListener>();
  private readonly faults: Fault[] = [];
  private readonly partial = new Map<string, Map<number, Buffer>>();
  private readonly bound = new Set<Session>();
  private nextId = 1;
  private readonly timers = new Set<NodeJS.Timeout>();
  private outstanding = 0;
  private maxSeen = 0;

  private constructor(
    private readonly server: Server,
    private readonly o: Required<Omit<TestSmscOptions, 'tls'>> & Pick<TestSmscOptions, 'tls'>,
  ) {}

  static async start(options: TestSmscOptions = {}): Promise<TestSmsc> {
    const o: Required<Omit<TestSmscOptions, 'tls'>> & Pick<TestSmscOptions, 'tls'> = {
      systemId: 'dmwsi',
      password: 'secret',
      host: '127.0.0.1',
      port: 0,
      deliveryReceipts: true,
      receiptStat: 'DELIVRD',
      responseDelayMs: 0,
      ...options,
    };
    const server = smpp.createServer(o.tls ? { key: o.tls.key, cert: o.tls.cert } : {});
    const smsc = new TestSmsc(server, o);
    server.on('session', (session: Session) => smsc.accept(session));
    // A client failing the TLS handshake must not crash the test process.
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return smsc;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** SMPP_URL for this SMSC; other credentials for negative tests. */
  url(credentials: { systemId?: string; password?: string } = {}): string {
    const id = encodeURIComponent(credentials.systemId ?? this.o.systemId);
    const pw = encodeURIComponent(credentials.password ?? this.o.password);
    return `${this.o.tls ? 'ssmpp' : 'smpp'}://${id}:${pw}@${this.o.host}:${this.port}`;
  }

  /** Sessions currently bound. */
  get boundSessions(): number {
    return this.bound.size;
  }

  /** Calls `listener` for each reassembled notification; returns the unsubscribe function. */
  onNotification(listener: NotificationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The next notification to complete, or a rejection after `timeoutMs`. */
  nextNotification(timeoutMs = 2000): Promise<ReceivedNotification> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no notification within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onNotification((destination, trigger, push) => {
        clearTimeout(timer);
        off();
        resolve({ destination, trigger, push });
      });
    });
  }

  /**
   * The next `count` submit_sm are answered with `status` instead of
   * accepted; with `after`, that many are accepted first (to fail the middle
   * of a multi-segment notification).
   */
  failNextSubmits(status: number, count = 1, options: { after?: number } = {}): void {
    for (let i = 0; i < (options.after ?? 0); i++) this.faults.push({ kind: 'pass' });
    for (let i = 0; i < count; i++) this.faults.push({ kind: 'status', status });
  }

  /** The next `count` submit_sm get no answer: the SMSC drops the connection instead. */
  dropOnNextSubmits(count = 1): void {
    for (let i = 0; i < count; i++) this.faults.push({ kind: 'drop' });
  }

  /** The next `count` submit_sm are never answered (the connection stays up). */
  ignoreNextSubmits(count = 1): void {
    for (let i = 0; i < count; i++) this.faults.push({ kind: 'ignore' });
  }

  /** Most submit_sm ever awaiting their response at once (all sessions): shows the client's window. */
  get maxOutstanding(): number {
    return this.maxSeen;
  }

  /** Drops every connection now, as a crashing SMSC would. */
  dropConnections(): void {
    for (const s of [...this.server.sessions]) s.destroy();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropConnections();
    await closed;
    this.listeners.clear();
    this.partial.clear();
  }

  private accept(session: Session): void {
    // A reset from a client under test must not crash the test process.
    session.on('error', () => undefined);
    // Responses and receipts are small: send them at once (see smpp-link.ts).
    session.socket.setNoDelay(true);
    session.on('close', () => this.bound.delete(session));
    session.on('pdu', (pdu: PDU) => {
      this.pdus.push(pdu);
      this.handle(session, pdu);
    });
  }

  private handle(session: Session, pdu: PDU): void {
    switch (pdu.command) {
      case 'bind_transceiver':
      case 'bind_transmitter':
      case 'bind_receiver':
        this.bind(session, pdu);
        return;
      case 'submit_sm':
        this.submit(session, pdu);
        return;
      case 'enquire_link':
        session.send(pdu.response());
        return;
      case 'unbind':
        this.bound.delete(session);
        session.send(pdu.response(), () => session.close());
        return;
      default:
        if (!pdu.isResponse()) session.send(pdu.response({ command_status: SmppStatus.ESME_RINVCMDID }));
    }
  }

  private bind(session: Session, pdu: PDU): void {
    let status: number = SmppStatus.ESME_ROK;
    if (this.bound.has(session)) status = SmppStatus.ESME_RALYBND;
    else if (pdu.system_id !== this.o.systemId) status = SmppStatus.ESME_RINVSYSID;
    else if (pdu.password !== this.o.password) status = SmppStatus.ESME_RINVPASWD;
    if (status !== SmppStatus.ESME_ROK) {
      // Like most SMSCs, hang up after refusing a bind.
      session.send(pdu.response({ command_status: status }), () => session.close());
      return;
    }
    this.bound.add(session);
    session.send(pdu.response({ system_id: 'test-smsc' }));
  }

  private submit(session: Session, pdu: PDU): void {
    const record: ReceivedSubmit = {
      destination: pdu.destination_addr ?? '',
      destTon: Number(pdu.dest_addr_ton ?? 0),
      destNpi: Number(pdu.dest_addr_npi ?? 0),
      esmClass: pdu.esm_class ?? 0,
      dataCoding: pdu.data_coding ?? 0,
      registeredDelivery: pdu.registered_delivery ?? 0,
      userData: userData(pdu),
      status: SmppStatus.ESME_ROK,
    };
    this.submits.push(record);
    if (!this.bound.has(session)) {
      record.status = SmppStatus.ESME_RINVBNDSTS;
      session.send(pdu.response({ command_status: record.status }));
      return;
    }
    const fault = this.faults.shift();
    if (fault?.kind === 'drop') {
      session.destroy();
      return;
    }
    if (fault?.kind === 'ignore') return;
    this.outstanding++;
    this.maxSeen = Math.max(this.maxSeen, this.outstanding);
    const answer = (): void => {
      this.outstanding--;
      if (fault?.kind === 'status') {
        record.status = fault.status;
        session.send(pdu.response({ command_status: fault.status }));
        return;
      }
      const messageId = (this.nextId++).toString(16).toUpperCase().padStart(8, '0');
      record.messageId = messageId;
      session.send(pdu.response({ message_id: messageId }), () => {
        if (this.o.deliveryReceipts && (record.registeredDelivery & 0x03) !== 0) this.sendReceipt(session, pdu, messageId);
      });
      this.collect(record);
    };
    if (this.o.responseDelayMs === 0) {
      answer();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      answer();
    }, this.o.responseDelayMs);
    this.timers.add(timer);
  }

  private sendReceipt(session: Session, submit: PDU, messageId: string): void {
    const stat = this.o.receiptStat;
    session.deliver_sm({
      source_addr_ton: submit.dest_addr_ton,
      source_addr_npi: submit.dest_addr_npi,
      source_addr: submit.destination_addr,
      destination_addr: submit.source_addr,
      esm_class: ESM_DELIVERY_RECEIPT,
      short_message: formatDeliveryReceiptText({ messageId, stat }),
      receipted_message_id: messageId,
      message_state: MESSAGE_STATE_BY_STAT[stat] ?? 7,
    });
  }

  /** Keeps segments until every part of a (destination, reference) has arrived. */
  private collect(record: ReceivedSubmit): void {
    const concat = record.esmClass & ESM_UDHI ? concatInfo(record.userData) : undefined;
    let segments: Buffer[];
    if (concat === undefined) {
      segments = [record.userData];
    } else {
      const key = `${record.destination}/${concat.reference}`;
      const parts = this.partial.get(key) ?? new Map<number, Buffer>();
      parts.set(concat.seq, record.userData);
      this.partial.set(key, parts);
      if (parts.size < concat.total) return;
      this.partial.delete(key);
      segments = [...parts.values()];
    }
    let push: ParsedWapPush;
    try {
      push = parseWapPush(segments);
    } catch (e) {
      this.errors.push(`${record.destination}: ${(e as Error).message}`);
      return;
    }
    const n: ReceivedNotification = { destination: record.destination, trigger: push.body, push };
    this.notifications.push(n);
    for (const l of [...this.listeners]) l(n.destination, n.trigger, n.push);
  }
}

/**
 * The user data as sent. The smpp package splits a UDHI message into UDH
 * elements (dropping the UDH length byte) and the rest: put it back together.
 */
function userData(pdu: PDU): Buffer {
  const sm = pdu.short_message;
  if (Buffer.isBuffer(sm)) return sm;
  if (typeof sm === 'string' || sm === undefined) return Buffer.from(sm ?? '', 'latin1');
  const message = Buffer.isBuffer(sm.message) ? sm.message : Buffer.from(sm.message, 'latin1');
  if (!((pdu.esm_class ?? 0) & ESM_UDHI) || !sm.udh) return message;
  const udh = Buffer.concat(sm.udh);
  return Buffer.concat([Buffer.from([udh.length]), udh, message]);
}

/** The 8- or 16-bit concatenation element of a UDH, if any. */
function concatInfo(data: Buffer): { reference: number; total: number; seq: number } | undefined {
  const udhl = data[0] ?? 0;
  for (let i = 1; i + 1 < 1 + udhl; ) {
    const iei = data[i]!;
    const len = data[i + 1]!;
    const v = data.subarray(i + 2, i + 2 + len);
    if (iei === 0x00 && len === 3) return { reference: v[0]!, total: v[1]!, seq: v[2]! };
    if (iei === 0x08 && len === 4) return { reference: v.readUInt16BE(0), total: v[2]!, seq: v[3]! };
    i += 2 + len;
  }
  return undefined;
}
