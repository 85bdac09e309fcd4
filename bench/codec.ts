/**
 * SyncML codec micro-benchmark: µs per message for decode and encode, XML
 * and WBXML, on realistic ~3 KB messages (server Pkg2 with Statuses and a
 * Sequence; client Pkg1 with Cred, DevInfo and a Generic Alert, also with
 * every value as WBXML OPAQUE, as SyncML RTK clients send it).
 *
 * Pure module: `runCodecBench()` returns the figures; `formatCodecBench()`
 * renders them. Wire it into `npm run bench` from a runner script.
 */

import { decodeWbxml, encodeWbxml } from '../src/dm/codec/wbxml-codec.js';
import { decodeXml, encodeXml } from '../src/dm/codec/xml-codec.js';
import type { Command, SyncMlMessage } from '../src/dm/codec/types.js';

export interface CodecBenchCase {
  name: string;
  xmlBytes: number;
  wbxmlBytes: number;
  decodeXmlUs: number;
  encodeXmlUs: number;
  decodeWbxmlUs: number;
  encodeWbxmlUs: number;
}

export interface CodecBenchResult {
  iterations: number;
  cases: CodecBenchCase[];
}

export interface CodecBenchOptions {
  /** Timed iterations per measurement (default 20,000). */
  iterations?: number;
  /** Untimed warm-up iterations (default iterations / 4). */
  warmup?: number;
}

const SERVER = 'https://dm.example.com/dm';
const DEVICE = 'IMEI:493005100592800';

/** Server Pkg2: header/alert/replace Statuses (with Chal), then a SingleShotExec Sequence and Gets. */
export function serverPkg2(): SyncMlMessage {
  const statuses: Command[] = [
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
  ];
  const leaves = ['DevId', 'Man', 'Mod', 'DmV', 'Lang'];
  statuses.push({
    kind: 'Status',
    cmdId: 3,
    msgRef: 1,
    cmdRef: 2,
    cmd: 'Replace',
    targetRefs: [],
    sourceRefs: leaves.map((l) => `./DevInfo/${l}`),
    data: 200,
    items: [],
  });
  const jobs: Command[] = [];
  let id = 5;
  for (const job of ['job1', 'job2']) {
    const root = `./SSE/${job}`;
    jobs.push(
      { kind: 'Add', cmdId: id++, meta: { format: 'node' }, items: [{ target: { locUri: root } }] },
      {
        kind: 'Add',
        cmdId: id++,
        meta: { format: 'chr', type: 'text/plain' },
        items: [
          { target: { locUri: `${root}/TargetURI` }, data: './FUMO/fw1/Update' },
          { target: { locUri: `${root}/AtTime` }, data: '20250301T020000Z' },
        ],
      },
      { kind: 'Exec', cmdId: id++, correlator: `sse-${job}-7f41`, item: { target: { locUri: `${root}/Go` } } },
    );
  }
  const gets: Command = {
    kind: 'Get',
    cmdId: id++,
    items: ['FwV', 'SwV', 'HwV', 'OEM', 'DevTyp', 'LrgObj', 'URI/MaxDepth', 'URI/MaxTotLen', 'URI/MaxSegLen'].map(
      (l) => ({ target: { locUri: `./DevDetail/${l}` } }),
    ),
  };
  return {
    header: {
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: '1A',
      msgId: 1,
      target: { locUri: DEVICE },
      source: { locUri: SERVER },
      respUri: `${SERVER}?session=5f1e0c9a-3b7d-4e2a-9c61-0d8f2b7a4e13`,
      meta: { maxMsgSize: 65536, maxObjSize: 1048576 },
    },
    body: [...statuses, { kind: 'Sequence', cmdId: 4, commands: jobs }, gets],
    final: true,
  };
}

