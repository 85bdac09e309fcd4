/**
 * Item Data is settled by Meta Format, not by how it travelled (issue 13):
 * clients on the SyncML reference toolkit send every node value as WBXML
 * OPAQUE, and the model must hold what an XML client's message holds.
 */
import { describe, expect, it } from 'vitest';
import { joinChunks } from '../../../../src/dm/codec/index.js';
import type { Command, Item, ItemData, SyncMlMessage } from '../../../../src/dm/codec/types.js';
import { decodeWbxml, encodeWbxml } from '../../../../src/dm/codec/wbxml-codec.js';
import { decodeXml, encodeXml } from '../../../../src/dm/codec/xml-codec.js';
import { el, message, opaque, strI, T } from './wbxml-build.js';

const OPAQUE = 0xc3;
const STR_I = 0x03;

function clientMessage(body: Command[]): SyncMlMessage {
  return {
    header: {
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: '7',
      msgId: 2,
      target: { locUri: 'https://dm.example.com/dm' },
      source: { locUri: 'IMEI:1' },
    },
    body,
    final: true,
  };
}

/** As a SyncML RTK client sends it: every Item Data as OPAQUE. */
const rtk = (m: SyncMlMessage) => decodeWbxml(encodeWbxml(m, { opaqueItemData: true }));

const results = (items: Item[], meta?: { format: string }): Command => ({
  kind: 'Results',
  cmdId: 3,
  msgRef: 1,
  cmdRef: 4,
  ...(meta ? { meta } : {}),
  items,
});

function itemsOf(m: SyncMlMessage): Item[] {
  const c = m.body[0]!;
  switch (c.kind) {
    case 'Exec':
      return [c.item];
    case 'Sequence':
    case 'Atomic':
      throw new Error('no items');
    default:
      return c.items;
  }
}

