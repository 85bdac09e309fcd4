/**
 * The HTTP client of webhook deliveries: one POST of a JSON body through the
 * push client's attempt (http-attempt.ts), so NOTIFICATION_ALLOWED_NETWORKS
 * is checked where pushes check it, on the address actually connected to
 * (after DNS, rebinding included), redirects are never followed and the
 * receiver's answer is reduced to its status code. Retries are the queue's
 * (a killed worker must not lose a retry held in memory), so one attempt
 * here.
 */
import dns from 'node:dns/promises';
import { setMaxListeners } from 'node:events';
import { isIP } from 'node:net';
import type { AllowedNetworks } from '../../security/allowed-networks.js';
import type { DestinationPolicy, WebhookPoster, WebhookPostResult } from '../../services/webhooks/ports.js';
import { PushAgent, postOnce } from './http-attempt.js';

export interface WebhookPosterOptions {
  /** NOTIFICATION_ALLOWED_NETWORKS; undefined: any destination. */
  allowedNetworks: AllowedNetworks | undefined;
  /** Per POST: connect to drained answer (WEBHOOK_TIMEOUT_SECONDS). */
  timeoutMs: number;
}

export class HttpWebhookPoster implements WebhookPoster, DestinationPolicy {
  /** Keep-alive connections (undici, as pushes; see http-attempt.ts), http and https alike. */
  private readonly agent: PushAgent;
  private readonly shutdown = new AbortController();

  constructor(private readonly o: WebhookPosterOptions) {
    this.agent = new PushAgent({
      allowedNetworks: o.allowedNetworks,
      maxSocketsPerOrigin: 32,
      idleSocketTimeoutMs: 4000,
      connectTimeoutMs: o.timeoutMs,
    });
    setMaxListeners(0, this.shutdown.signal);
  }

  async post(url: string, body: string, headers: Record<string, string>): Promise<WebhookPostResult> {
    const target = new URL(url);
    const result = await postOnce({
      url: target,
      body: Buffer.from(body),
      contentType: 'application/json',
      headers,
      timeoutMs: this.o.timeoutMs,
      maxDrainBytes: 64 * 1024,
      agent: this.agent,
      userAgent: 'dmwsi-gateway-webhooks',
      signal: this.shutdown.signal,
    });
    if (result.kind === 'delivered') return { kind: 'delivered', status: result.status };
    if (result.kind === 'refused') return { kind: 'refused', reason: result.reason };
    return {
      kind: 'failed',
      retryable: result.retryable,
      reason: result.reason,
      ...(result.status !== undefined ? { status: result.status } : {}),
    };
  }

  /**
   * At registration: the URL's host, as it resolves now, must be inside
   * NOTIFICATION_ALLOWED_NETWORKS (every address). Each delivery checks
   * again on the address it connects to.
   */
  async refusal(url: string): Promise<string | undefined> {
    const allowed = this.o.allowedNetworks;
    if (!allowed) return undefined;
    const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
    let addresses: string[];
    if (isIP(host) !== 0) addresses = [host];
    else {
      try {
        addresses = (await dns.lookup(host, { all: true })).map((a) => a.address);
      } catch {
        return `host ${host} does not resolve`;
      }
    }
    const outside = addresses.find((a) => !allowed.allows(a));
    return outside === undefined ? undefined : `destination ${outside} not in NOTIFICATION_ALLOWED_NETWORKS`;
  }

  async close(): Promise<void> {
    this.shutdown.abort();
    await this.agent.close();
  }
}
