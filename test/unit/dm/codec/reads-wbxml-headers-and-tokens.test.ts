import { describe, expect, it } from 'vitest';
import { SyncMlDecodeError } from '../../../../src/dm/codec/errors.js';
import { decodeWbxml } from '../../../../src/dm/codec/wbxml-codec.js';
import { exampleA, fixtureHex } from './messages.js';
import { bytes, el, header, message, opaque, STD_HEAD, strI, T } from './wbxml-build.js';

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SyncMlDecodeError) return e.reason;
    throw e;
  }
  throw new Error('expected a SyncMlDecodeError');
}

const FPI12 = '-//SYNCML//DTD SyncML 1.2//EN';
const FPI11 = '-//SYNCML//DTD SyncML 1.1//EN';

describe('WBXML header forms', () => {
  it('accepts WBXML versions 1.1, 1.2 and 1.3', () => {
    for (const v of [0x01, 0x02, 0x03]) {
      expect(decodeWbxml(message([], [v, 0xa4, 0x01, 0x6a, 0x00])).header.sessionId).toBe('A3');
    }
  });

  it('rejects WBXML 1.0 and unknown versions', () => {
    expect(reason(() => decodeWbxml(message([], [0x00, 0xa4, 0x01, 0x6a, 0x00])))).toBe('unsupported-version');
    expect(reason(() => decodeWbxml(message([], [0x04, 0xa4, 0x01, 0x6a, 0x00])))).toBe('unsupported-version');
  });

  it('accepts numeric public ids 0x1201, 0x1202, 0x1203 and SyncML 1.1 (0x0FD3)', () => {
    for (const id of [
      [0xa4, 0x01],
      [0xa4, 0x02],
      [0xa4, 0x03],
      [0x9f, 0x53],
    ]) {
      expect(decodeWbxml(message([], [0x02, ...id, 0x6a, 0x00])).final).toBe(true);
    }
  });

  it('rejects a foreign numeric public id', () => {
    expect(reason(() => decodeWbxml(message([], [0x02, 0x05, 0x6a, 0x00])))).toBe('not-syncml');
  });

  it('accepts public id 0x00 + string-table index of the SyncML 1.2 or 1.1 FPI (Samsung form)', () => {
    for (const fpi of [FPI12, FPI11]) {
      const table = Buffer.from(`${fpi}\0`);
      expect(decodeWbxml(message([], [0x02, 0x00, 0x00, 0x6a, table.length, table])).final).toBe(true);
    }
    const table = Buffer.from(`other\0${FPI12}\0`);
    expect(decodeWbxml(message([], [0x02, 0x00, 6, 0x6a, table.length, table])).final).toBe(true);
  });

  it('reads a handset Pkg1 whose 29-byte string table holds the FPI without a terminating NUL', () => {
    // Exact bytes of the report: public id 0, index 0, UTF-8, table length 0x1D, FPI, Pkg1 body (libwbxml reads them).
    const input = fixtureHex('example-a.fpi-no-nul.wbxml.hex');
    expect(input.subarray(0, 5)).toEqual(Buffer.from([0x02, 0x00, 0x00, 0x6a, 29]));
    expect(input.subarray(5, 5 + 29).toString('latin1')).toBe(FPI12);
    expect(input[5 + 29]).not.toBe(0x00);
    expect(decodeWbxml(input)).toEqual(exampleA);
  });

  it('rejects a string-table public id that is not SyncML, or that points outside the table', () => {
    const other = Buffer.from('-//WAPFORUM//DTD WML 1.1//EN\0');
    expect(reason(() => decodeWbxml(message([], [0x02, 0x00, 0x00, 0x6a, other.length, other])))).toBe('not-syncml');
    const table = Buffer.from(`${FPI12}\0`);
    expect(reason(() => decodeWbxml(message([], [0x02, 0x00, 0x7f, 0x6a, table.length, table])))).toBe(
      'bad-string-table-offset',
    );
  });

  it('rejects an unsupported charset and reads ISO-8859-1 strings when declared', () => {
    expect(reason(() => decodeWbxml(message([], [0x02, 0xa4, 0x01, 0x07, 0x00])))).toBe('bad-encoding');
    const hdr = header();
    const latin = bytes(
      [0x02, 0xa4, 0x01, 0x04, 0x00],
      el(T.SyncML, hdr, el(T.SyncBody, el(T.Replace, el(T.CmdID, strI('1')), el(T.Item, el(T.Data, 0x03, 0xe9, 0x00)))))
    );
    const msg = decodeWbxml(latin);
    expect(msg.body[0]?.kind === 'Replace' && msg.body[0].items[0]?.data).toBe('é');
  });

  it('rejects mb_u_int32 values longer than 5 bytes or above 32 bits', () => {
    expect(reason(() => decodeWbxml(message([], [0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x6a, 0x00])))).toBe(
      'bad-mb-uint32',
    );
    expect(reason(() => decodeWbxml(message([], [0x02, 0x90, 0x80, 0x80, 0x80, 0x00, 0x6a, 0x00])))).toBe(
      'bad-mb-uint32',
    );
  });
});

