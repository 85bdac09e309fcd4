/**
 * Every operation of the three services × every role: a role that may not
 * call an operation gets NotAuthorized before anything else is looked at; a
 * role that may gets past the check (here: to InvalidArgument, as the bodies
 * are empty). Generated from the contract description, so no operation is
 * left out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallerRole, roleAllows, ROLES } from '../../src/domain/roles.js';
import { SERVICES } from '../../src/wsi/contract/schema.js';
import { envelope, passwordTextHeader } from '../support/soap.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

let gw: TestGateway;
const pw = 'matrix-password-1';

beforeAll(async () => {
  gw = await startTestGateway();
  for (const role of ROLES) await gw.auth.createUser(`user-${role}`, pw, role);
});
afterAll(() => gw?.stop());

const cases = SERVICES.flatMap((s) =>
  s.operations.filter((o) => o.permission !== undefined && o.name !== 'logout').map((o) => [s.name, o.name, o.permission!] as const),
);

describe.each(ROLES)('role %s', (role: CallerRole) => {
  it.each(cases)('%s.%s', async (service, operation, permission) => {
    const r = await fetch(`${gw.url}/dmwsi/${service}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: envelope(`<t:${operation}><t:userSession/></t:${operation}>`, passwordTextHeader(`user-${role}`, pw)),
    });
    const text = await r.text();
    const code = /<tns:code>(\w+)<\/tns:code>/.exec(text)?.[1] ?? 'ok';
    if (roleAllows(role, permission)) expect([operation, code]).not.toEqual([operation, 'NotAuthorized']);
    else expect([operation, code]).toEqual([operation, 'NotAuthorized']);
    expect(code).not.toBe('AuthenticationFailed');
    expect(code).not.toBe('Internal');
  });
});

it('covers every operation of the contract', () => {
  expect(cases.length).toBe(SERVICES.reduce((n, s) => n + s.operations.length - 2, 0));
});
