import { describe, expect, it } from 'vitest';
import { SyncMlDecodeError } from '../../../../src/dm/codec/errors.js';
import { decodeXml } from '../../../../src/dm/codec/xml-codec.js';
import { exampleC, fixtureText } from './messages.js';

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SyncMlDecodeError) return e.reason;
    throw e;
  }
  throw new Error('expected a SyncMlDecodeError');
}

const HDR =
  '<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>2</MsgID>' +
  '<Target><LocURI>https://s</LocURI></Target><Source><LocURI>IMEI:1</LocURI></Source></SyncHdr>';

function doc(body: string, root = '<SyncML xmlns="SYNCML:SYNCML1.2">', end = '</SyncML>'): string {
  return `${root}${HDR}<SyncBody>${body}<Final/></SyncBody>${end}`;
}

function firstItemData(xml: string | Buffer): unknown {
  const c = decodeXml(xml).body[0];
  if (c === undefined || !('items' in c)) throw new Error('no items');
  return c.items[0]?.data;
}

describe('XML namespaces', () => {
  it('accepts the SyncML 1.1 namespace, no namespace, and a case-different 1.2 namespace', () => {
    for (const root of ['<SyncML xmlns="SYNCML:SYNCML1.1">', '<SyncML>', "<SyncML xmlns='syncml:syncml1.2'>"]) {
      expect(decodeXml(doc('', root)).header.msgId).toBe(2);
    }
  });

  it('accepts a prefixed root with its prefix namespace', () => {
    const xml = doc('', '<s:SyncML xmlns:s="SYNCML:SYNCML1.2">', '</s:SyncML>');
    expect(decodeXml(xml).final).toBe(true);
  });

  it('rejects a foreign root namespace and a root that is not SyncML', () => {
    expect(reason(() => decodeXml(doc('', '<SyncML xmlns="urn:other">')))).toBe('not-syncml');
    expect(reason(() => decodeXml('<html><SyncHdr/></html>'))).toBe('not-syncml');
  });

  it('accepts Meta children with the metinf namespace, without it, and with a prefix', () => {
    const body =
      '<Replace><CmdID>3</CmdID><Meta xmlns:m="syncml:metinf"><m:Format>chr</m:Format><Type>text/plain</Type>' +
      '<Mark xmlns="syncml:metinf">critical</Mark></Meta><Item><Target><LocURI>./a</LocURI></Target><Data>x</Data></Item></Replace>';
    expect(decodeXml(doc(body)).body[0]).toEqual({
      kind: 'Replace',
      cmdId: 3,
      meta: { format: 'chr', type: 'text/plain', mark: 'critical' },
      items: [{ target: { locUri: './a' }, data: 'x' }],
    });
  });

  it('reads metinf elements wrapped in <MetInf>', () => {
    const body =
      '<Get><CmdID>3</CmdID><Meta><MetInf xmlns="syncml:metinf"><Format>chr</Format><MaxObjSize>99</MaxObjSize></MetInf></Meta>' +
      '<Item><Target><LocURI>./a</LocURI></Target></Item></Get>';
    expect(decodeXml(doc(body)).body[0]).toMatchObject({ meta: { format: 'chr', maxObjSize: 99 } });
  });
});

describe('XML text', () => {
  const item = (data: string) => `<Replace><CmdID>3</CmdID><Item><Data>${data}</Data></Item></Replace>`;

  it('expands the five predefined entities and decimal/hex character references', () => {
    expect(firstItemData(doc(item('&lt;a&gt; &amp; &quot;q&quot; &apos;s&apos; &#233;&#x20AC;&#x1F600;')))).toBe(
      '<a> & "q" \'s\' é€😀',
    );
  });

  it('takes CDATA verbatim and joins it with surrounding text', () => {
    expect(firstItemData(doc(item('a<![CDATA[<b>&amp;</b>]]>c')))).toBe('a<b>&amp;</b>c');
  });

  it('keeps Item Data whitespace but trims other values', () => {
    const body = '<Replace><CmdID> 3 </CmdID><Item><Target><LocURI>\n ./a \n</LocURI></Target><Data>  x  </Data></Item></Replace>';
    expect(decodeXml(doc(body)).body[0]).toEqual({
      kind: 'Replace',
      cmdId: 3,
      items: [{ target: { locUri: './a' }, data: '  x  ' }],
    });
  });

  it('normalises CRLF line ends in text to LF', () => {
    expect(firstItemData(doc(item('a\r\nb\rc')))).toBe('a\nb\nc');
  });

  it('returns embedded XML inside <Data> as its raw markup text', () => {
    const tnds = '<MgmtTree xmlns="syncml:dmddf1.2"><Node><NodeName>a</NodeName><Value>1 &amp; 2</Value></Node></MgmtTree>';
    expect(firstItemData(doc(item(tnds)))).toBe(tnds);
  });

  it('skips comments, processing instructions, the XML declaration and a UTF-8 BOM', () => {
    const xml = `\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- hi -->${doc(`<?pi x?><!-- c -->${item('v')}`)}\n<!-- tail -->\n`;
    expect(firstItemData(xml)).toBe('v');
    expect(firstItemData(Buffer.from(xml))).toBe('v');
  });

  it('decodes ISO-8859-1 bytes when the XML declaration says so', () => {
    const xml = Buffer.concat([
      Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>${doc(item('caf'))}`.split('caf').join('caf\u00e9'), 'latin1'),
    ]);
    expect(firstItemData(xml)).toBe('café');
  });

  it('rejects UTF-16 and unknown declared encodings', () => {
    expect(reason(() => decodeXml(Buffer.from([0xff, 0xfe, 0x3c, 0x00])))).toBe('bad-encoding');
    expect(reason(() => decodeXml(Buffer.from(`<?xml version="1.0" encoding="Shift_JIS"?>${doc('')}`)))).toBe(
      'bad-encoding',
    );
  });

  it('rejects undefined entities and invalid character references', () => {
    expect(reason(() => decodeXml(doc(item('&nbsp;'))))).toBe('bad-entity');
    expect(reason(() => decodeXml(doc(item('&#0;'))))).toBe('bad-entity');
    expect(reason(() => decodeXml(doc(item('&#xD800;'))))).toBe('bad-entity');
    expect(reason(() => decodeXml(doc(item('a & b'))))).toBe('bad-entity');
  });

  it('rejects mismatched tags, stray text and a second root', () => {
    expect(reason(() => decodeXml(doc('<Replace><CmdID>1</CmdID></Add>')))).toBe('malformed');
    expect(reason(() => decodeXml(`junk${doc('')}`))).toBe('malformed');
    expect(reason(() => decodeXml(`${doc('')}<SyncML/>`))).toBe('malformed');
  });
});

describe('XML example (c) in the notes', () => {
  it('decodes with whitespace and a comment in place of the DevInfo items', () => {
    expect(decodeXml(fixtureText('example-c.xml'))).toEqual(exampleC);
  });
});
