/**
 * The notification sender the gateway uses: HTTP when the device has a
 * notificationUrl; otherwise SMS (WAP Push over SMPP) when SMPP_URL is
 * configured; otherwise a clear "no channel" outcome. Reads no environment:
 * the caller passes its validated configuration.
 */
import type { Logger } from 'pino';
import { CompositeNotificationSender } from './composite-sender.js';
import type { DeliveryReceipt } from './delivery-receipt.js';
import { HttpNotificationSender, type HttpSenderOptions } from './http-sender.js';
import type { ClosableNotificationSender } from './sender.js';
import { SmppNotificationSender, type SmppSenderOptions } from './smpp-sender.js';

export type { ClosableNotificationSender } from './sender.js';

export interface NotificationSenderConfig {
  /** config.smppUrl; without it devices are notified over HTTP only. */
  smppUrl: string | undefined;
  logger: Logger;
  http?: HttpSenderOptions;
  /** The HTTP sender to use (one shared with bootstrap delivery) instead of one built from `http`. */
  httpSender?: HttpNotificationSender;
  /** SMPP tuning (window, timeouts, source address...). */
  smpp?: Omit<SmppSenderOptions, 'url' | 'log' | 'onDeliveryReceipt'>;
  /** SMSC delivery receipts; by default they are logged at debug level. */
  onDeliveryReceipt?: (receipt: DeliveryReceipt) => void;
  /** An SMS sender to use instead of one built from smppUrl. */
  sms?: ClosableNotificationSender;
}

export function createNotificationSender(c: NotificationSenderConfig): ClosableNotificationSender {
  const http = c.httpSender ?? new HttpNotificationSender(c.http);
  const sms = c.sms ?? (c.smppUrl ? startSmpp(c.smppUrl, c) : undefined);
  return new CompositeNotificationSender({ http, ...(sms ? { sms } : {}) });
}

function startSmpp(url: string, c: NotificationSenderConfig): SmppNotificationSender {
  const log = c.logger.child({ component: 'smpp' });
  const sms = new SmppNotificationSender({
    ...c.smpp,
    url,
    log,
    onDeliveryReceipt:
      c.onDeliveryReceipt ?? ((r) => log.debug({ messageId: r.messageId, stat: r.stat }, 'SMSC delivery receipt')),
  });
  // Bind at start-up so a wrong SMPP_URL shows in the log before the first notification.
  sms.start();
  return sms;
}
