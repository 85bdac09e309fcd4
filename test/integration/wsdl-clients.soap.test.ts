/**
 * The served WSDLs, untouched, in the SOAP stacks integrators use:
 *
 * - node-soap: the client every other *.soap.test.ts calls the gateway with
 *   (test/support/soap.ts); here once more, PasswordDigest included;
 * - Python zeep: builds its client from the served WSDL and calls the gateway
 *   with a WS-Security UsernameToken (text and digest);
 * - Java JAX-WS (wsimport): generates and compiles a client from each served
 *   WSDL.
 *
 * zeep and wsimport are external tools: each test runs where the tool is
 * installed (Debian: python3-zeep, jaxws) and is skipped, saying so, where
 * it is not.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../../src/wsi/contract/schema.js';
import { call, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw?.stop());

/** Runs a tool without blocking this process's event loop (the gateway under test lives in it). */
function run(file: string, args: string[], timeoutMs: number): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ status: err ? Number((err as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr });
    });
  });
}

/** The first Python that can import zeep, if any (checked before the gateway starts: blocking is fine here). */
const zeepPython = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import zeep'], { stdio: 'ignore' }).status === 0);
const hasWsimport = spawnSync('wsimport', ['-version'], { stdio: 'ignore' }).status === 0;

describe('node-soap', () => {
  it.each(['text', 'digest'] as const)('creates and reads a capability with a PasswordText/PasswordDigest token (%s)', async (kind) => {
    const c = await soapClient(gw.url, 'DeviceManager', { kind, ...ADMIN });
    const oid = `node-soap-${kind}`;
    await call(c, 'createDeviceCapability', { userSession: '', capability: { oid, make: 'Acme', model: `N-${kind}`, firmwareVersion: '1.0', dmVersion: '1.2' } });
    const r = await call<{ deviceCapability: { oid: string; make: string } }>(c, 'getDeviceCapabilityByOid', { userSession: '', oid });
    expect(r.deviceCapability).toMatchObject({ oid, make: 'Acme' });
  });
});

const ZEEP_SCRIPT = `
import json, sys
import zeep
from zeep.wsse.username import UsernameToken
url, user, password = sys.argv[1:4]
out = {}
for digest in (False, True):
    client = zeep.Client(url, wsse=UsernameToken(user, password, use_digest=digest))
    oid = 'zeep-digest' if digest else 'zeep-text'
    client.service.createDeviceCapability(userSession='', capability={'oid': oid, 'make': 'Acme', 'model': oid, 'firmwareVersion': '1.0', 'dmVersion': '1.2'})
    got = client.service.getDeviceCapabilityByOid(userSession='', oid=oid)
    out[oid] = {'oid': got.oid, 'make': got.make, 'wbxml': got.wbxml}
try:
    zeep.Client(url, wsse=UsernameToken(user, 'wrong-password')).service.getDeviceCapabilities(userSession='', offset=0, limit=1)
    out['fault'] = None
except zeep.exceptions.Fault as f:
    out['fault'] = f.detail.find('{urn:dmwsi-gateway:1.0}DmwsiFault').find('{urn:dmwsi-gateway:1.0}code').text
print(json.dumps(out))
`;

describe('Python zeep', () => {
  it.skipIf(zeepPython === undefined)('calls the gateway from the served WSDL with PasswordText and PasswordDigest, and reads a typed fault', async () => {
    const r = await run(zeepPython!, ['-c', ZEEP_SCRIPT, `${gw.url}/dmwsi/DeviceManager?wsdl`, ADMIN.username, ADMIN.password], 60_000);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      'zeep-text': { oid: 'zeep-text', make: 'Acme', wbxml: false },
      'zeep-digest': { oid: 'zeep-digest', make: 'Acme', wbxml: false },
      fault: 'AuthenticationFailed',
    });
  }, 90_000);
});

describe('Java JAX-WS wsimport', () => {
  it.skipIf(!hasWsimport).each(SERVICES.map((s) => s.name))('generates and compiles a client from the served %s WSDL', async (name) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-wsimport-'));
    try {
      const r = await run('wsimport', ['-quiet', '-d', out, `${gw.url}/dmwsi/${name}?wsdl`], 120_000);
      expect({ status: r.status, output: `${r.stdout}${r.stderr}` }).toEqual({ status: 0, output: '' });
      const classes = fs.readdirSync(out, { recursive: true }).map(String).filter((f) => f.endsWith(`${name}Service.class`));
      expect(classes).toHaveLength(1);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
