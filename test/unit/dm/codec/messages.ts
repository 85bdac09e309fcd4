/** Shared test messages: the notes' three examples as models, and a message using every command. */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SyncMlMessage } from '../../../../src/dm/codec/types.js';

const fixturesDir = fileURLToPath(new URL('./fixtures/', import.meta.url));

export function fixtureText(name: string): string {
  return readFileSync(fixturesDir + name, 'utf8');
}

export function fixtureHex(name: string): Buffer {
  return Buffer.from(fixtureText(name).trim(), 'hex');
}

const SERVER = 'https://dm.example.com/dm';
const DEVICE = 'IMEI:493005100592800';

/** Notes example (a): client Pkg1 with Cred and MaxMsgSize. */
export const exampleA: SyncMlMessage = {
  header: {
    verDtd: '1.2',
    verProto: 'DM/1.2',
    sessionId: '1A',
    msgId: 1,
    target: { locUri: SERVER },
    source: { locUri: DEVICE, locName: 'Bruce2' },
    cred: { meta: { type: 'syncml:auth-md5', format: 'b64' }, data: 'Zz6EivR3yeaaENcRN6lpAQ==' },
    meta: { maxMsgSize: 16384 },
  },
  body: [
    { kind: 'Alert', cmdId: 1, data: 1201, items: [] },
    {
      kind: 'Replace',
      cmdId: 2,
      items: [{ source: { locUri: './DevInfo/DevId' }, meta: { format: 'chr' }, data: DEVICE }],
    },
  ],
  final: true,
};

/** Notes example (b): server Pkg2 with challenge Status and a Sequence. */
export const exampleB: SyncMlMessage = {
  header: {
    verDtd: '1.2',
    verProto: 'DM/1.2',
    sessionId: '1A',
    msgId: 1,
    target: { locUri: DEVICE },
    source: { locUri: SERVER },
  },
  body: [
    {
      kind: 'Status',
      cmdId: 1,
      msgRef: 1,
      cmdRef: 0,
      cmd: 'SyncHdr',
      targetRefs: [SERVER],
      sourceRefs: [DEVICE],
      chal: { meta: { type: 'syncml:auth-md5', format: 'b64', nextNonce: 'LG3iZQhhdmKNHg==' } },
      data: 212,
      items: [],
    },
    { kind: 'Status', cmdId: 2, msgRef: 1, cmdRef: 1, cmd: 'Alert', targetRefs: [], sourceRefs: [], data: 200, items: [] },
    { kind: 'Status', cmdId: 3, msgRef: 1, cmdRef: 2, cmd: 'Replace', targetRefs: [], sourceRefs: [], data: 200, items: [] },
    {
      kind: 'Sequence',
      cmdId: 4,
      commands: [
        { kind: 'Add', cmdId: 5, meta: { format: 'node' }, items: [{ target: { locUri: './SSE/job1' } }] },
        {
          kind: 'Add',
          cmdId: 6,
          meta: { format: 'chr', type: 'text/plain' },
          items: [
            { target: { locUri: './SSE/job1/TargetURI' }, data: './FUMO/fw1/Update' },
            { target: { locUri: './SSE/job1/AtTime' }, data: '20250301T020000Z' },
          ],
        },
        { kind: 'Exec', cmdId: 7, correlator: 'sse-7f41', item: { target: { locUri: './SSE/job1/Go' } } },
      ],
    },
  ],
  final: true,
};

/** Notes example (c): client Generic Alert 1226 with Correlator (Replace left empty as in the notes). */
export const exampleC: SyncMlMessage = {
  header: {
    verDtd: '1.2',
    verProto: 'DM/1.2',
    sessionId: '2B',
    msgId: 1,
    target: { locUri: SERVER },
    source: { locUri: DEVICE },
  },
  body: [
    { kind: 'Alert', cmdId: 1, data: 1201, items: [] },
    { kind: 'Replace', cmdId: 2, items: [] },
    {
      kind: 'Alert',
      cmdId: 3,
      data: 1226,
      correlator: 'sse-7f41',
      items: [
        {
          source: { locUri: './SSE/job1' },
          meta: { type: 'org.openmobilealliance.dm.singleshotexec', format: 'int', mark: 'informational' },
          data: '200',
        },
      ],
    },
  ],
  final: true,
};

