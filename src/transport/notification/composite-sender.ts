/**
 * Picks the channel for a device: HTTP when it has a notificationUrl, else
 * SMS when it has an smsAddress and an SMSC is configured. There is no
 * fallback from a failed HTTP attempt to SMS: the device's registration says
 * how it wants to be reached, and a silent switch would hide a bad URL.
 */
import {
  type ClosableNotificationSender,
  type NotificationChannel,
  type NotificationOutcome,
  type NotificationSender,
  type NotificationTarget,
  notDelivered,
} from './sender.js';

export interface NotificationChannels {
  http: NotificationSender;
  /** Absent when no SMPP_URL is configured. */
  sms?: NotificationSender;
}

export class CompositeNotificationSender implements ClosableNotificationSender {
  constructor(private readonly channels: NotificationChannels) {}

  /** The channel send() would use, or undefined when the target cannot be notified. */
  channelFor(target: NotificationTarget): NotificationChannel | undefined {
    if (target.notificationUrl) return 'http';
    if (target.smsAddress && this.channels.sms) return 'sms';
    return undefined;
  }

  async send(target: NotificationTarget, trigger: Buffer): Promise<NotificationOutcome> {
    const channel = this.channelFor(target);
    if (channel === 'http') return this.channels.http.send(target, trigger);
    if (channel === 'sms' && this.channels.sms) return this.channels.sms.send(target, trigger);
    return notDelivered('none', false, 'no notification channel', 0);
  }

  /** The composite owns its channels: closes those that hold resources. */
  async close(): Promise<void> {
    await Promise.all(Object.values(this.channels).map((c: NotificationSender) => (isClosable(c) ? c.close() : undefined)));
  }
}

function isClosable(sender: NotificationSender): sender is ClosableNotificationSender {
  return typeof (sender as Partial<ClosableNotificationSender>).close === 'function';
}
