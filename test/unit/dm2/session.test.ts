import { describe, expect, it } from 'vitest';
import type { ServerCommandRequest } from '../../../src/dm/session/server-commands.js';
import { absorbPackage3, type Dm2SessionState, nextPackage, openSession } from '../../../src/dm2/session.js';
import type { Package1 } from '../../../src/dm2/types.js';

const urls = {
  sessionUrl: 'https://gw/dm2/s/TOKEN',
  dataUrl: (r: string, i: number) => `https://gw/dm2/data/${r}.${i}`,
  reportUrl: (c: string) => `https://gw/dm2/r/${c}`,
  uploadUrl: (r: string, i: number) => `https://gw/dm2/up/${r}.${i}`,
};
const pkg1 = (alerts: Package1['alerts']): Package1 => ({ kind: 'package1', mos: [], alerts });
const open = (): Dm2SessionState => {
  const r = openSession('IMEI:1', pkg1([{ alertType: 'urn:oma:at:dm:2.0:ServerInitiatedMgmt' }]), 1);
  if ('reason' in r) throw new Error(r.reason);
  return r.state;
};

const query: ServerCommandRequest = { requestId: 'task:q', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] };
const update: ServerCommandRequest = {
  requestId: 'task:u',
  commands: [
    { verb: 'Replace', uri: './Vendor/Setting', data: '42', format: 'int' },
    { verb: 'Exec', uri: './Vendor/Reboot', correlator: 'exec-u', awaitReport: true },
    { verb: 'Exec', uri: './Vendor/Ping', correlator: 'exec-u' },
  ],
};

