/**
 * The crash test's SOAP caller: an OSS that retries a call whose answer it
 * did not get (connection refused or cut, 5xx without a Fault, Internal or
 * Overloaded faults) until a time limit, as the contract allows (every
 * attempt of one call carries the same WS-Addressing MessageID, which makes
 * the retries idempotent), and signs in again when its userSession is refused.
 * Given several api processes, it spreads its calls over them in turn, and
 * a retried attempt goes to the next one (as a load balancer would).
 */
import crypto from 'node:crypto';
import { envelope } from '../../../bench/support/broker-load.js';

const WSA_NS = 'http://www.w3.org/2005/08/addressing';

export class SoapFault extends Error {
  constructor(
    readonly code: string,
    readonly faultString: string,
  ) {
    super(`${code}: ${faultString}`);
  }
}

const RETRYABLE_FAULTS = new Set(['Internal', 'Overloaded']);

export class ChaosSoap {
  private session: string | undefined;
  /** Attempts that got no usable answer and were made again. */
  retries = 0;
  private readonly bases: string[];
  private turn = 0;

  constructor(
    base: string | string[],
    private readonly username: string,
    private readonly password: string,
  ) {
    this.bases = typeof base === 'string' ? [base] : base;
  }

  /** The api process the next attempt goes to. */
  private base(): string {
    return this.bases[this.turn++ % this.bases.length]!;
  }

  /**
   * Calls `operation` of `service` with `inner` after the userSession
   * element; returns the answer's XML. Throws SoapFault for a fault that
   * retrying does not change.
   */
  async call(service: string, operation: string, inner: string, opts: { timeoutMs?: number; giveUpAfterMs?: number } = {}): Promise<string> {
    const giveUpAt = Date.now() + (opts.giveUpAfterMs ?? 180_000);
    const messageId = `<wsa:MessageID xmlns:wsa="${WSA_NS}">urn:uuid:${crypto.randomUUID()}</wsa:MessageID>`;
    for (let attempt = 0; ; attempt++) {
      let why: string;
      try {
        const session = await this.sessionId(giveUpAt);
        const body = envelope(`<t:${operation}><t:userSession>${session}</t:userSession>${inner}</t:${operation}>`, messageId);
        const answer = await post(`${this.base()}/dmwsi/${service}`, body, opts.timeoutMs ?? 60_000);
        const fault = faultOf(answer.text);
        if (answer.status === 200 && !fault) return answer.text;
        if (fault?.code === 'AuthenticationFailed') {
          this.session = undefined;
          why = 'session refused';
        } else if (fault && !RETRYABLE_FAULTS.has(fault.code)) {
          throw new SoapFault(fault.code, fault.faultString);
        } else {
          why = fault ? `${fault.code}: ${fault.faultString}` : `HTTP ${answer.status}`;
        }
      } catch (err) {
        if (err instanceof SoapFault) throw err;
        why = (err as Error).message;
      }
      if (Date.now() > giveUpAt) throw new Error(`${operation} got no answer before the time limit (last: ${why})`);
      this.retries++;
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 2000)));
    }
  }

  private async sessionId(giveUpAt: number): Promise<string> {
    while (this.session === undefined) {
      const body = envelope(`<t:login><t:username>${this.username}</t:username><t:password>${this.password}</t:password></t:login>`);
      const answer = await post(`${this.base()}/dmwsi/DeviceManager`, body, 30_000).catch(() => undefined);
      const session = answer && /<userSession>([^<]+)<\/userSession>/.exec(answer.text)?.[1];
      if (session) this.session = session;
      else if (Date.now() > giveUpAt) throw new Error('could not sign in before the time limit');
      else await new Promise((r) => setTimeout(r, 500));
    }
    return this.session;
  }
}

async function post(url: string, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8' },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: r.status, text: await r.text() };
}

function faultOf(xml: string): { code: string; faultString: string } | undefined {
  if (!xml.includes('Fault>')) return undefined;
  const code = /<(?:\w+:)?code>([^<]+)<\/(?:\w+:)?code>/.exec(xml)?.[1] ?? 'Unknown';
  const faultString = /<faultstring>([^<]*)<\/faultstring>/.exec(xml)?.[1] ?? '';
  return { code, faultString };
}
