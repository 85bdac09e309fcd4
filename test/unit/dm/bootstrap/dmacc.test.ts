/** The DMAcc tree a bootstrap installs (notes §9), for each auth type. */
import { describe, expect, it } from 'vitest';
import type { DeviceAuthType } from '../../../../src/dm/auth/credentials.js';
import {
  buildDmAccount,
  DEFAULT_ACCOUNT_NAME,
  DMACC_MOID,
  type DmAccountInput,
} from '../../../../src/dm/bootstrap/dmacc.js';

const CLIENT_NONCE = Buffer.from('client-nonce-128b').toString('base64');
const SERVER_NONCE = Buffer.from('server-nonce-128b').toString('base64');

function input(overrides: Partial<DmAccountInput> = {}): DmAccountInput {
  return {
    serverId: 'dmwsi-gateway',
    serverAddress: 'https://dm.example.com/dm',
    authType: 'md5',
    clientUsername: 'IMEI:493005100592800',
    clientPassword: 'client-secret-1',
    serverPassword: 'server-secret-1',
    clientNonce: CLIENT_NONCE,
    serverNonce: SERVER_NONCE,
    ...overrides,
  };
}

describe('buildDmAccount', () => {
  const cases: [DeviceAuthType, string][] = [
    ['basic', 'BASIC'],
    ['md5', 'DIGEST'],
    ['hmac', 'HMAC'],
  ];
  it.each(cases)('lays out ./DMAcc/<X> for %s (AAuthType %s)', (authType, name) => {
    const tree = buildDmAccount(input({ authType }));
    const x = `./DMAcc/${DEFAULT_ACCOUNT_NAME}`;
    expect(tree).toMatchObject({ accountName: 'dmwsi', root: x, serverId: 'dmwsi-gateway', authType });
    expect(tree.nodes).toEqual([
      { uri: x, format: 'node', type: DMACC_MOID },
      { uri: `${x}/AppID`, format: 'chr', value: 'w7' },
      { uri: `${x}/ServerID`, format: 'chr', value: 'dmwsi-gateway' },
      { uri: `${x}/AppAddr`, format: 'node' },
      { uri: `${x}/AppAddr/1`, format: 'node' },
      { uri: `${x}/AppAddr/1/Addr`, format: 'chr', value: 'https://dm.example.com/dm' },
      { uri: `${x}/AppAddr/1/AddrType`, format: 'chr', value: 'URI' },
      { uri: `${x}/AAuthPref`, format: 'chr', value: name },
      { uri: `${x}/AppAuth`, format: 'node' },
      { uri: `${x}/AppAuth/CLCRED`, format: 'node' },
      { uri: `${x}/AppAuth/CLCRED/AAuthLevel`, format: 'chr', value: 'CLCRED' },
      { uri: `${x}/AppAuth/CLCRED/AAuthType`, format: 'chr', value: name },
      { uri: `${x}/AppAuth/CLCRED/AAuthName`, format: 'chr', value: 'IMEI:493005100592800' },
      { uri: `${x}/AppAuth/CLCRED/AAuthSecret`, format: 'chr', value: 'client-secret-1' },
      { uri: `${x}/AppAuth/CLCRED/AAuthData`, format: 'bin', value: CLIENT_NONCE },
      { uri: `${x}/AppAuth/SRVCRED`, format: 'node' },
      { uri: `${x}/AppAuth/SRVCRED/AAuthLevel`, format: 'chr', value: 'SRVCRED' },
      { uri: `${x}/AppAuth/SRVCRED/AAuthType`, format: 'chr', value: name },
      { uri: `${x}/AppAuth/SRVCRED/AAuthName`, format: 'chr', value: 'dmwsi-gateway' },
      { uri: `${x}/AppAuth/SRVCRED/AAuthSecret`, format: 'chr', value: 'server-secret-1' },
      { uri: `${x}/AppAuth/SRVCRED/AAuthData`, format: 'bin', value: SERVER_NONCE },
    ]);
  });

  it('lists every parent before its children', () => {
    const { nodes } = buildDmAccount(input());
    const seen = new Set<string>();
    for (const n of nodes) {
      const parent = n.uri.slice(0, n.uri.lastIndexOf('/'));
      if (parent !== './DMAcc') expect(seen.has(parent), n.uri).toBe(true);
      seen.add(n.uri);
    }
  });

  it('uses the given account name and adds Name when given', () => {
    const tree = buildDmAccount(input({ accountName: 'operator1', name: 'Operator DM' }));
    expect(tree.root).toBe('./DMAcc/operator1');
    expect(tree.nodes.every((n) => n.uri.startsWith('./DMAcc/operator1'))).toBe(true);
    expect(tree.nodes).toContainEqual({ uri: './DMAcc/operator1/Name', format: 'chr', value: 'Operator DM' });
    expect(buildDmAccount(input()).nodes.some((n) => n.uri.endsWith('/Name'))).toBe(false);
  });

  it('is deterministic', () => {
    expect(buildDmAccount(input())).toEqual(buildDmAccount(input()));
  });

  it('rejects input a device could not use', () => {
    expect(() => buildDmAccount(input({ clientNonce: 'not base64!' }))).toThrow(TypeError);
    expect(() => buildDmAccount(input({ serverNonce: '' }))).toThrow(TypeError);
    expect(() => buildDmAccount(input({ serverAddress: 'ftp://dm.example.com/' }))).toThrow(TypeError);
    expect(() => buildDmAccount(input({ serverAddress: 'dm.example.com' }))).toThrow(TypeError);
    expect(() => buildDmAccount(input({ clientPassword: '' }))).toThrow(TypeError);
    expect(() => buildDmAccount(input({ serverId: '' }))).toThrow(TypeError);
    expect(() => buildDmAccount(input({ accountName: 'a/b' }))).toThrow(RangeError);
    expect(() => buildDmAccount(input({ accountName: '..' }))).toThrow(RangeError);
    expect(() => buildDmAccount(input({ authType: 'x509' as DeviceAuthType }))).toThrow(RangeError);
  });
});
