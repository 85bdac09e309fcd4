/**
 * The port the DM engine and workers notify devices through. A device that
 * cannot be reached is an outcome (a value the caller records and may retry),
 * never an exception: only programming errors throw.
 */

export type NotificationChannel = 'http' | 'sms';

/** Where a device can be notified; taken from its DeviceInstance. */
export interface NotificationTarget {
  deviceId: string;
  /** Preferred when set: the device (or its push proxy) listens here. */
  notificationUrl?: string;
  /** E.164 with or without the leading '+'. */
  smsAddress?: string;
}

export interface NotificationDelivered {
  delivered: true;
  channel: NotificationChannel;
  /** What the far side said: `HTTP 204`, or the SMSC message ids. */
  detail: string;
  /** Attempts made inside this call, the successful one included. */
  attempts: number;
}

export interface NotificationNotDelivered {
  delivered: false;
  /** 'none' when the target offers no usable channel. */
  channel: NotificationChannel | 'none';
  /** True when the same notification may succeed later (the caller's queue retries). */
  retryable: boolean;
  /** The last failure, readable by an operator. */
  reason: string;
  /** Attempts made inside this call; 0 when nothing was sent. */
  attempts: number;
}

export type NotificationOutcome = NotificationDelivered | NotificationNotDelivered;

export interface NotificationSender {
  /** Sends the Package#0 bytes to the device; resolves with what happened. */
  send(target: NotificationTarget, trigger: Buffer): Promise<NotificationOutcome>;
}

/** A sender holding sockets or timers: close it on shutdown. */
export interface ClosableNotificationSender extends NotificationSender {
  close(): Promise<void>;
}

export function notDelivered(
  channel: NotificationNotDelivered['channel'],
  retryable: boolean,
  reason: string,
  attempts: number,
): NotificationNotDelivered {
  return { delivered: false, channel, retryable, reason, attempts };
}
