/**
 * Meta placement (issue 13): outgoing Add/Replace carry Format/Type in each
 * Item, as the specification's examples do, because common clients read only
 * Item Meta; incoming Meta is taken from the command or the Item (Item wins).
 */
import { describe, expect, it } from 'vitest';
import { encodeWbxml } from '../../../../src/dm/codec/wbxml-codec.js';
import { encodeXml } from '../../../../src/dm/codec/xml-codec.js';
import type { Command, ItemCommand, SyncMlMessage } from '../../../../src/dm/codec/types.js';
import { payloadOf, renderChunk, renderCommand } from '../../../../src/dm/session/render.js';
import type { NodeWriteSpec, ServerCommandRequest } from '../../../../src/dm/session/server-commands.js';
import { clientMessage, commandsOf, context, Driver, ofType, pkg1, status } from './helpers.js';

function serverMessage(body: Command[]): SyncMlMessage {
  return {
    header: { verDtd: '1.2', verProto: 'DM/1.2', sessionId: '1', msgId: 2, target: { locUri: 'IMEI:1' }, source: { locUri: 'srv' } },
    body,
    final: true,
  };
}

const packed: NodeWriteSpec[] = [
  { verb: 'Add', uri: './a', data: '1', format: 'chr', type: 'text/plain' },
  { verb: 'Add', uri: './b', data: '2', format: 'chr', type: 'text/plain' },
];

const META_XML =
  '<Meta><Format xmlns="syncml:metinf">chr</Format><Type xmlns="syncml:metinf">text/plain</Type></Meta>';

describe('outgoing Add/Replace Meta', () => {
  it('writes Format and Type in every Item of a packed Add and none at command level (XML)', () => {
    const cmd = renderCommand(packed, 'xml', () => 7);
    const xml = encodeXml(serverMessage([cmd])).toString('utf8');
    expect(xml).toContain(
      `<Add><CmdID>7</CmdID><Item><Target><LocURI>./a</LocURI></Target>${META_XML}<Data>1</Data></Item>` +
        `<Item><Target><LocURI>./b</LocURI></Target>${META_XML}<Data>2</Data></Item></Add>`,
    );
  });

  it('writes Format and Type in every Item (WBXML bytes: Item, Target, Meta on page 1, back to page 0 for Data)', () => {
    const cmd = renderCommand([{ verb: 'Replace', uri: './a', data: '1', format: 'int' }], 'wbxml', () => 3);
    const wbxml = encodeWbxml(serverMessage([cmd]));
    const s = (t: string) => [0x03, ...Buffer.from(t), 0x00];
    const expected = Buffer.from([
      0x60, // Replace
      0x4b, ...s('3'), 0x01, // CmdID
      0x54, // Item
      0x6e, 0x57, ...s('./a'), 0x01, 0x01, // Target/LocURI
      0x5a, 0x00, 0x01, 0x47, ...s('int'), 0x01, 0x01, // Meta, page 1, Format
      0x00, 0x00, 0x4f, ...s('1'), 0x01, // page 0, Data
      0x01, // end Item
      0x01, // end Replace
    ]);
    expect(wbxml.includes(expected)).toBe(true);
  });

  it('puts Format and Type in the Item of every Large Object chunk, Size in the first', () => {
    const spec: NodeWriteSpec = { verb: 'Replace', uri: './big', data: 'abcdef', format: 'chr', type: 'text/plain' };
    const payload = payloadOf(spec, 'xml');
    const first = renderChunk(spec, payload, 0, 3, 4);
    const last = renderChunk(spec, payload, 3, 6, 5);
    expect(first).toEqual({
      kind: 'Replace',
      cmdId: 4,
      items: [{ target: { locUri: './big' }, meta: { format: 'chr', type: 'text/plain', size: 6 }, data: 'abc', moreData: true }],
    });
    expect(last).toEqual({
      kind: 'Replace',
      cmdId: 5,
      items: [{ target: { locUri: './big' }, meta: { format: 'chr', type: 'text/plain' }, data: 'def' }],
    });
    expect(encodeXml(serverMessage([first])).toString()).toContain(
      '<Replace><CmdID>4</CmdID><Item><Target><LocURI>./big</LocURI></Target><Meta><Format xmlns="syncml:metinf">chr</Format>' +
        '<Type xmlns="syncml:metinf">text/plain</Type><Size xmlns="syncml:metinf">6</Size></Meta><Data>abc</Data><MoreData/></Item>',
    );
  });

  it('writes no Meta for a spec without Format or Type', () => {
    const cmd = renderCommand([{ verb: 'Replace', uri: './a', data: 'x' }], 'xml', () => 1) as ItemCommand;
    expect(cmd.meta).toBeUndefined();
    expect(cmd.items[0]?.meta).toBeUndefined();
  });
});

describe('incoming Results Meta', () => {
  const request: ServerCommandRequest = {
    requestId: 'gets',
    commands: [
      { verb: 'Get', uri: './A' },
      { verb: 'Get', uri: './B' },
    ],
  };

  it('takes Format and Type from the command Meta, and the Item Meta over it', () => {
    const driver = new Driver(context({ pending: [request] }));
    const out = driver.send(pkg1());
    const [getA, getB] = commandsOf(out.reply);
    const results = (cmdRef: number, uri: string, itemMeta?: { format: string }): Command => ({
      kind: 'Results',
      cmdId: 10 + cmdRef,
      msgRef: 1,
      cmdRef,
      meta: { format: 'int', type: 'text/plain' },
      items: [{ source: { locUri: uri }, ...(itemMeta ? { meta: itemMeta } : {}), data: '5' }],
    });
    const done = driver.send(
      clientMessage({
        msgId: 2,
        body: [
          status(1, 1, 0, 'SyncHdr', 200),
          status(2, 1, getA!.cmdId, 'Get', 200),
          results(getA!.cmdId, './A'),
          status(3, 1, getB!.cmdId, 'Get', 200),
          results(getB!.cmdId, './B', { format: 'chr' }),
        ],
      }),
    );
    expect(ofType(done.effects, 'command-result')[0]?.results.map((r) => [r.uri, r.format, r.type])).toEqual([
      ['./A', 'int', 'text/plain'],
      ['./B', 'chr', 'text/plain'],
    ]);
  });
});