describe('OPAQUE Item Data read by Meta Format', () => {
  it('reads chr, int, bool, xml, node and b64 values sent as OPAQUE as the same text an XML client sends', () => {
    const items: Item[] = [
      { source: { locUri: './DevDetail/FwV' }, meta: { format: 'chr' }, data: '1.0.0 é€' },
      { source: { locUri: './Vendor/Count' }, meta: { format: 'int' }, data: '42' },
      { source: { locUri: './Vendor/On' }, meta: { format: 'bool' }, data: 'true' },
      { source: { locUri: './Vendor/Doc' }, meta: { format: 'xml' }, data: '<a b="1">x &amp; y</a>' },
      { source: { locUri: './Vendor' }, meta: { format: 'node' }, data: 'A/B/C' },
      { source: { locUri: './Vendor/Blob' }, meta: { format: 'b64' }, data: 'AAEC/w==' },
    ];
    const model = clientMessage([results(items)]);
    const wire = encodeWbxml(model, { opaqueItemData: true });
    expect(wire.includes(Buffer.concat([Buffer.from([OPAQUE, 11]), Buffer.from('1.0.0 é€')]))).toBe(true);
    expect(wire.includes(Buffer.from([OPAQUE, 2, 0x34, 0x32]))).toBe(true); // "42" travels as OPAQUE
    expect(wire.includes(Buffer.from([STR_I, 0x34, 0x32, 0x00]))).toBe(false);
    expect(rtk(model)).toEqual(model);
    expect(rtk(model)).toEqual(decodeXml(encodeXml(model)));
  });

  it('defaults to chr: OPAQUE without Format in the Item or the command is text', () => {
    const model = clientMessage([
      { kind: 'Alert', cmdId: 2, data: 1226, items: [{ source: { locUri: './SSE/job1' }, meta: { type: 'x' }, data: '200' }] },
    ]);
    expect(itemsOf(rtk(model))[0]?.data).toBe('200');
  });

  it('keeps bytes for Format bin, from the Item or from the command, copied out of the input', () => {
    const bytes = Buffer.from([0x00, 0x41, 0xfe, 0xff]);
    const ascii = Buffer.from('ABC'); // valid UTF-8, still bytes: the Format says bin
    const model = clientMessage([results([{ meta: { format: 'bin' }, data: bytes }, { data: ascii }], { format: 'bin' })]);
    const wire = encodeWbxml(model, { opaqueItemData: true });
    const got = decodeWbxml(wire);
    const [first, second] = itemsOf(got).map((i) => i.data);
    expect(first).toEqual(bytes);
    expect(Buffer.isBuffer(second)).toBe(true);
    expect(second).toEqual(ascii);
    wire.fill(0);
    expect(first).toEqual(bytes);
  });

  it('lets the Item Format override the command Format, in both directions', () => {
    const model = clientMessage([
      results([{ meta: { format: 'chr' }, data: 'text' }, { data: Buffer.from('raw') }], { format: 'bin' }),
    ]);
    const [a, b] = itemsOf(rtk(model)).map((i) => i.data);
    expect(a).toBe('text');
    expect(b).toEqual(Buffer.from('raw'));
    const flipped = clientMessage([results([{ meta: { format: 'bin' }, data: Buffer.from('raw') }, { data: 'text' }], { format: 'chr' })]);
    const [c, d] = itemsOf(rtk(flipped)).map((i) => i.data);
    expect(c).toEqual(Buffer.from('raw'));
    expect(d).toBe('text');
  });

  it('applies a command Meta written after its Items', () => {
    const input = message([
      el(
        T.Replace,
        el(T.CmdID, strI('2')),
        el(T.Item, el(T.Data, opaque('AB'))),
        el(T.Meta, 0x00, 0x01, el(T.Format, strI('bin')), 0x00, 0x00),
      ),
    ]);
    const items = itemsOf(decodeWbxml(input));
    expect(items[0]?.data).toEqual(Buffer.from('AB'));
  });

  it('keeps OPAQUE bytes that are not UTF-8 as bytes even in a text Format', () => {
    const cut = Buffer.from('é').subarray(0, 1);
    const model = clientMessage([results([{ meta: { format: 'chr' }, data: cut }])]);
    expect(itemsOf(rtk(model))[0]?.data).toEqual(cut);
  });

  it('settles the Items of Exec, Alert, Status and commands inside containers too', () => {
    const model = clientMessage([
      {
        kind: 'Sequence',
        cmdId: 1,
        commands: [
          { kind: 'Exec', cmdId: 2, item: { target: { locUri: './FUMO/fw1/Update' }, data: 'go' } },
          { kind: 'Replace', cmdId: 3, items: [{ source: { locUri: './DevInfo/Mod' }, data: 'SimPhone-1' }] },
        ],
      },
      {
        kind: 'Status',
        cmdId: 4,
        msgRef: 1,
        cmdRef: 5,
        cmd: 'Alert',
        targetRefs: [],
        sourceRefs: [],
        data: 200,
        items: [{ data: 'typed answer' }],
      },
    ]);
    expect(rtk(model)).toEqual(model);
  });
});

describe('Large Object chunks joined by the codec', () => {
  const chunksOf = (value: string, cuts: number[]): ItemData[] => {
    const bytes = Buffer.from(value, 'utf8');
    const edges = [0, ...cuts, bytes.length];
    return edges.slice(1).map((end, i) => bytes.subarray(edges[i], end));
  };

  it('joins OPAQUE chr chunks by their bytes, so a character cut between chunks comes out whole', () => {
    const value = 'Grüße aus Köln';
    // decoded as the codec gives them: the cut chunks stay bytes, whole ones are text
    const decoded = chunksOf(value, [3, 9]).map((c) => itemsOf(rtk(clientMessage([results([{ meta: { format: 'chr' }, data: c }])])))[0]!.data!);
    expect(decoded.some((c) => Buffer.isBuffer(c))).toBe(true);
    expect(joinChunks(decoded, 'chr')).toBe(value);
  });

  it('joins bin OPAQUE chunks into bytes even when later chunks carry no Meta (decoded as chr text)', () => {
    const bytes = Buffer.from('all printable ASCII, yet binary');
    const first = Buffer.from(bytes.subarray(0, 10));
    const rest = itemsOf(rtk(clientMessage([results([{ data: bytes.subarray(10) }])])))[0]!.data!;
    expect(typeof rest).toBe('string');
    expect(joinChunks([first, rest], 'bin')).toEqual(bytes);
  });

  it('joins text chunks as text, also a bin value an XML client carries as base64 text', () => {
    expect(joinChunks(['AAEC', '/w=='], 'bin')).toBe('AAEC/w==');
    expect(joinChunks(['ab', 'cd'], undefined)).toBe('abcd');
  });
});