/** Client Pkg1: Cred, MaxMsgSize, Alert 1201, DevInfo Replace, Generic Alert 1226. */
export function clientPkg1(): SyncMlMessage {
  const devInfo: [string, string][] = [
    ['DevId', DEVICE],
    ['Man', 'Example Manufacturing Co.'],
    ['Mod', 'EX-2000 Pro (rev. B)'],
    ['DmV', '1.2'],
    ['Lang', 'en-US'],
    ['Ext/Bearer', 'GSM'],
  ];
  return {
    header: {
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: '1A',
      msgId: 1,
      target: { locUri: SERVER },
      source: { locUri: DEVICE, locName: 'Bruce2' },
      cred: { meta: { type: 'syncml:auth-md5', format: 'b64' }, data: 'Zz6EivR3yeaaENcRN6lpAQ==' },
      meta: { maxMsgSize: 16384, maxObjSize: 524288 },
    },
    body: [
      { kind: 'Alert', cmdId: 1, data: 1201, items: [] },
      {
        kind: 'Replace',
        cmdId: 2,
        items: devInfo.map(([leaf, value]) => ({
          source: { locUri: `./DevInfo/${leaf}` },
          meta: { format: 'chr', type: 'text/plain' },
          data: value,
        })),
      },
      {
        kind: 'Alert',
        cmdId: 3,
        data: 1226,
        correlator: 'sse-job1-7f41',
        items: [
          {
            source: { locUri: './SSE/job1' },
            meta: { type: 'org.openmobilealliance.dm.singleshotexec', format: 'int', mark: 'informational' },
            data: '200',
          },
          {
            source: { locUri: './FUMO/fw1' },
            meta: {
              type: 'Reversed-Domain-Name: org.openmobilealliance.dm.firmwareupdate.devicerequest',
              format: 'chr',
              mark: 'critical',
            },
            data: 'Firmware update requested by user & pending <download>',
          },
        ],
      },
    ],
    final: true,
  };
}

function timeUs(iterations: number, warmup: number, fn: () => unknown): number {
  let sink: unknown;
  for (let i = 0; i < warmup; i++) sink = fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink = fn();
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === undefined) throw new Error('benchmark function returned nothing');
  return ns / 1000 / iterations;
}

export async function runCodecBench(options: CodecBenchOptions = {}): Promise<CodecBenchResult> {
  const iterations = options.iterations ?? 20_000;
  const warmup = options.warmup ?? Math.ceil(iterations / 4);
  const cases: CodecBenchCase[] = [];
  for (const [name, msg, opaqueItemData] of [
    ['server Pkg2 (Statuses + Sequence)', serverPkg2(), false],
    ['client Pkg1 (Cred + DevInfo + 1226)', clientPkg1(), false],
    // SyncML RTK clients send every value as OPAQUE: the codec settles it by Format.
    ['client Pkg1, values as OPAQUE (RTK)', clientPkg1(), true],
  ] as const) {
    const xml = encodeXml(msg);
    const wbxml = encodeWbxml(msg, { opaqueItemData });
    cases.push({
      name,
      xmlBytes: xml.length,
      wbxmlBytes: wbxml.length,
      decodeXmlUs: timeUs(iterations, warmup, () => decodeXml(xml)),
      encodeXmlUs: timeUs(iterations, warmup, () => encodeXml(msg)),
      decodeWbxmlUs: timeUs(iterations, warmup, () => decodeWbxml(wbxml)),
      encodeWbxmlUs: timeUs(iterations, warmup, () => encodeWbxml(msg, { opaqueItemData })),
    });
    await Promise.resolve(); // let the event loop breathe between cases
  }
  return { iterations, cases };
}

export function formatCodecBench(r: CodecBenchResult): string {
  const f = (n: number): string => n.toFixed(2).padStart(8);
  const lines = [
    `SyncML codec, ${r.iterations} iterations, µs/message`,
    `${'case'.padEnd(38)} ${'bytes xml/wbxml'.padEnd(16)} ${'dec xml'.padStart(8)} ${'enc xml'.padStart(8)} ${'dec wbx'.padStart(8)} ${'enc wbx'.padStart(8)}`,
  ];
  for (const c of r.cases) {
    lines.push(
      `${c.name.padEnd(38)} ${`${c.xmlBytes}/${c.wbxmlBytes}`.padEnd(16)} ${f(c.decodeXmlUs)} ${f(c.encodeXmlUs)} ${f(c.decodeWbxmlUs)} ${f(c.encodeWbxmlUs)}`,
    );
  }
  return lines.join('\n');
}
