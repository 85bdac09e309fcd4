import { describe, expect, it } from 'vitest';
import type { Command, SyncMlMessage } from '../../../../src/dm/codec/types.js';
import { decodeWbxml, encodeWbxml } from '../../../../src/dm/codec/wbxml-codec.js';
import { decodeXml, encodeXml } from '../../../../src/dm/codec/xml-codec.js';
import { everyCommand, largeObjectChunk } from './messages.js';

/** Buffer item data travels as base64 text in XML. */
function xmlView(msg: SyncMlMessage): SyncMlMessage {
  const fix = (c: Command): Command => {
    switch (c.kind) {
      case 'Sequence':
      case 'Atomic':
        return { ...c, commands: c.commands.map(fix) };
      case 'Exec':
        return c;
      default:
        return {
          ...c,
          items: c.items.map((it) => (Buffer.isBuffer(it.data) ? { ...it, data: it.data.toString('base64') } : it)),
        };
    }
  };
  return { ...msg, body: msg.body.map(fix) };
}

function single(cmd: Command): SyncMlMessage {
  const msg = everyCommand();
  return { ...msg, body: [cmd], final: true };
}

const all = everyCommand();
const byKind = new Map<string, Command>();
const collect = (cmds: Command[]): void => {
  for (const c of cmds) {
    if (!byKind.has(c.kind)) byKind.set(c.kind, c);
    if (c.kind === 'Sequence' || c.kind === 'Atomic') collect(c.commands);
  }
};
collect(all.body);

describe('round trip of each command kind', () => {
  const kinds = ['Alert', 'Add', 'Replace', 'Get', 'Delete', 'Exec', 'Copy', 'Sequence', 'Atomic', 'Status', 'Results'];
  it('the sample covers every kind', () => {
    expect([...byKind.keys()].sort()).toEqual([...kinds].sort());
  });
  for (const kind of kinds) {
    const msg = single(byKind.get(kind)!);
    it(`${kind} through WBXML`, () => {
      expect(decodeWbxml(encodeWbxml(msg))).toEqual(msg);
    });
    it(`${kind} through XML`, () => {
      expect(decodeXml(encodeXml(msg))).toEqual(xmlView(msg));
    });
  }

  it('a message with every command, header field and nesting, through both encodings', () => {
    expect(decodeWbxml(encodeWbxml(all))).toEqual(all);
    expect(decodeXml(encodeXml(all))).toEqual(xmlView(all));
  });

  it('keeps command order in SyncBody and inside nested containers', () => {
    const back = decodeWbxml(encodeWbxml(all));
    expect(back.body.map((c) => c.cmdId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 17]);
    const seq = back.body[10];
    if (seq?.kind !== 'Sequence') throw new Error('Sequence expected');
    expect(seq.commands.map((c) => c.kind)).toEqual(['Get', 'Atomic', 'Exec']);
    const atomic = seq.commands[1];
    if (atomic?.kind !== 'Atomic') throw new Error('Atomic expected');
    expect(atomic.commands.map((c) => c.kind)).toEqual(['Add', 'Alert']);
  });
});

