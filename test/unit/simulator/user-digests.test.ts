import { describe, expect, it } from 'vitest';
import { userDigest } from '../../../src/dm/auth/credentials.js';
import { userDigests } from '../../../src/simulator/user-digests.js';

const ACCOUNT = { clientUsername: 'IMEI:1', clientPassword: 'c-secret', serverId: 'dm.example.com', serverPassword: 's-secret' };

describe('a device’s kept user digests', () => {
  it('are B64(MD5(name:password)) of both credential pairs', () => {
    const d = userDigests(ACCOUNT, undefined);
    expect(d.client).toBe(userDigest('IMEI:1', 'c-secret'));
    expect(d.server).toBe(userDigest('dm.example.com', 's-secret'));
  });

  it('are kept while the credentials stay, and made again when any of them changes', () => {
    const kept = userDigests(ACCOUNT, undefined);
    expect(userDigests({ ...ACCOUNT }, kept)).toBe(kept);
    for (const change of [
      { clientUsername: 'IMEI:2' },
      { clientPassword: 'new' },
      { serverId: 'other.example.com' },
      { serverPassword: 'new' },
    ]) {
      const account = { ...ACCOUNT, ...change };
      const next = userDigests(account, kept);
      expect(next).not.toBe(kept);
      expect(next.client).toBe(userDigest(account.clientUsername, account.clientPassword));
      expect(next.server).toBe(userDigest(account.serverId, account.serverPassword));
    }
  });
});
