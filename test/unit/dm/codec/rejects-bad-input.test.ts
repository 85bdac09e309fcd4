import { describe, expect, it } from 'vitest';
import { SyncMlDecodeError } from '../../../../src/dm/codec/errors.js';
import { decodeWbxml, encodeWbxml } from '../../../../src/dm/codec/wbxml-codec.js';
import { decodeXml, encodeXml } from '../../../../src/dm/codec/xml-codec.js';
import { everyCommand, exampleB, fixtureHex, fixtureText } from './messages.js';
import { bytes, el, message, type Part, STD_HEAD, strI, T } from './wbxml-build.js';

function error(fn: () => unknown): SyncMlDecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SyncMlDecodeError) return e;
    throw e;
  }
  throw new Error('expected a SyncMlDecodeError');
}

const reason = (fn: () => unknown): string => error(fn).reason;

const HDR =
  '<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>7F</SessionID><MsgID>4</MsgID>' +
  '<Target><LocURI>https://s</LocURI></Target><Source><LocURI>IMEI:42</LocURI></Source></SyncHdr>';
const doc = (body: string, hdr = HDR) => `<SyncML xmlns="SYNCML:SYNCML1.2">${hdr}<SyncBody>${body}<Final/></SyncBody></SyncML>`;

describe('DOCTYPE and entity declarations', () => {
  it('rejects a DOCTYPE before the root', () => {
    const xml = `<?xml version="1.0"?><!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML 1.2//EN" "x.dtd">${doc('')}`;
    expect(reason(() => decodeXml(xml))).toBe('doctype');
  });

  it('rejects an internal subset with entity declarations (billion laughs)', () => {
    const xml = `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>${doc('<Alert><CmdID>1</CmdID><Data>&lol2;</Data></Alert>')}`;
    expect(reason(() => decodeXml(xml))).toBe('doctype');
  });

  it('rejects an <!ENTITY> declaration anywhere, including inside the document', () => {
    expect(reason(() => decodeXml(doc('<!ENTITY x "y">')))).toBe('doctype');
    expect(reason(() => decodeXml(`<!ENTITY x SYSTEM "file:///etc/passwd">${doc('')}`))).toBe('doctype');
  });
});

describe('truncated input', () => {
  it('XML cut at every position reports truncated', () => {
    for (const name of ['example-a.xml', 'example-b.xml']) {
      const full = fixtureText(name).trimEnd();
      for (let cut = 0; cut < full.length; cut++) {
        expect(reason(() => decodeXml(full.slice(0, cut))), `${name} cut at ${cut}`).toBe('truncated');
      }
    }
  });

  it('XML cut inside a comment, CDATA, entity and attribute reports truncated', () => {
    const full = doc('<Alert><CmdID>1</CmdID><Data>1<!-- c --></Data><Item><Data><![CDATA[x]]>&amp;</Data></Item></Alert>');
    for (const marker of ['<!-', '<!-- c', '<![CDA', '<![CDATA[x]', '&am', 'xmlns="SYNC']) {
      const at = full.indexOf(marker) + marker.length;
      expect(reason(() => decodeXml(full.slice(0, at))), marker).toBe('truncated');
    }
  });

  it('WBXML cut at every position reports truncated', () => {
    for (const input of [fixtureHex('example-b.wbxml.hex'), fixtureHex('example-a.strtbl.wbxml.hex'), encodeWbxml(everyCommand())]) {
      for (let cut = 0; cut < input.length; cut++) {
        expect(reason(() => decodeWbxml(input.subarray(0, cut))), `cut at ${cut}`).toBe('truncated');
      }
    }
  });

  it('keeps the part of the header already read', () => {
    const xml = encodeXml(exampleB).toString();
    const e = error(() => decodeXml(xml.slice(0, xml.indexOf('<Sequence>') + 20)));
    expect(e.reason).toBe('truncated');
    expect(e.header).toEqual({
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: '1A',
      msgId: 1,
      targetLocUri: 'IMEI:493005100592800',
      sourceLocUri: 'https://dm.example.com/dm',
    });
    const wb = encodeWbxml(exampleB);
    const w = error(() => decodeWbxml(wb.subarray(0, wb.length - 10)));
    expect(w.reason).toBe('truncated');
    expect(w.header?.sessionId).toBe('1A');
    expect(w.header?.sourceLocUri).toBe('https://dm.example.com/dm');
  });

  it('does not report a value cut by the end of input', () => {
    const e = error(() => decodeXml('<SyncML><SyncHdr><VerDTD>1.2</VerDTD><SessionID>1'));
    expect(e.header).toEqual({ verDtd: '1.2' });
    expect(error(() => decodeXml('<SyncML><SyncHdr><VerDTD>1.2')).header).toBeUndefined();
  });
});

