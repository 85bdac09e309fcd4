/**
 * Delivers a signed DM bootstrap over HTTP: POST the exact WBXML bytes with
 * the bootstrap content type (SEC/MAC) to the device's notification URL, the
 * one address the contract gives for reaching a device outside a session.
 * The device tells a bootstrap from a Package#0 by the media type.
 *
 * The HTTP I/O is the notification sender's (transport/notification): the
 * same retry policy as a Package#0 over HTTP (2xx delivered; 408, 429, 5xx,
 * network errors and timeouts retried; 3xx and other 4xx final, as a
 * rejected MAC will not pass on a resend), the same destination check
 * (NOTIFICATION_ALLOWED_NETWORKS), and an outcome of the same shape.
 * Resending is safe: a device replaces the account a bootstrap names.
 */
import type { NotificationOutcome } from '../server/ports.js';
import { parseBootstrapContentType } from './security.js';

/** The HTTP push client: POSTs bytes to a device's URL, with retries. */
export interface HttpPush {
  post(url: string, body: Buffer, contentType: string): Promise<NotificationOutcome>;
}

export async function deliverBootstrap(push: HttpPush, url: string, body: Buffer, contentType: string): Promise<NotificationOutcome> {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new TypeError('body must be a non-empty Buffer');
  // Refuse to push an unsigned bootstrap: no device may trust one (security.ts).
  if (!parseBootstrapContentType(contentType)) {
    throw new TypeError(`not a signed DM bootstrap content type: ${JSON.stringify(contentType)}`);
  }
  return push.post(url, body, contentType);
}
