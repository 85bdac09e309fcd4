/**
 * The notification sender the gateway uses: HTTP when the device has a
 * notificationUrl; otherwise SMS (WAP Push over SMPP) once an SMSC is
 * configured; otherwise a clear "no channel" outcome.
 */
import type { Logger } from 'pino';
import type { NotificationOutcome, NotificationSender, NotificationTarget } from '../../dm/server/ports.js';
import { HttpNotificationSender, type HttpSenderOptions } from './http-sender.js';

export interface ClosableNotificationSender extends NotificationSender {
  close(): Promise<void>;
}

export interface NotificationSenderConfig {
  smppUrl: string | undefined;
  logger: Logger;
  http?: HttpSenderOptions;
  /** An SMS sender (WAP Push over SMPP) when one is available. */
  sms?: ClosableNotificationSender;
}

export function createNotificationSender(c: NotificationSenderConfig): ClosableNotificationSender {
  const http = new HttpNotificationSender(c.http);
  if (c.smppUrl && !c.sms) c.logger.warn('SMPP_URL is set but no SMS sender is available in this build');
  return {
    async send(target: NotificationTarget, trigger: Buffer): Promise<NotificationOutcome> {
      if (target.notificationUrl) return http.send(target, trigger);
      if (target.smsAddress && c.sms) return c.sms.send(target, trigger);
      return { delivered: false, channel: 'none', retryable: false, reason: 'no notification channel', attempts: 0 };
    },
    close: async () => {
      await c.sms?.close();
    },
  };
}
