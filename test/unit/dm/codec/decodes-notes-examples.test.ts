import { describe, expect, it } from 'vitest';
import { decodeWbxml, encodeWbxml } from '../../../../src/dm/codec/wbxml-codec.js';
import { decodeXml, encodeXml } from '../../../../src/dm/codec/xml-codec.js';
import { exampleA, exampleB, exampleC, fixtureHex, fixtureText } from './messages.js';

const examples = [
  ['a', exampleA],
  ['b', exampleB],
  ['c', exampleC],
] as const;

describe('notes examples decode into the expected model', () => {
  for (const [name, model] of examples) {
    it(`example (${name}) from XML (pretty-printed, with comments)`, () => {
      expect(decodeXml(fixtureText(`example-${name}.xml`))).toEqual(model);
      expect(decodeXml(Buffer.from(fixtureText(`example-${name}.xml`)))).toEqual(model);
    });

    it(`example (${name}) from libwbxml bytes without a string table`, () => {
      expect(decodeWbxml(fixtureHex(`example-${name}.wbxml.hex`))).toEqual(model);
    });

    it(`example (${name}) from libwbxml bytes using the string table (STR_T)`, () => {
      expect(decodeWbxml(fixtureHex(`example-${name}.strtbl.wbxml.hex`))).toEqual(model);
    });

    it(`example (${name}) survives our encoders in both encodings`, () => {
      expect(decodeXml(encodeXml(model))).toEqual(model);
      expect(decodeWbxml(encodeWbxml(model))).toEqual(model);
    });
  }
});

describe('libwbxml OPAQUE item data', () => {
  it('comes back as text: libwbxml writes chr <Data> as OPAQUE, and the Format, not the carrier, decides', () => {
    const msg = decodeWbxml(fixtureHex('example-b.wbxml.hex'));
    const seq = msg.body[3];
    if (seq?.kind !== 'Sequence') throw new Error('expected Sequence');
    const add = seq.commands[1];
    if (add?.kind !== 'Add') throw new Error('expected Add');
    const data = add.items[0]?.data;
    expect(data).toBe('./FUMO/fw1/Update');
  });
});

describe('WBXML output bytes', () => {
  it('starts with version 0x02, public id A4 01, UTF-8, empty string table, then SyncML/SyncHdr/VerDTD', () => {
    const out = encodeWbxml(exampleA);
    const expected = Buffer.concat([
      Buffer.from([0x02, 0xa4, 0x01, 0x6a, 0x00, 0x6d, 0x6c, 0x71, 0x03]),
      Buffer.from('1.2'),
      Buffer.from([0x00, 0x01]),
    ]);
    expect(out.subarray(0, expected.length).toString('hex')).toBe(expected.toString('hex'));
  });

  it('switches to page 1 right before MaxMsgSize and back to page 0 right before the next page-0 tag', () => {
    const out = encodeWbxml(exampleA);
    const i = out.indexOf(Buffer.from([0x00, 0x01, 0x4c]));
    expect(i).toBeGreaterThan(0);
    const strEnd = out.indexOf(0x00, i + 4); // end of "16384"
    // END MaxMsgSize, END Meta, END SyncHdr, SWITCH_PAGE 0, SyncBody
    expect([...out.subarray(strEnd + 1, strEnd + 6)]).toEqual([0x01, 0x01, 0x01, 0x00, 0x00]);
    expect(out[strEnd + 6]).toBe(0x6b);
  });
});
