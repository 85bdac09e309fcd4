/**
 * WS-Security PasswordDigest replay: the replay cache holds the nonce's bytes,
 * and only their canonical base64 spelling is accepted, so a captured request
 * cannot be sent again with its nonce re-encoded (the digest covers the
 * bytes, so it stays valid under any spelling).
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, WSSE_NS } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw?.stop());

const TOKEN_PROFILE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0';
const WSU_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';

/** A PasswordDigest header over `nonce` (bytes) and `created`, with the nonce written as `spelt`. */
function digestHeader(nonce: Buffer, created: string, spelt: string): string {
  const digest = crypto
    .createHash('sha1')
    .update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(ADMIN.password)]))
    .digest('base64');
  return (
    `<wsse:Security xmlns:wsse="${WSSE_NS}" xmlns:wsu="${WSU_NS}"><wsse:UsernameToken>` +
    `<wsse:Username>${ADMIN.username}</wsse:Username>` +
    `<wsse:Password Type="${TOKEN_PROFILE}#PasswordDigest">${digest}</wsse:Password>` +
    `<wsse:Nonce EncodingType="${TOKEN_PROFILE}#Base64Binary">${spelt}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
  );
}

async function send(header: string): Promise<{ status: number; code: string | undefined }> {
  const body = envelope('<t:getDeviceInstances><t:userSession></t:userSession><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>', header);
  const r = await fetch(`${gw.url}/dmwsi/DeviceManager`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body });
  const text = await r.text();
  return { status: r.status, code: /<tns:code>(\w+)<\/tns:code>/.exec(text)?.[1] };
}

/** 10 bytes (two padding characters), the first three spelt "+/+/" in the standard alphabet. */
function freshNonce(): Buffer {
  return Buffer.concat([Buffer.from([0xfb, 0xff, 0xbf]), crypto.randomBytes(7)]);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Other spellings of the same bytes, each of which Buffer.from(…, 'base64') decodes to them. */
const respellings: [string, (canonical: string) => string][] = [
  ['without padding', (c) => c.replace(/=+$/, '')],
  ['with trailing junk after the padding', (c) => `${c}AAAA`],
  ['with whitespace inside', (c) => `${c.slice(0, 8)} \n${c.slice(8)}`],
  ['in the URL-safe alphabet', (c) => c.replace(/\+/g, '-').replace(/\//g, '_')],
  [
    'with non-zero spare bits in the last character',
    (c) => {
      const last = c.replace(/=+$/, '').length - 1;
      return c.slice(0, last) + ALPHABET[ALPHABET.indexOf(c[last]!) + 1] + c.slice(last + 1);
    },
  ],
];

describe('PasswordDigest nonce replay', () => {
  it('accepts a canonical nonce once and refuses the same spelling again', async () => {
    const nonce = freshNonce();
    const created = new Date().toISOString();
    const canonical = nonce.toString('base64');
    expect(await send(digestHeader(nonce, created, canonical))).toEqual({ status: 200, code: undefined });
    expect(await send(digestHeader(nonce, created, canonical))).toEqual({ status: 500, code: 'AuthenticationFailed' });
  });

  it.each(respellings)('refuses a replay whose nonce is re-spelt %s', async (_form, respell) => {
    const nonce = freshNonce();
    const created = new Date().toISOString();
    const canonical = nonce.toString('base64');
    const variant = respell(canonical);
    expect(variant).not.toBe(canonical);
    // The re-spelling decodes to the same bytes under a lenient decoder: the digest stays valid.
    expect(Buffer.from(variant, 'base64').equals(nonce)).toBe(true);
    expect(await send(digestHeader(nonce, created, canonical))).toEqual({ status: 200, code: undefined });
    expect(await send(digestHeader(nonce, created, variant))).toEqual({ status: 500, code: 'AuthenticationFailed' });
  });

  it.each(respellings)('refuses a first-time nonce spelt %s', async (_form, respell) => {
    const nonce = freshNonce();
    const created = new Date().toISOString();
    expect(await send(digestHeader(nonce, created, respell(nonce.toString('base64'))))).toEqual({
      status: 500,
      code: 'AuthenticationFailed',
    });
  });
});
