import { describe, expect, it } from 'vitest';
import {
  contentTypeFor,
  encodedSize,
  encodeSyncMl,
  encodingForContentType,
  parseSyncMl,
  SyncMlDecodeError,
} from '../../../../src/dm/codec/index.js';
import { encodeWbxml } from '../../../../src/dm/codec/wbxml-codec.js';
import { encodeXml } from '../../../../src/dm/codec/xml-codec.js';
import { everyCommand, exampleA } from './messages.js';

describe('parseSyncMl chooses the codec by media type', () => {
  it('reads XML for the DM and DS XML types, ignoring parameters and case', () => {
    const xml = encodeXml(exampleA);
    for (const ct of [
      'application/vnd.syncml.dm+xml',
      'application/vnd.syncml+xml',
      'Application/VND.SyncML.DM+XML; charset=utf-8',
      ' application/vnd.syncml.dm+xml ;charset="UTF-8"',
    ]) {
      expect(parseSyncMl(xml, ct)).toEqual({ message: exampleA, encoding: 'xml' });
    }
  });

  it('reads WBXML for the DM and DS WBXML types', () => {
    const wb = encodeWbxml(exampleA);
    for (const ct of ['application/vnd.syncml.dm+wbxml', 'application/vnd.syncml+wbxml', 'APPLICATION/VND.SYNCML.DM+WBXML;q=1']) {
      expect(parseSyncMl(wb, ct)).toEqual({ message: exampleA, encoding: 'wbxml' });
    }
  });

  it('rejects other media types with unsupported-media-type', () => {
    for (const ct of ['text/xml', 'application/vnd.syncml.notification', '', 'application/vnd.syncml.dm+json']) {
      try {
        parseSyncMl(encodeXml(exampleA), ct);
        throw new Error('expected an error');
      } catch (e) {
        expect(e).toBeInstanceOf(SyncMlDecodeError);
        expect((e as SyncMlDecodeError).reason).toBe('unsupported-media-type');
      }
    }
    expect(encodingForContentType('application/xml')).toBeUndefined();
  });

  it('passes limits through', () => {
    expect(() => parseSyncMl(encodeXml(exampleA), 'application/vnd.syncml.dm+xml', { maxBytes: 10 })).toThrow(/too-large/);
  });
});

describe('encoding helpers', () => {
  it('contentTypeFor answers with the DM media types', () => {
    expect(contentTypeFor('xml')).toBe('application/vnd.syncml.dm+xml');
    expect(contentTypeFor('wbxml')).toBe('application/vnd.syncml.dm+wbxml');
  });

  it('encodeSyncMl dispatches to the right encoder', () => {
    expect(encodeSyncMl(exampleA, 'xml')).toEqual(encodeXml(exampleA));
    expect(encodeSyncMl(exampleA, 'wbxml')).toEqual(encodeWbxml(exampleA));
  });

  it('encodedSize is the encoded byte length, counting multi-byte UTF-8', () => {
    const msg = everyCommand();
    expect(encodedSize(msg, 'xml')).toBe(encodeXml(msg).length);
    expect(encodedSize(msg, 'wbxml')).toBe(encodeWbxml(msg).length);
    expect(encodeXml(msg).toString().length).toBeLessThan(encodedSize(msg, 'xml'));
  });
});
