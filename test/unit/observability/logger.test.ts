import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';
import { redactText } from '../../../src/observability/log-redaction.js';

/** A trace-level logger and the lines it wrote. */
function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger('trace', 'test', sink), text: () => lines.join('\n'), lines };
}

describe('log redaction', () => {
  it('removes secret fields at any depth, in arrays and in child loggers bindings', () => {
    const { logger, text } = capture();
    logger.info({ device: { credentials: { clientPassword: 'S1-client', serverNonce: 'S2-nonce' } } }, 'deep');
    logger.info({ a: { b: { c: { d: { password: 'S3-password', hmac: 'S4-hmac' } } } } }, 'deeper');
    logger.info({ rows: [{ userSession: 'S5-session' }, { serverPassword: 'S6-server' }] }, 'array');
    logger.child({ auth: { token: 'S7-token' } }).warn({ webhookSecret: 'S8-webhook' }, 'child');
    logger.info({ wsse: { Nonce: 'S9-nonce', PasswordDigest: 'S10-digest', Created: '2026-01-01T00:00:00Z' } }, 'wsse');
    const out = text();
    for (let i = 1; i <= 10; i++) expect(out).not.toContain(`S${i}-`);
    // What is not secret stays readable.
    expect(out).toContain('2026-01-01T00:00:00Z');
    expect(out).toContain('"msg":"deeper"');
  });

  it('removes a DM session token and a URL password from strings, messages and errors included', () => {
    const { logger, text } = capture();
    logger.info({ url: 'http://gw:8080/dm/s/Tok3nTok3nTok3nTok3n' }, 'posting to http://gw/dm/s/An0therTok3nAn0ther');
    logger.error({ err: new Error('connect failed: redis://user:Hunter2pw@redis:6379') }, 'no redis');
    // An ioredis error carries the command's arguments: a DM session's key holds its token.
    const replyError = Object.assign(new Error('READONLY'), { command: { name: 'get', args: ['p:dm:session:K3yTok3nK3y'] } });
    logger.error({ err: replyError }, 'DM message failed');
    const out = text();
    expect(out).not.toMatch(/Tok3nTok3n|An0therTok3n|Hunter2pw|K3yTok3n/);
    expect(out).toContain('/dm/s/[Redacted]');
    expect(out).toContain('redis://user:[Redacted]@redis:6379');
  });

  it('keeps ids and the SyncML sessionId, which are no secrets', () => {
    const { logger, lines } = capture();
    logger.debug({ deviceId: 'IMEI:490154203237518', sessionId: '6D6', requestIds: ['r-1'] }, 'DM session-started');
    expect(JSON.parse(lines[0]!)).toMatchObject({ deviceId: 'IMEI:490154203237518', sessionId: '6D6', requestIds: ['r-1'] });
  });
});

describe('log redaction of request text', () => {
  // A logged LocURI or SOAP field is request input: the scans must stay linear on it.
  it('scans 200 KB of scheme characters and of "a:" pairs in well under a second', () => {
    for (const text of ['a'.repeat(200_000), 'a:'.repeat(100_000), 'a://b:'.repeat(40_000)]) {
      const started = performance.now();
      redactText(text);
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it('still removes a password that follows a scheme preceded by other text', () => {
    expect(redactText('x=http://u:pw123@h/')).toBe('x=http://u:[Redacted]@h/');
  });
});
