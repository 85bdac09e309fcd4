/**
 * Refused sign-ins through the SOAP endpoint: one answer whatever the reason
 * (unknown name, wrong password, disabled, locked) on PasswordText,
 * PasswordDigest and login, and Overloaded at once when more passwords are
 * being checked than the process allows.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, passwordTextHeader, WSSE_NS } from '../support/soap.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const PASSWORD = 'refusal-password-1';
const TOKEN_PROFILE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0';
const GET = '<t:getDeviceInstances><t:userSession></t:userSession><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>';

let gw: TestGateway;
let tight: TestGateway;
beforeAll(async () => {
  [gw, tight] = await Promise.all([startTestGateway(), startTestGateway({ overrides: { passwordHashConcurrency: 1 } })]);
  for (const name of ['wrong', 'disabled', 'locked']) await gw.auth.createUser(name, PASSWORD, 'care');
  await gw.dataSource.query("UPDATE api_user SET disabled = 1 WHERE username = 'disabled'");
  await gw.dataSource.query("UPDATE api_user SET failed_logins = 5, locked_until = ? WHERE username = 'locked'", [Date.now() + 600_000]);
});
afterAll(async () => {
  await Promise.all([gw?.stop(), tight?.stop()]);
});

function digestHeader(username: string, password: string): string {
  const nonce = crypto.randomBytes(16);
  const created = new Date().toISOString();
  const digest = crypto.createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(password)])).digest('base64');
  return (
    `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username>${username}</wsse:Username>` +
    `<wsse:Password Type="${TOKEN_PROFILE}#PasswordDigest">${digest}</wsse:Password>` +
    `<wsse:Nonce>${nonce.toString('base64')}</wsse:Nonce><wsse:Created>${created}</wsse:Created></wsse:UsernameToken></wsse:Security>`
  );
}

/** The fault's faultcode and faultstring ('' for an answer that is no fault). */
async function post(target: TestGateway, service: string, body: string, header = ''): Promise<string> {
  const r = await fetch(`${target.url}/dmwsi/${service}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8' },
    body: envelope(body, header),
  });
  const text = await r.text();
  const fault = /<faultcode>([^<]*)<\/faultcode><faultstring>([^<]*)<\/faultstring>/.exec(text);
  return fault ? `${fault[1]} ${fault[2]}` : '';
}

const CASES: [string, string][] = [
  ['unknown', PASSWORD],
  ['wrong', 'not-the-password'],
  ['disabled', PASSWORD],
  ['locked', PASSWORD],
];

describe('refused sign-ins', () => {
  it('answer unknown, wrong, disabled and locked users with one fault text on PasswordText, PasswordDigest and login', async () => {
    const answers = new Set<string>();
    for (const [name, password] of CASES) {
      answers.add(await post(gw, 'DeviceManager', GET, passwordTextHeader(name, password)));
      answers.add(await post(gw, 'DeviceManager', GET, digestHeader(name, password)));
      answers.add(
        await post(gw, 'DeploymentBroker', `<t:login><t:username>${name}</t:username><t:password>${password}</t:password></t:login>`),
      );
    }
    expect([...answers]).toEqual(['soap:Client AuthenticationFailed: user name or password not accepted']);
  });

  it('answers Overloaded at once when more passwords arrive than PASSWORD_HASH_CONCURRENCY allows', async () => {
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) => post(tight, 'DeviceManager', GET, passwordTextHeader(`nobody-${i}`, `password-${i}`))),
    );
    // Which ones get in depends on timing; that each answer is one of the two, and both occur, does not.
    const kinds = new Set(answers.map((a) => a.replace(/^(soap:\w+ \w+).*/, '$1')));
    expect([...kinds].sort()).toEqual(['soap:Client AuthenticationFailed', 'soap:Server Overloaded']);
  });
});