describe('limits', () => {
  const nestedXml = (n: number) =>
    doc(`${'<Sequence><CmdID>1</CmdID>'.repeat(n)}${'</Sequence>'.repeat(n)}`);

  it('rejects nesting deeper than maxDepth (XML and WBXML)', () => {
    expect(reason(() => decodeXml(nestedXml(40)))).toBe('too-deep');
    expect(decodeXml(nestedXml(25)).body).toHaveLength(1);
    const seq = (n: number): Part[] => (n === 0 ? [] : [el(0x24, el(T.CmdID, strI('1')), seq(n - 1))]);
    expect(reason(() => decodeWbxml(message(seq(40))))).toBe('too-deep');
    expect(decodeWbxml(message(seq(25))).body).toHaveLength(1);
    expect(reason(() => decodeWbxml(message(seq(5)), { maxDepth: 6 }))).toBe('too-deep');
  });

  it('stops a 200,000-level nesting without exhausting the stack, even with a huge maxDepth', () => {
    const n = 200_000;
    const xml = `<SyncML>${'<a>'.repeat(n)}`;
    expect(reason(() => decodeXml(xml))).toBe('too-deep');
    expect(reason(() => decodeXml(xml, { maxDepth: 10_000_000 }))).toBe('too-deep');
    const wb = Buffer.concat([bytes(STD_HEAD, 0x6d), Buffer.alloc(n, 0x68)]);
    expect(reason(() => decodeWbxml(wb, { maxDepth: 10_000_000 }))).toBe('too-deep');
    const seqs = doc(`${'<Sequence><CmdID>1</CmdID>'.repeat(5000)}${'</Sequence>'.repeat(5000)}`);
    expect(reason(() => decodeXml(seqs, { maxDepth: 10_000_000 }))).toBe('too-deep');
  });

  it('rejects more elements than maxElements', () => {
    const xml = encodeXml(everyCommand());
    expect(reason(() => decodeXml(xml, { maxElements: 50 }))).toBe('too-many-elements');
    expect(reason(() => decodeWbxml(encodeWbxml(everyCommand()), { maxElements: 50 }))).toBe('too-many-elements');
    const flat = doc('<Final/>'.repeat(200_000));
    expect(reason(() => decodeXml(flat))).toBe('too-many-elements');
  });

  it('rejects input above maxBytes before parsing', () => {
    const xml = encodeXml(everyCommand());
    expect(reason(() => decodeXml(xml, { maxBytes: 100 }))).toBe('too-large');
    expect(reason(() => decodeXml(xml.toString(), { maxBytes: 100 }))).toBe('too-large');
    expect(reason(() => decodeWbxml(encodeWbxml(everyCommand()), { maxBytes: 100 }))).toBe('too-large');
  });
});

describe('bad numbers', () => {
  for (const [what, body, hdr] of [
    ['MsgID', '', HDR.replace('<MsgID>4</MsgID>', '<MsgID>x</MsgID>')],
    ['negative CmdID', '<Alert><CmdID>-1</CmdID><Data>1201</Data></Alert>', HDR],
    ['fractional Alert Data', '<Alert><CmdID>1</CmdID><Data>12.5</Data></Alert>', HDR],
    ['Status Data', '<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>OK</Data></Status>', HDR],
    ['MsgRef', '<Status><CmdID>1</CmdID><MsgRef>0x1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>', HDR],
    ['CmdRef', '<Results><CmdID>1</CmdID><CmdRef>1e3</CmdRef><Item><Data>x</Data></Item></Results>', HDR],
    ['Size', '<Replace><CmdID>1</CmdID><Meta><Size>-5</Size></Meta><Item><Data>x</Data></Item></Replace>', HDR],
    ['MaxMsgSize', '', HDR.replace('</SyncHdr>', '<Meta><MaxMsgSize>big</MaxMsgSize></Meta></SyncHdr>')],
    ['MaxObjSize', '', HDR.replace('</SyncHdr>', '<Meta><MaxObjSize>1234567890123456</MaxObjSize></Meta></SyncHdr>')],
    ['empty CmdID', '<Get><CmdID></CmdID><Item><Target><LocURI>./a</LocURI></Target></Item></Get>', HDR],
  ] as const) {
    it(`rejects a non-integer ${what}`, () => {
      expect(reason(() => decodeXml(doc(body, hdr)))).toBe('bad-number');
    });
  }

  it('rejects a bad number in WBXML and keeps the header', () => {
    const e = error(() => decodeWbxml(message([el(T.Replace, el(T.CmdID, strI('one')), el(T.Item))])));
    expect(e.reason).toBe('bad-number');
    expect(e.header).toMatchObject({ sessionId: 'A3', msgId: 1, sourceLocUri: 'IMEI:1' });
  });
});

