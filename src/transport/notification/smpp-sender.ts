/**
 * Notification over SMS: the Package#0 as a WAP Push (notes §4), one
 * submit_sm per segment over the SMPP link to the SMSC of SMPP_URL.
 *
 * Outcomes: every segment accepted (command_status 0) → delivered, with the
 * SMSC message ids; ESME_RTHROTTLED / ESME_RMSGQFUL → retryable; any other
 * error status → not retryable; link trouble → retryable, except bind
 * credentials refused → not retryable. No retries happen here: the caller's
 * queue owns the retry schedule for SMS, which costs money per attempt.
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { PDU } from 'smpp';
import { buildWapPush } from '../../dm/notification/wap-push.js';
import { type DeliveryReceipt, parseDeliveryReceipt } from './delivery-receipt.js';
import {
  type ClosableNotificationSender,
  type NotificationOutcome,
  type NotificationTarget,
  notDelivered,
} from './sender.js';
import { type LinkState, SmppLink, SmppLinkError, type SmppLog } from './smpp-link.js';
import { describeSmppStatus, isRetryableSubmitStatus, SmppStatus } from './smpp-status.js';
import { describeSmsc, parseSmppUrl } from './smpp-url.js';

export interface SmppSenderOptions {
  /** SMPP_URL: smpp://system_id:password@host:port or ssmpp://... */
  url: string;
  /** Extra tls.connect options for ssmpp:// (ca, servername, rejectUnauthorized). */
  tls?: TlsConnectionOptions;
  /** bind system_type. Default ''. */
  systemType?: string;
  /** Originator; default '' lets the SMSC use the account's default address. */
  sourceAddr?: string;
  sourceAddrTon?: number;
  sourceAddrNpi?: number;
  /** Outstanding submit_sm at most. Default 10. */
  window?: number;
  /** Wait for any response PDU. Default 10000. */
  pduTimeoutMs?: number;
  /** Connect and bind. Default 10000. */
  connectTimeoutMs?: number;
  /** Default 30000. */
  enquireLinkIntervalMs?: number;
  /** Reconnect backoff. Defaults 500 and 30000. */
  reconnectBaseDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Bound on each step of close(). Default 2000. */
  closeTimeoutMs?: number;
  /** SMSC delivery receipts, one per segment (registered_delivery is always requested). */
  onDeliveryReceipt?: (receipt: DeliveryReceipt) => void;
  log?: SmppLog;
}

/** esm_class: default mode, default message type, UDH indicator. */
const ESM_CLASS_UDHI = 0x40;
/** data_coding: 8-bit binary. */
const DATA_CODING_BINARY = 0x04;
const TON_INTERNATIONAL = 1;
const NPI_ISDN = 1;
/** registered_delivery: SMSC receipt on final outcome, success or failure. */
const RECEIPT_ON_FINAL = 0x01;

export class SmppNotificationSender implements ClosableNotificationSender {
  /** The SMSC, without the password. */
  readonly smsc: string;
  private readonly link: SmppLink;
  private readonly source: { source_addr: string; source_addr_ton: number; source_addr_npi: number };

  constructor(options: SmppSenderOptions) {
    const address = parseSmppUrl(options.url);
    this.smsc = describeSmsc(address);
    this.source = {
      source_addr: options.sourceAddr ?? '',
      source_addr_ton: options.sourceAddrTon ?? 0,
      source_addr_npi: options.sourceAddrNpi ?? 0,
    };
    const onReceipt = options.onDeliveryReceipt;
    this.link = new SmppLink({
      address,
      ...(options.tls ? { tls: options.tls } : {}),
      systemType: options.systemType ?? '',
      window: options.window ?? 10,
      pduTimeoutMs: options.pduTimeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      enquireLinkIntervalMs: options.enquireLinkIntervalMs ?? 30_000,
      reconnect: { baseDelayMs: options.reconnectBaseDelayMs ?? 500, maxDelayMs: options.reconnectMaxDelayMs ?? 30_000 },
      closeTimeoutMs: options.closeTimeoutMs ?? 2000,
      onDeliverSm: (pdu: PDU) => {
        const receipt = parseDeliveryReceipt(pdu);
        // Mobile-originated messages are acknowledged and dropped: nothing here asks for them.
        if (receipt && onReceipt) onReceipt(receipt);
      },
      ...(options.log ? { log: options.log } : {}),
    });
  }

  get state(): LinkState {
    return this.link.state;
  }

  /** Binds now instead of on the first notification (errors surface on that notification). */
  start(): void {
    this.link.start();
  }

  async send(target: NotificationTarget, trigger: Buffer): Promise<NotificationOutcome> {
    if (!Buffer.isBuffer(trigger) || trigger.length === 0) throw new TypeError('trigger must be a non-empty Buffer');
    if (this.link.state === 'closed') throw new Error('SmppNotificationSender is closed');
    const destination = toInternationalNumber(target.smsAddress);
    if (destination === undefined) {
      return notDelivered('sms', false, `smsAddress is not an E.164 number: ${JSON.stringify(target.smsAddress ?? '')}`, 0);
    }
    const segments = buildWapPush(trigger);
    const ids: string[] = [];
    for (const [i, segment] of segments.entries()) {
      const where = segments.length > 1 ? `segment ${i + 1}/${segments.length}: ` : '';
      let resp: PDU;
      try {
        resp = await this.link.submit({
          ...this.source,
          dest_addr_ton: TON_INTERNATIONAL,
          dest_addr_npi: NPI_ISDN,
          destination_addr: destination,
          esm_class: ESM_CLASS_UDHI,
          data_coding: DATA_CODING_BINARY,
          registered_delivery: RECEIPT_ON_FINAL,
          // A Buffer goes out as is: the UDH is already inside, hence esm_class 0x40 above.
          short_message: segment.full,
        });
      } catch (e) {
        if (e instanceof SmppLinkError) return notDelivered('sms', e.retryable, where + e.message, 1);
        throw e;
      }
      if (resp.command_status !== SmppStatus.ESME_ROK) {
        const status = resp.command_status;
        return notDelivered('sms', isRetryableSubmitStatus(status), `${where}SMSC ${this.smsc} refused submit_sm: ${describeSmppStatus(status)}`, 1);
      }
      ids.push(resp.message_id ?? '');
    }
    return { delivered: true, channel: 'sms', detail: `message id${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`, attempts: 1 };
  }

  /** Unbinds and closes the session; notifications in flight get a bounded time to finish. */
  close(): Promise<void> {
    return this.link.close();
  }
}

/** E.164 digits without '+', as destination_addr with TON international wants them. */
export function toInternationalNumber(smsAddress: string | undefined): string | undefined {
  const digits = smsAddress?.trim().replace(/^\+/, '');
  return digits && /^[1-9]\d{0,14}$/.test(digits) ? digits : undefined;
}
