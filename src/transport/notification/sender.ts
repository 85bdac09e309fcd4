/**
 * The port the DM engine and workers notify devices through. A device that
 * cannot be reached is an outcome (a value the caller records and may retry),
 * never an exception: only programming errors throw.
 */

import type { NotificationNotDelivered, NotificationSender } from '../../dm/server/ports.js';

// The DM layer owns these types (it must not depend on transport); senders implement them.
export type {
  NotificationChannel,
  NotificationDelivered,
  NotificationNotDelivered,
  NotificationOutcome,
  NotificationSender,
  NotificationTarget,
} from '../../dm/server/ports.js';

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