describe('DM 2.0 session steps', () => {
  it('refuses a Package#1 without a session alert', () => {
    expect(openSession('IMEI:1', pkg1([{ alertType: 'x.y' }]), 1)).toMatchObject({ status: 400 });
  });

  it('turns Generic Alerts of Package#1 into generic-alert effects with the report URI correlator and a device path Source', () => {
    const r = openSession(
      'IMEI:1',
      pkg1([
        { alertType: 'urn:oma:at:dm:2.0:ClientInitiatedMgmt' },
        { alertType: 'org.x.done', sourceUri: 'urn:oma:mo:oma-dm-devinfo:1.0//Mod', dataType: 'text/plain', data: '200', mark: 'critical' },
      ]),
      1,
      'exec-7',
    );
    if ('reason' in r) throw new Error(r.reason);
    expect(r.effects).toEqual([
      { type: 'session-started', sessionId: 'dm2', deviceId: 'IMEI:1', initiator: 'client' },
      expect.objectContaining({ type: 'generic-alert', alertType: 'org.x.done', source: './DevInfo/Mod', data: '200', mark: 'critical', correlator: 'exec-7' }),
    ]);
  });

  it('sends queued requests as DM 2.0 commands closed by CONT, and ends with END when nothing is left', () => {
    const next = nextPackage(open(), [query, update], urls, 2);
    expect(next.commands).toEqual([
      ['GET', 'urn:oma:mo:oma-dm-devinfo:1.0//Mod'],
      ['HGET', 'https://gw/dm2/data/task:u.0', './Vendor/Setting'],
      ['EXEC', './Vendor/Reboot', 'https://gw/dm2/r/exec-u'],
      ['EXEC', './Vendor/Ping'],
      ['CONT', 'https://gw/dm2/s/TOKEN?p=1'],
    ]);
    expect(next.effects).toEqual([expect.objectContaining({ type: 'requests-taken', requestIds: ['task:q', 'task:u'] })]);
    const empty = nextPackage(next.state, [query, update], urls, 3);
    expect(empty.commands).toEqual([['END']]);
    expect(empty.state.closed).toBe(true);
  });

  it('maps statuses in command order to each request\'s results', () => {
    const sent = nextPackage(open(), [query, update], urls, 2).state;
    const r = absorbPackage3(
      sent,
      { kind: 'package3', statuses: [{ sc: 200, data: 'SimPhone-1' }, { sc: 200 }, { sc: 202 }, { sc: 200 }, { sc: 200 }], alerts: [] },
      3,
    );
    if ('reason' in r) throw new Error(r.reason);
    expect(r.effects).toEqual([
      expect.objectContaining({
        type: 'command-result',
        requestId: 'task:q',
        results: [{ index: 0, verb: 'Get', uri: './DevInfo/Mod', status: 200, data: 'SimPhone-1', format: 'chr', type: 'text/plain' }],
      }),
      expect.objectContaining({
        type: 'command-result',
        requestId: 'task:u',
        results: [
          { index: 0, verb: 'Replace', uri: './Vendor/Setting', status: 200 },
          { index: 1, verb: 'Exec', uri: './Vendor/Reboot', status: 202 },
          { index: 2, verb: 'Exec', uri: './Vendor/Ping', status: 200 },
        ],
      }),
    ]);
  });

  it.each([
    ['shorter', [{ sc: 200 }]],
    ['longer', [{ sc: 200 }, { sc: 200 }, { sc: 200 }]],
  ])('refuses a status list %s than the commands sent, changing nothing', (_w, statuses) => {
    const sent = nextPackage(open(), [query], urls, 2).state;
    const before = structuredClone(sent);
    expect(absorbPackage3(sent, { kind: 'package3', statuses, alerts: [] }, 3)).toMatchObject({ status: 400 });
    expect(sent).toEqual(before);
  });

  it('refuses requests DM 2.0 cannot carry (Atomic, UI alerts, Copy)', () => {
    const next = nextPackage(
      open(),
      [
        { requestId: 'a', container: 'Atomic', commands: [{ verb: 'Delete', uri: './X' }] },
        { requestId: 'b', container: 'Sequence', commands: [{ verb: 'Alert', code: 1101, text: 'ok?' }, { verb: 'Get', uri: './X' }] },
        { requestId: 'c', commands: [{ verb: 'Copy', uri: './X', sourceUri: './Y' }] },
      ],
      urls,
      2,
    );
    expect(next.effects.map((e) => e.type)).toEqual(['request-rejected', 'request-rejected', 'request-rejected', 'session-ended']);
    expect(next.commands).toEqual([['END']]);
  });

  it('asks again with HPOST a Get the client answered 501 (no GET support), and takes the uploaded value', () => {
    const sent = nextPackage(open(), [query], urls, 2).state;
    const r = absorbPackage3(sent, { kind: 'package3', statuses: [{ sc: 501 }, { sc: 200 }], alerts: [] }, 3);
    if ('reason' in r) throw new Error(r.reason);
    expect(r.effects).toEqual([]);
    const again = nextPackage(r.state, [query], urls, 4);
    expect(again.commands).toEqual([
      ['HPOST', 'https://gw/dm2/up/task:q.0', 'urn:oma:mo:oma-dm-devinfo:1.0//Mod'],
      ['CONT', 'https://gw/dm2/s/TOKEN?p=2'],
    ]);
    const uploads = new Map([['task:q#0', { body: Buffer.from('SimPhone-2'), type: 'text/plain' }]]);
    const done = absorbPackage3(again.state, { kind: 'package3', statuses: [{ sc: 200 }, { sc: 200 }], alerts: [] }, 5, uploads);
    if ('reason' in done) throw new Error(done.reason);
    expect(done.effects).toEqual([
      expect.objectContaining({ type: 'command-result', results: [{ index: 0, verb: 'Get', uri: './DevInfo/Mod', status: 200, data: 'SimPhone-2', format: 'chr', type: 'text/plain' }] }),
    ]);
  });

  it('gives 424 to an HPOST answered 200 whose value never arrived', () => {
    const sent = nextPackage(open(), [query], urls, 2).state;
    const r = absorbPackage3(sent, { kind: 'package3', statuses: [{ sc: 406 }, { sc: 200 }], alerts: [] }, 3);
    if ('reason' in r) throw new Error(r.reason);
    const again = nextPackage(r.state, [query], urls, 4);
    const done = absorbPackage3(again.state, { kind: 'package3', statuses: [{ sc: 200 }, { sc: 200 }], alerts: [] }, 5);
    if ('reason' in done) throw new Error(done.reason);
    expect(done.effects).toEqual([expect.objectContaining({ results: [expect.objectContaining({ status: 424 })] })]);
  });

  it('asks a device of unknown model for DevInfo and DevDetail first, and reports them as devinfo/devdetail, not as a request', () => {
    const next = nextPackage(open(), [query], urls, 2, true);
    expect(next.commands.slice(0, 2)).toEqual([
      ['GET', 'urn:oma:mo:oma-dm-devinfo:1.0//DevId'],
      ['GET', 'urn:oma:mo:oma-dm-devinfo:1.0//Man'],
    ]);
    expect(next.commands).toHaveLength(13);
    expect(next.effects).toEqual([expect.objectContaining({ type: 'requests-taken', requestIds: ['task:q'] })]);
    const values = ['IMEI:1', 'Acme', 'X2', '2.0', 'en', '3.1', '1.0', 'rev-b', 'phone', 'Acme', 'true', 'SimPhone'];
    const r = absorbPackage3(next.state, { kind: 'package3', statuses: [...values.map((v) => ({ sc: 200, data: v })), { sc: 200 }], alerts: [] }, 3);
    if ('reason' in r) throw new Error(r.reason);
    expect(r.effects).toEqual([
      expect.objectContaining({ type: 'devinfo', devId: 'IMEI:1', man: 'Acme', mod: 'X2', dmV: '2.0', lang: 'en' }),
      expect.objectContaining({ type: 'devdetail', fwV: '3.1', swV: '1.0', hwV: 'rev-b', devTyp: 'phone', oem: 'Acme', lrgObj: true }),
      expect.objectContaining({ type: 'command-result', requestId: 'task:q' }),
    ]);
    expect(nextPackage(r.state, [query], urls, 4, true).commands).toEqual([['END']]);
  });
});