/** Every command kind, optional field and container nesting the codec supports. */
export function everyCommand(): SyncMlMessage {
  return {
    header: {
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: 'A3',
      msgId: 7,
      target: { locUri: DEVICE, locName: 'dev' },
      source: { locUri: SERVER, locName: 'srv' },
      respUri: 'https://dm.example.com/dm?s=abc&t=<1>',
      noResp: true,
      cred: { meta: { type: 'syncml:auth-basic', format: 'b64' }, data: 'QnJ1Y2UyOk9oQmVoYXZl' },
      meta: { maxMsgSize: 65536, maxObjSize: 1048576 },
    },
    body: [
      {
        kind: 'Status',
        cmdId: 1,
        msgRef: 3,
        cmdRef: 0,
        cmd: 'SyncHdr',
        targetRefs: [SERVER, 'alt'],
        sourceRefs: [DEVICE],
        chal: { meta: { type: 'syncml:auth-md5', format: 'b64', nextNonce: 'AAECAwQFBgcICQ==' } },
        data: 401,
        items: [{ data: 'text reply' }],
      },
      {
        kind: 'Results',
        cmdId: 2,
        msgRef: 3,
        cmdRef: 4,
        meta: { format: 'chr', type: 'text/plain' },
        targetRef: './DevDetail',
        sourceRef: './DevDetail/FwV',
        items: [{ source: { locUri: './DevDetail/FwV' }, data: '1.0 & "beta" <rc>' }],
      },
      { kind: 'Results', cmdId: 3, cmdRef: 5, items: [{ source: { locUri: './a' }, data: '' }] },
      {
        kind: 'Alert',
        cmdId: 4,
        noResp: true,
        data: 1101,
        correlator: 'c-1',
        items: [{ data: 'MINDT=10&MAXDT=30' }, { data: 'Proceed?' }],
      },
      { kind: 'Add', cmdId: 5, noResp: true, meta: { format: 'node' }, items: [{ target: { locUri: './X' } }] },
      {
        kind: 'Replace',
        cmdId: 6,
        items: [
          {
            target: { locUri: './X/bin', locName: 'bin node' },
            meta: { format: 'bin', type: 'application/octet-stream', size: 10 },
            data: Buffer.from([0, 1, 2, 0xff, 0xfe, 3, 4, 5, 6, 7]),
          },
        ],
      },
      { kind: 'Get', cmdId: 7, items: [{ target: { locUri: './DevDetail/FwV' } }, { target: { locUri: './DevInfo?list=Struct' } }] },
      { kind: 'Delete', cmdId: 8, items: [{ target: { locUri: './X/old' } }] },
      {
        kind: 'Copy',
        cmdId: 9,
        items: [{ target: { locUri: './X/dst' }, source: { locUri: './X/src' } }],
      },
      {
        kind: 'Exec',
        cmdId: 10,
        meta: { format: 'chr', type: 'text/plain', mark: 'critical' },
        correlator: 'fumo-1',
        item: { target: { locUri: './FUMO/fw/Update' }, data: 'arg' },
      },
      {
        kind: 'Sequence',
        cmdId: 11,
        noResp: true,
        meta: { mark: 'warning' },
        commands: [
          { kind: 'Get', cmdId: 12, items: [{ target: { locUri: './A' } }] },
          {
            kind: 'Atomic',
            cmdId: 13,
            commands: [
              { kind: 'Add', cmdId: 14, items: [{ target: { locUri: './A/b' }, data: 'ü€😀' }] },
              { kind: 'Alert', cmdId: 15, data: 1100, items: [{ data: 'Hello' }] },
            ],
          },
          { kind: 'Exec', cmdId: 16, item: { target: { locUri: './A/run' } } },
        ],
      },
      {
        kind: 'Atomic',
        cmdId: 17,
        meta: { format: 'chr' },
        commands: [{ kind: 'Delete', cmdId: 18, noResp: true, items: [{ target: { locUri: './B' } }] }],
      },
    ],
    final: false,
  };
}

/** First chunk of a Large Object: Meta Size (total) and MoreData. */
export function largeObjectChunk(chunk: string | Buffer, total: number, more: boolean): SyncMlMessage {
  return {
    header: {
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: '5',
      msgId: 3,
      target: { locUri: DEVICE },
      source: { locUri: SERVER },
    },
    body: [
      {
        kind: 'Replace',
        cmdId: 1,
        items: [
          {
            target: { locUri: './FUMO/fw/Update/PkgData' },
            meta: { format: 'b64', type: 'application/octet-stream', size: total },
            data: chunk,
            ...(more ? { moreData: true } : {}),
          },
        ],
      },
    ],
    final: false,
  };
}
