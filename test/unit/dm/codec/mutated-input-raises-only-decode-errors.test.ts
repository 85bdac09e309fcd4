import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SyncMlDecodeError } from '../../../../src/dm/codec/errors.js';
import { decodeWbxml, encodeWbxml } from '../../../../src/dm/codec/wbxml-codec.js';
import { decodeXml, encodeXml } from '../../../../src/dm/codec/xml-codec.js';
import { everyCommand, exampleA, exampleB, exampleC, fixtureHex, fixtureText, largeObjectChunk } from './messages.js';

type Mutation =
  | { op: 'truncate'; at: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Buffer }
  | { op: 'delete'; at: number; len: number }
  | { op: 'duplicate'; at: number; len: number };

function apply(input: Buffer, muts: Mutation[]): Buffer {
  let b = input;
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.op) {
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'set':
        if (at < b.length) {
          b = Buffer.from(b);
          b[at] = m.value;
        }
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case 'duplicate':
        b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at, at + m.len), b.subarray(at + m.len)]);
        break;
    }
  }
  return b;
}

function mutations(interesting: fc.Arbitrary<Buffer>): fc.Arbitrary<Mutation[]> {
  const at = fc.nat({ max: 1 << 16 });
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ op: fc.constant('truncate' as const), at }),
    fc.record({ op: fc.constant('set' as const), at, value: fc.nat({ max: 255 }) }),
    fc.record({ op: fc.constant('insert' as const), at, bytes: interesting }),
    fc.record({ op: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ op: fc.constant('duplicate' as const), at, len: fc.integer({ min: 1, max: 64 }) }),
  );
  return fc.array(mutation, { minLength: 1, maxLength: 4 });
}

/** Decoding must return a message or throw SyncMlDecodeError, nothing else. */
function onlyDecodeErrors(decode: () => unknown): boolean {
  try {
    decode();
    return true;
  } catch (e) {
    if (e instanceof SyncMlDecodeError) return true;
    throw e;
  }
}

const RUNS = 2000;

describe('random truncations and mutations only ever raise SyncMlDecodeError', () => {
  it('XML', () => {
    const seeds = [
      fixtureText('example-a.xml'),
      fixtureText('example-b.xml'),
      encodeXml(exampleC).toString(),
      encodeXml(everyCommand()).toString(),
      encodeXml(largeObjectChunk('QUJD', 9, true)).toString(),
    ].map((s) => Buffer.from(s));
    const snippets = [
      '<', '>', '/>', '</', '&', '&amp;', '&#', '&#x110000;', '&#65;', ';', '"', "'", '=', '<!--', '-->', '<![CDATA[',
      ']]>', '<?', '?>', '<!DOCTYPE x>', '<!ENTITY', ' xmlns="x"', ':', '<Data>', '</Data>', '<Item>', '<Sequence>',
      '<CmdID>1</CmdID>', '<Final/>', '\uFFFD', '\u0000', '\r\n', '99999999999999999', '-1',
    ].map((s) => Buffer.from(s));
    const interesting = fc.oneof(fc.constantFrom(...snippets), fc.uint8Array({ minLength: 1, maxLength: 8 }).map((a) => Buffer.from(a)));
    fc.assert(
      fc.property(fc.nat({ max: seeds.length - 1 }), mutations(interesting), (i, muts) => {
        const input = apply(seeds[i]!, muts);
        return onlyDecodeErrors(() => decodeXml(input)) && onlyDecodeErrors(() => decodeXml(input.toString('latin1')));
      }),
      { seed: 0x5eed1, numRuns: RUNS },
    );
  });

  it('WBXML', () => {
    const seeds = [
      fixtureHex('example-a.wbxml.hex'),
      fixtureHex('example-b.strtbl.wbxml.hex'),
      encodeWbxml(exampleA),
      encodeWbxml(exampleB),
      encodeWbxml(everyCommand()),
    ];
    const tokens = [0x00, 0x01, 0x02, 0x03, 0x04, 0x40, 0x43, 0x80, 0x83, 0xc3, 0xc4, 0xff, 0x7f, 0x8f, 0x6d, 0x54, 0x12];
    const interesting = fc.oneof(
      fc.constantFrom(...tokens).map((t) => Buffer.from([t])),
      fc.constantFrom(
        Buffer.from([0x00, 0x01]),
        Buffer.from([0x00, 0x02]),
        Buffer.from([0x83, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        Buffer.from([0xc3, 0x8f, 0xff, 0xff, 0xff, 0x7f]),
        Buffer.from([0x02, 0x83, 0xb0, 0x00]),
        Buffer.from([0x03, 0x41, 0x00]),
      ),
      fc.uint8Array({ minLength: 1, maxLength: 8 }).map((a) => Buffer.from(a)),
    );
    fc.assert(
      fc.property(fc.nat({ max: seeds.length - 1 }), mutations(interesting), (i, muts) =>
        onlyDecodeErrors(() => decodeWbxml(apply(seeds[i]!, muts))),
      ),
      { seed: 0x5eed2, numRuns: RUNS },
    );
  });

  it('the mutation harness really produces errors (sanity)', () => {
    const input = apply(fixtureHex('example-a.wbxml.hex'), [{ op: 'truncate', at: 40 }]);
    expect(() => decodeWbxml(input)).toThrow(SyncMlDecodeError);
  });
});
