import { describe, expect, it } from 'vitest';
import { encodedSize, encodeSyncMl } from '../../../../src/dm/codec/index.js';
import type { Command, SyncMlEncoding, SyncMlMessage } from '../../../../src/dm/codec/types.js';
import { everyCommand, exampleA, exampleB, exampleC, largeObjectChunk } from './messages.js';

// encodedSize counts what the encoders would write without writing it; a reply is composed against
// the client's MaxMsgSize with it, so it must agree with the encoded length byte for byte.

const ENCODINGS: SyncMlEncoding[] = ['xml', 'wbxml'];

function withData(data: string | Buffer): SyncMlMessage {
  const msg = everyCommand();
  const replace: Command = {
    kind: 'Replace',
    cmdId: 7,
    meta: { format: 'chr', type: 'text/plain' },
    items: [{ target: { locUri: './Vendor/x' }, data }],
  };
  return { ...msg, body: [...msg.body, replace] };
}

const texts: [string, string][] = [
  ['plain ASCII', 'hello'],
  ['escaped characters', 'a&b<c>d\re&amp;'],
  ['two-byte UTF-8', 'Grüße, señor'],
  ['three-byte UTF-8', '設定 €'],
  ['a surrogate pair', 'emoji 😀 here'],
  ['a lone high surrogate', 'x\ud800y'],
  ['a lone low surrogate at the end', 'x\udc00'],
  ['a NUL (opaque in WBXML)', 'a\u0000b'],
  ['an empty string', ''],
  ['a long mixed text', `${'abcé&'.repeat(3000)}😀`],
];

describe('encodedSize', () => {
  for (const encoding of ENCODINGS) {
    it(`equals the encoded length of the example messages (${encoding})`, () => {
      for (const msg of [exampleA, exampleB, exampleC, everyCommand()]) {
        expect(encodedSize(msg, encoding)).toBe(encodeSyncMl(msg, encoding).length);
      }
    });

    it(`equals the encoded length of Large Object chunks, text and binary (${encoding})`, () => {
      for (const chunk of ['x'.repeat(5000), Buffer.alloc(70_000, 7), Buffer.alloc(0), 'ü'.repeat(200)]) {
        const msg = largeObjectChunk(chunk, 200_000, true);
        expect(encodedSize(msg, encoding)).toBe(encodeSyncMl(msg, encoding).length);
      }
    });

    for (const [what, text] of texts) {
      it(`equals the encoded length with ${what} in item data and the header (${encoding})`, () => {
        const msg = withData(text);
        const both = { ...msg, header: { ...msg.header, sessionId: text === '' ? '1' : text, respUri: `https://dm.example/${text}` } };
        for (const m of [msg, both]) expect(encodedSize(m, encoding)).toBe(encodeSyncMl(m, encoding).length);
      });
    }

    it(`equals the encoded length with binary item data of every mb_u_int32 width (${encoding})`, () => {
      for (const n of [1, 127, 128, 16_383, 16_384, 2_097_152]) {
        const msg = withData(Buffer.alloc(n, 0xab));
        expect(encodedSize(msg, encoding)).toBe(encodeSyncMl(msg, encoding).length);
      }
    });

    it(`equals the encoded length without Final and with an empty body (${encoding})`, () => {
      const msg = { ...everyCommand(), final: false };
      expect(encodedSize(msg, encoding)).toBe(encodeSyncMl(msg, encoding).length);
      const empty = { ...msg, body: [], final: true };
      expect(encodedSize(empty, encoding)).toBe(encodeSyncMl(empty, encoding).length);
    });
  }
});
