import { describe, expect, it } from 'vitest';
import { standardTree } from './fixtures.js';

const dmAcc = {
  serverId: 'dm.example.com',
  name: 'Example DM',
  addr: 'https://dm.example.com/dm',
  portNbr: 443,
  aAuthPref: 'DIGEST',
  appAuth: [
    { level: 'CLCRED' as const, type: 'DIGEST', name: 'Bruce2', secret: 'OhBehave' },
    { level: 'SRVCRED' as const, type: 'DIGEST', name: 'dm.example.com', secret: 'srv', data: Buffer.from('nonce') },
  ],
};

describe('createStandardTree', () => {
  it('builds DevInfo with DevId, Man, Mod, DmV and Lang', () => {
    const t = standardTree();
    expect(t.get('./DevInfo')).toMatchObject({ ok: true, format: 'node', data: 'DevId/Man/Mod/DmV/Lang' });
    expect(t.get('./DevInfo/DevId')).toMatchObject({ data: 'IMEI:493005100592800', format: 'chr' });
    expect(t.get('./DevInfo/DmV')).toMatchObject({ data: '1.2' });
  });

  it('publishes the enforced URI limits and LrgObj in DevDetail', () => {
    const t = standardTree({ uriLimits: { maxDepth: 8, maxTotLen: 100, maxSegLen: 20 } });
    expect(t.get('./DevDetail/URI/MaxDepth')).toMatchObject({ data: '8' });
    expect(t.get('./DevDetail/URI/MaxTotLen')).toMatchObject({ data: '100' });
    expect(t.get('./DevDetail/URI/MaxSegLen')).toMatchObject({ data: '20' });
    expect(t.get('./DevDetail/LrgObj')).toMatchObject({ data: 'true', format: 'bool' });
    expect(t.add('./SSE/ThisNameIsLongerThan20', { format: 'node' })).toBe(414);
  });

  it('fills DevDetail DevTyp, OEM, FwV, SwV and HwV', () => {
    const t = standardTree();
    for (const [leaf, value] of [
      ['DevTyp', 'phone'],
      ['OEM', 'Acme OEM'],
      ['FwV', '1.0.0'],
      ['SwV', '2.0.0'],
      ['HwV', 'rev-a'],
    ]) {
      expect(t.get(`./DevDetail/${leaf}`)).toMatchObject({ ok: true, data: value });
    }
  });

  it('refuses to change or delete DevInfo and DevDetail', () => {
    const t = standardTree();
    expect(t.replace('./DevInfo/Man', { data: 'Evil' })).toBe(405);
    expect(t.delete('./DevInfo')).toBe(405);
    expect(t.delete('./DevDetail/FwV')).toBe(405);
  });

  it('answers 405 to a Get on ./Inbox, which only takes Add', () => {
    const t = standardTree();
    expect(t.get('./Inbox')).toEqual({ ok: false, status: 405 });
    expect(t.add('./Inbox/Bootstrap', { format: 'xml', data: '<MgmtTree/>' })).toBe(200);
    expect(t.delete('./Inbox')).toBe(405);
  });

  it('builds a w7 DMAcc account whose secrets cannot be read', () => {
    const t = standardTree({ dmAcc });
    expect(t.get('./DMAcc/dmacc/AppID')).toMatchObject({ data: 'w7' });
    expect(t.get('./DMAcc/dmacc/ServerID')).toMatchObject({ data: 'dm.example.com' });
    expect(t.get('./DMAcc/dmacc/AppAddr/1/Addr')).toMatchObject({ data: 'https://dm.example.com/dm' });
    expect(t.get('./DMAcc/dmacc/AppAddr/1/AddrType')).toMatchObject({ data: 'URI' });
    expect(t.get('./DMAcc/dmacc/AppAddr/1/Port/1/PortNbr')).toMatchObject({ data: '443', format: 'int' });
    expect(t.get('./DMAcc/dmacc/AppAuth/CLCRED/AAuthName')).toMatchObject({ data: 'Bruce2' });
    expect(t.get('./DMAcc/dmacc/AppAuth/CLCRED/AAuthSecret')).toEqual({ ok: false, status: 405 });
    expect(t.get('./DMAcc/dmacc/AppAuth/SRVCRED/AAuthData')).toEqual({ ok: false, status: 405 });
    expect(t.read('./DMAcc/dmacc/AppAuth/SRVCRED/AAuthData')?.data).toEqual(Buffer.from('nonce'));
    expect(t.replace('./DMAcc/dmacc/AppAuth/CLCRED/AAuthSecret', { data: 'rotated' })).toBe(200);
  });

  it('lets the server delete its DMAcc account but not ./DMAcc', () => {
    const t = standardTree({ dmAcc });
    expect(t.delete('./DMAcc')).toBe(405);
    expect(t.delete('./DMAcc/dmacc')).toBe(200);
  });

  it('creates the SSE root with Get and Add, and no SSE root when sseRoot is omitted', () => {
    expect(standardTree().read('./SSE')).toMatchObject({ kind: 'interior', access: ['Get', 'Add'], permanent: true });
    expect(standardTree({ sseRoot: undefined }).exists('./SSE')).toBe(false);
  });

  it('lets a server add an SSE schedule and materialises its Go node', () => {
    const t = standardTree();
    expect(t.add('./SSE/job1', { format: 'node' })).toBe(200);
    expect(t.add('./SSE/job1/TargetURI', { data: './DevDetail' })).toBe(200);
    expect(t.add('./SSE/job1/AtTime', { data: '20250301T020000Z' })).toBe(200);
    expect(t.get('./SSE/job1')).toMatchObject({ data: 'Go/TargetURI/AtTime' });
    expect(t.read('./SSE/job1/Go')?.access).toEqual(['Exec']);
    expect(t.replace('./SSE/job1/AtTime', { data: '20250302T020000Z' })).toBe(200);
    expect(t.get('./SSE/job1/Go')).toEqual({ ok: false, status: 405 });
    expect(t.delete('./SSE/job1')).toBe(200);
    expect(t.delete('./SSE')).toBe(405);
  });

  it('answers 418 when the SSE node already exists', () => {
    const t = standardTree();
    t.add('./SSE/job1', { format: 'node' });
    expect(t.add('./SSE/job1', { format: 'node' })).toBe(418);
    expect(t.add('./SSE/job1/Go', { data: '' })).toBe(418);
  });
});
