import { describe, expect, it } from 'vitest';
import type { DmDevice } from '../../../../src/dm/server/ports.js';
import { afterContact, SessionDeviceViews } from '../../../../src/dm/server/session-device-views.js';

const device: DmDevice = {
  state: 'REGISTERED',
  devInfo: { devId: 'IMEI:1', mod: 'M1', roots: { fumo: './FUMO' } } as DmDevice['devInfo'],
  auth: {
    deviceId: 'IMEI:1',
    authType: 'md5',
    clientUsername: 'u',
    clientPassword: 'p',
    serverId: 's',
    serverPassword: 'sp',
    clientNonce: 'c0',
    serverNonce: 's0',
  },
};

describe('SessionDeviceViews', () => {
  const view = (over: Partial<{ token: string; state: string; until: number }> = {}) => ({ token: 't1', state: 'S1', device, until: 1_000, ...over });

  it('serves the message that arrives with the state this process stored, once', () => {
    const views = new SessionDeviceViews();
    views.keep('IMEI:1', view());
    expect(views.has('IMEI:1')).toBe(true);
    expect(views.take('IMEI:1', 't1', 'S1', 999)).toBe(device);
    expect(views.has('IMEI:1')).toBe(false);
    expect(views.take('IMEI:1', 't1', 'S1', 999)).toBeUndefined();
  });

  it('serves nothing when another process stored the state since, for another session, or after the TTL', () => {
    const views = new SessionDeviceViews();
    for (const [token, state, now] of [['t1', 'S2', 999], ['t2', 'S1', 999], ['t1', undefined, 999], ['t1', 'S1', 1_000]] as const) {
      views.keep('IMEI:1', view());
      expect(views.take('IMEI:1', token, state, now)).toBeUndefined();
      expect(views.has('IMEI:1')).toBe(false);
    }
  });

  it('keeps one view per device and at most its limit, dropping the oldest', () => {
    const views = new SessionDeviceViews(2);
    views.keep('a', view());
    views.keep('a', view({ state: 'S2' }));
    views.keep('b', view());
    views.keep('c', view());
    expect(views.size).toBe(2);
    expect(views.has('a')).toBe(false);
    expect(views.take('b', 't1', 'S1', 0)).toBe(device);
  });
});

describe('afterContact', () => {
  it('is the row as the store leaves it: nonces and state replaced, DevInfo merged at the top level', () => {
    const after = afterContact(device, {
      lastContact: new Date(0),
      state: 'ACTIVE',
      clientNonce: 'c1',
      serverNonce: 's1',
      devInfo: { devId: 'IMEI:1', mod: 'M2', reportedAt: 5 } as NonNullable<DmDevice['devInfo']>,
    });
    expect(after.state).toBe('ACTIVE');
    expect(after.auth).toEqual({ ...device.auth, clientNonce: 'c1', serverNonce: 's1' });
    expect(after.devInfo).toEqual({ devId: 'IMEI:1', mod: 'M2', reportedAt: 5, roots: { fumo: './FUMO' } });
    expect(device.auth.clientNonce).toBe('c0');
  });

  it('keeps what the patch does not carry', () => {
    expect(afterContact(device, { lastContact: new Date(0) })).toEqual(device);
    expect(afterContact(device, { serverNonce: 's2' }).auth).toEqual({ ...device.auth, serverNonce: 's2' });
  });
});