describe('missing required elements', () => {
  for (const [what, xml] of [
    ['SyncHdr', '<SyncML><SyncBody><Final/></SyncBody></SyncML>'],
    ['SyncBody', `<SyncML>${HDR}</SyncML>`],
    ['SessionID', doc('', HDR.replace('<SessionID>7F</SessionID>', ''))],
    ['MsgID', doc('', HDR.replace('<MsgID>4</MsgID>', ''))],
    ['VerDTD', doc('', HDR.replace('<VerDTD>1.2</VerDTD>', ''))],
    ['Target', doc('', HDR.replace('<Target><LocURI>https://s</LocURI></Target>', ''))],
    ['Source', doc('', HDR.replace('<Source><LocURI>IMEI:42</LocURI></Source>', ''))],
    ['Source LocURI', doc('', HDR.replace('<LocURI>IMEI:42</LocURI>', '<LocName>x</LocName>'))],
    ['Cred Data', doc('', HDR.replace('</SyncHdr>', '<Cred><Meta><Type>syncml:auth-basic</Type></Meta></Cred></SyncHdr>'))],
    ['CmdID', doc('<Replace><Item><Data>x</Data></Item></Replace>')],
    ['Alert Data', doc('<Alert><CmdID>1</CmdID></Alert>')],
    ['Exec Item', doc('<Exec><CmdID>1</CmdID></Exec>')],
    ['Status Data', doc('<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd></Status>')],
    ['Status Cmd', doc('<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Data>200</Data></Status>')],
    ['Status MsgRef', doc('<Status><CmdID>1</CmdID><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>')],
    ['Results CmdRef', doc('<Results><CmdID>1</CmdID><Item><Data>x</Data></Item></Results>')],
    ['Item Target LocURI', doc('<Get><CmdID>1</CmdID><Item><Target></Target></Item></Get>')],
  ] as const) {
    it(`reports missing ${what}`, () => {
      expect(reason(() => decodeXml(xml))).toBe('missing-element');
    });
  }

  it('names the element and keeps the header fields that were present', () => {
    const e = error(() => decodeXml(doc('<Alert><CmdID>1</CmdID></Alert>')));
    expect(e.message).toContain('<Data> missing in <Alert>');
    expect(e.header).toMatchObject({ sessionId: '7F', msgId: 4, sourceLocUri: 'IMEI:42' });
  });

  it('accepts generic commands without Items (example (c) has an empty Replace)', () => {
    expect(decodeXml(doc('<Delete><CmdID>9</CmdID></Delete>')).body).toEqual([{ kind: 'Delete', cmdId: 9, items: [] }]);
  });
});

describe('commands outside DM', () => {
  it('rejects Sync, Map and unknown elements in SyncBody or containers', () => {
    expect(reason(() => decodeXml(doc('<Sync><CmdID>1</CmdID></Sync>')))).toBe('unsupported-command');
    expect(reason(() => decodeXml(doc('<Sequence><CmdID>1</CmdID><Map><CmdID>2</CmdID></Map></Sequence>')))).toBe(
      'unsupported-command',
    );
    expect(reason(() => decodeWbxml(message([el(0x18, el(T.CmdID, strI('1')))])))).toBe('unsupported-command');
  });

  it('ignores unknown non-command elements elsewhere', () => {
    const xml = doc('<Alert><CmdID>1</CmdID><Lang>en</Lang><Data>1201</Data><Foo/></Alert>');
    expect(decodeXml(xml).body).toEqual([{ kind: 'Alert', cmdId: 1, data: 1201, items: [] }]);
  });
});