describe('WBXML body tokens', () => {
  it('reads STR_T strings from the string table', () => {
    const table = Buffer.from('IMEI:99\0./a\0');
    const head = [0x03, 0xa4, 0x01, 0x6a, table.length, table];
    const hdr = el(
      T.SyncHdr,
      el(T.VerDTD, strI('1.2')),
      el(T.VerProto, strI('DM/1.2')),
      el(T.SessionID, strI('1')),
      el(T.MsgID, strI('1')),
      el(T.Target, el(T.LocURI, strI('srv'))),
      el(T.Source, el(T.LocURI, 0x83, 0x00)),
    );
    const msg = decodeWbxml(message([el(T.Replace, el(T.CmdID, strI('2')), el(T.Item, el(T.Data, 0x83, 8)))], head, hdr));
    expect(msg.header.source.locUri).toBe('IMEI:99');
    expect(msg.body[0]?.kind === 'Replace' && msg.body[0].items[0]?.data).toBe('./a');
  });

  it('rejects STR_T offsets outside the table, and reads a last entry that ends at the table end without NUL', () => {
    const table = Buffer.from('abc\0def');
    const head = [0x03, 0xa4, 0x01, 0x6a, table.length, table];
    const item = (off: number) => message([el(T.Replace, el(T.CmdID, strI('2')), el(T.Item, el(T.Data, 0x83, off)))], head);
    expect(reason(() => decodeWbxml(item(7)))).toBe('bad-string-table-offset');
    expect(reason(() => decodeWbxml(item(200)))).toBe('bad-string-table-offset');
    expect(decodeWbxml(item(4)).body[0]).toMatchObject({ items: [{ data: 'def' }] });
    expect(decodeWbxml(item(6)).body[0]).toMatchObject({ items: [{ data: 'f' }] });
    expect(decodeWbxml(item(1)).body[0]).toMatchObject({ items: [{ data: 'bc' }] });
  });

  it('decodes OPAQUE Item Data as a Buffer (copied, not aliasing the input)', () => {
    const payload = Buffer.from([0x00, 0x01, 0xfe, 0xff]);
    const input = message([el(T.Replace, el(T.CmdID, strI('2')), el(T.Item, el(T.Data, opaque(payload))))]);
    const msg = decodeWbxml(input);
    const data = msg.body[0]?.kind === 'Replace' ? msg.body[0].items[0]?.data : undefined;
    expect(Buffer.isBuffer(data)).toBe(true);
    expect(data).toEqual(payload);
    input.fill(0);
    expect(data).toEqual(payload);
  });

  it('returns OPAQUE NextNonce base64-encoded, and reads OPAQUE numbers and URIs as text', () => {
    const nonce = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x10]);
    const status = el(
      T.Status,
      el(T.CmdID, opaque('1')),
      el(T.MsgRef, strI('1')),
      el(T.CmdRef, strI('0')),
      el(T.Cmd, strI('SyncHdr')),
      el(T.Chal, el(T.Meta, 0x00, 0x01, el(T.Type, strI('syncml:auth-md5')), el(T.NextNonce, opaque(nonce)))),
      0x00,
      0x00,
      el(T.Data, opaque('401')),
    );
    const msg = decodeWbxml(message([status]));
    expect(msg.body[0]).toEqual({
      kind: 'Status',
      cmdId: 1,
      msgRef: 1,
      cmdRef: 0,
      cmd: 'SyncHdr',
      targetRefs: [],
      sourceRefs: [],
      chal: { meta: { type: 'syncml:auth-md5', nextNonce: nonce.toString('base64') } },
      data: 401,
      items: [],
    });
  });

  it('turns OPAQUE Cred Data into text when printable ASCII, base64 otherwise', () => {
    const cred = (d: Buffer) =>
      decodeWbxml(
        message(
          [],
          STD_HEAD,
          el(
            T.SyncHdr,
            el(T.VerDTD, strI('1.2')),
            el(T.VerProto, strI('DM/1.2')),
            el(T.SessionID, strI('1')),
            el(T.MsgID, strI('1')),
            el(T.Target, el(T.LocURI, strI('s'))),
            el(T.Source, el(T.LocURI, strI('d'))),
            el(T.Cred, el(T.Data, opaque(d))),
          ),
        ),
      ).header.cred?.data;
    expect(cred(Buffer.from('Zz6EivR3yeaaENcRN6lpAQ=='))).toBe('Zz6EivR3yeaaENcRN6lpAQ==');
    const digest = Buffer.from('673e848af477c9e69a10d71137a96901', 'hex');
    expect(cred(digest)).toBe('Zz6EivR3yeaaENcRN6lpAQ==');
  });

  it('expands ENTITY tokens and rejects non-characters', () => {
    const msg = (ent: number[]) =>
      message([el(T.Replace, el(T.CmdID, strI('2')), el(T.Item, el(T.Data, strI('caf'), 0x02, ...ent)))]);
    expect(decodeWbxml(msg([0x81, 0x69])).body[0]).toMatchObject({ items: [{ data: 'café' }] });
    expect(reason(() => decodeWbxml(msg([0x83, 0xb0, 0x00])))).toBe('bad-entity'); // 0xD800
  });

  it('rejects tags with attributes', () => {
    expect(reason(() => decodeWbxml(message([0x80 | 0x40 | T.Replace, 0x01, 0x01])))).toBe('attribute');
  });

  it('rejects unknown tags, other code pages and unsupported global tokens', () => {
    expect(reason(() => decodeWbxml(message([0x30])))).toBe('unknown-token'); // unassigned on page 0
    expect(reason(() => decodeWbxml(message([0x00, 0x02, 0x05])))).toBe('unknown-token'); // DDF page 2
    expect(reason(() => decodeWbxml(message([0x00, 0x01, 0x3f])))).toBe('unknown-token'); // page 1 hole
    for (const g of [0x04, 0x40, 0x43, 0x80, 0xc0, 0xc4]) {
      expect(reason(() => decodeWbxml(message([el(T.Replace, el(T.CmdID, strI('2')), el(T.Item, el(T.Data, g, 0x00)))])))).toBe(
        'unknown-token',
      );
    }
  });

  it('rejects bytes after the root element, text before it, and a non-SyncML root', () => {
    expect(reason(() => decodeWbxml(Buffer.concat([message(), Buffer.from([0x00])])))).toBe('malformed');
    expect(reason(() => decodeWbxml(bytes(STD_HEAD, strI('x'), el(T.SyncML))))).toBe('malformed');
    expect(reason(() => decodeWbxml(bytes(STD_HEAD, el(T.SyncHdr))))).toBe('not-syncml');
  });
});
