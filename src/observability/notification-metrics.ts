/**
 * Package#0 triggers and bootstrap pushes as Prometheus counts: sent and
 * failed, by channel (http, sms; `none` when the device offers no usable
 * channel). A decorator around any NotificationSender, so every sender (HTTP,
 * SMPP, a test's) is counted alike without knowing of metrics.
 */
import client from 'prom-client';
import type { NotificationOutcome, NotificationSender, NotificationTarget } from '../dm/server/ports.js';

export type NotificationPurpose = 'trigger' | 'bootstrap';

export interface NotificationCounters {
  count(purpose: NotificationPurpose, outcome: NotificationOutcome): void;
}

export function notificationCounters(registry: client.Registry): NotificationCounters {
  const sent = new client.Counter<'channel' | 'purpose'>({
    name: 'dmwsi_notifications_sent_total',
    help: 'Notifications delivered (HTTP 2xx, or accepted by the SMSC), by channel and purpose (trigger: Package#0; bootstrap)',
    labelNames: ['channel', 'purpose'],
    registers: [registry],
  });
  const failed = new client.Counter<'channel' | 'purpose' | 'retryable'>({
    name: 'dmwsi_notifications_failed_total',
    help: 'Notifications not delivered, by channel (none: no usable channel), purpose, and whether a later attempt may succeed',
    labelNames: ['channel', 'purpose', 'retryable'],
    registers: [registry],
  });
  return {
    count(purpose, o) {
      if (o.delivered) sent.inc({ channel: o.channel, purpose });
      else failed.inc({ channel: o.channel, purpose, retryable: String(o.retryable) });
    },
  };
}

/** The sender, counting each outcome (an exception is no outcome: it propagates uncounted, as before). */
export function countedSender(sender: NotificationSender, counters: NotificationCounters): NotificationSender {
  return {
    async send(target: NotificationTarget, trigger: Buffer): Promise<NotificationOutcome> {
      const outcome = await sender.send(target, trigger);
      counters.count('trigger', outcome);
      return outcome;
    },
  };
}