describe('element order on output', () => {
  it('writes SyncHdr, Status, Results, Item and metinf children in DTD order whatever the object key order', () => {
    const xml = encodeXml(all).toString();
    const order = (names: string[], within: string): void => {
      let last = -1;
      for (const n of names) {
        const i = within.indexOf(`<${n}`);
        expect(i, n).toBeGreaterThan(last);
        last = i;
      }
    };
    const hdr = xml.slice(xml.indexOf('<SyncHdr>'), xml.indexOf('</SyncHdr>'));
    order(['VerDTD', 'VerProto', 'SessionID', 'MsgID', 'Target', 'Source', 'RespURI', 'NoResp', 'Cred', 'Meta'], hdr);
    const status = xml.slice(xml.indexOf('<Status>'), xml.indexOf('</Status>'));
    order(['CmdID', 'MsgRef', 'CmdRef', 'Cmd>', 'TargetRef', 'SourceRef', 'Chal', 'Data', 'Item'], status);
    const results = xml.slice(xml.indexOf('<Results>'), xml.indexOf('</Results>'));
    order(['CmdID', 'MsgRef', 'CmdRef', 'Meta', 'TargetRef', 'SourceRef', 'Item'], results);
    const exec = xml.slice(xml.indexOf('<Exec>'), xml.indexOf('</Exec>'));
    order(['CmdID', 'Meta', 'Correlator', 'Item'], exec);
    const alert = xml.slice(xml.indexOf('<Alert>'), xml.indexOf('</Alert>'));
    order(['CmdID', 'NoResp', 'Data', 'Correlator', 'Item'], alert);
    const chal = xml.slice(xml.indexOf('<Chal>'), xml.indexOf('</Chal>'));
    order(['Type', 'NextNonce'], chal);
    const meta = xml.slice(xml.indexOf('<Replace>'), xml.indexOf('</Replace>'));
    order(['Target', 'Meta', 'Format', 'Type', 'Size', 'Data'], meta);
  });

  it('puts the metinf namespace on each Meta child and the SyncML 1.2 namespace on the root', () => {
    const xml = encodeXml(all).toString();
    expect(xml.startsWith('<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD>')).toBe(true);
    expect(xml).toContain('<Meta><MaxMsgSize xmlns="syncml:metinf">65536</MaxMsgSize><MaxObjSize xmlns="syncml:metinf">1048576</MaxObjSize></Meta>');
    expect(xml).toContain('<NextNonce xmlns="syncml:metinf">AAECAwQFBgcICQ==</NextNonce>');
  });

  it('escapes &, < and > in text, keeps quotes, and encodes CR as a character reference', () => {
    const msg = single({ kind: 'Alert', cmdId: 1, data: 1100, items: [{ data: 'a&b<c>d"e\'f\r\ng' }] });
    const xml = encodeXml(msg).toString();
    expect(xml).toContain('<Data>a&amp;b&lt;c&gt;d"e\'f&#13;\ng</Data>');
    expect(decodeXml(xml)).toEqual(msg);
  });

  it('writes empty strings as empty elements and reads them back as empty strings', () => {
    const msg = single({ kind: 'Replace', cmdId: 1, items: [{ target: { locUri: './a' }, data: '' }] });
    expect(encodeXml(msg).toString()).toContain('<Data/>');
    expect(decodeXml(encodeXml(msg))).toEqual(msg);
    expect(decodeWbxml(encodeWbxml(msg))).toEqual(msg);
  });

  it('writes Final only when set', () => {
    expect(encodeXml({ ...all, final: true }).toString()).toContain('<Final/></SyncBody>');
    expect(encodeXml(all).toString()).not.toContain('<Final/>');
  });
});

describe('Large Object chunks', () => {
  it('carry Meta Size and MoreData on a non-last chunk through both encodings', () => {
    const first = largeObjectChunk(Buffer.alloc(3000, 0xab), 7000, true);
    const back = decodeWbxml(encodeWbxml(first));
    expect(back).toEqual(first);
    const item = back.body[0]?.kind === 'Replace' ? back.body[0].items[0] : undefined;
    expect(item?.moreData).toBe(true);
    expect(item?.meta?.size).toBe(7000);
    expect(Buffer.isBuffer(item?.data)).toBe(true);

    const xmlChunk = largeObjectChunk('QUJD'.repeat(500), 7000, true);
    expect(decodeXml(encodeXml(xmlChunk))).toEqual(xmlChunk);
    expect(encodeXml(xmlChunk).toString()).toMatch(/<\/Data><MoreData\/><\/Item>/);
  });

  it('has no MoreData on the last chunk', () => {
    const last = largeObjectChunk('tail', 7000, false);
    const back = decodeXml(encodeXml(last));
    expect(back).toEqual(last);
    expect(encodeXml(last).toString()).not.toContain('MoreData');
  });

  it('writes OPAQUE with a multi-byte length for a 200 KB binary chunk', () => {
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const msg = largeObjectChunk(big, 1_000_000, true);
    const out = encodeWbxml(msg);
    // 200000 = 0x30D40 -> mb_u_int32 8C 9A 40
    expect(out.includes(Buffer.from([0xc3, 0x8c, 0x9a, 0x40]))).toBe(true);
    expect(decodeWbxml(out)).toEqual(msg);
  });
});

describe('nested containers', () => {
  it('Atomic inside Sequence decodes with its children in order (XML and WBXML)', () => {
    const msg = single({
      kind: 'Sequence',
      cmdId: 1,
      commands: [
        {
          kind: 'Atomic',
          cmdId: 2,
          commands: [
            { kind: 'Add', cmdId: 3, items: [{ target: { locUri: './n/1' }, data: 'x' }] },
            { kind: 'Replace', cmdId: 4, items: [{ target: { locUri: './n/2' }, data: 'y' }] },
            { kind: 'Delete', cmdId: 5, items: [{ target: { locUri: './n/3' } }] },
          ],
        },
        { kind: 'Exec', cmdId: 6, item: { target: { locUri: './n/go' } } },
      ],
    });
    expect(decodeXml(encodeXml(msg))).toEqual(msg);
    expect(decodeWbxml(encodeWbxml(msg))).toEqual(msg);
  });
});
