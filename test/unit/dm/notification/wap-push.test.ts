import { describe, expect, it } from 'vitest';
import { buildTrigger } from '../../../../src/dm/notification/package0.js';
import {
  APPLICATION_ID_SYNCML_DM,
  buildWapPush,
  buildWspPush,
  CONTENT_TYPE_DM_NOTIFICATION,
  MAX_WDP_WSP_HEADER,
  parseWapPush,
  SMS_USER_DATA_MAX,
  WapPushParseError,
} from '../../../../src/dm/notification/wap-push.js';

const trigger = (serverId: string, vendor = Buffer.alloc(0)) =>
  buildTrigger({
    uiMode: 'background',
    initiator: 'server',
    sessionId: 0x1a,
    serverId,
    vendorSpecific: vendor,
    serverDigestSecret: { serverId, password: 'pw' },
    nonce: Buffer.alloc(16, 7),
  });

describe('WAP Push for Package#0', () => {
  it('writes the WSP push header: TID, 0x06, length 3, C4 AF 87', () => {
    const pdu = buildWspPush(Buffer.from('body'), 0x2a);
    expect(pdu.subarray(0, 6).toString('hex')).toBe('2a0603c4af87');
  });

  it('fits a small trigger in one SMS with a ports-only UDH', () => {
    const body = trigger('dm.example.com');
    const segments = buildWapPush(body);
    expect(segments).toHaveLength(1);
    const [s] = segments;
    expect(s!.udh.toString('hex')).toBe('0605040b8423f0'); // 2948 ← 9200
    expect(s!.full).toEqual(Buffer.concat([s!.udh, s!.payload]));
    expect(s!.full.length).toBeLessThanOrEqual(SMS_USER_DATA_MAX);
  });

  it('round-trips a single segment', () => {
    const body = trigger('dm.example.com');
    expect(parseWapPush(buildWapPush(body))).toEqual({
      transactionId: 0,
      contentType: CONTENT_TYPE_DM_NOTIFICATION,
      applicationId: APPLICATION_ID_SYNCML_DM,
      destinationPort: 2948,
      sourcePort: 9200,
      body,
    });
  });

  it('segments a long trigger with concatenation headers and reassembles in any order', () => {
    const body = trigger('dm.example.com', Buffer.alloc(300, 0x5a));
    const segments = buildWapPush(body, { reference: 0x42, transactionId: 3 });
    expect(segments.length).toBe(3);
    segments.forEach((s, i) => {
      expect(s.full.length).toBeLessThanOrEqual(SMS_USER_DATA_MAX);
      expect(s.udh.toString('hex')).toBe(`0b05040b8423f0000342${'03'}0${i + 1}`);
    });
    const parsed = parseWapPush([segments[2]!, segments[0]!.full, segments[1]!]);
    expect(parsed.body).toEqual(body);
    expect(parsed.transactionId).toBe(3);
  });

  it('keeps WDP + WSP headers within 48 bytes', () => {
    const body = trigger('dm.example.com', Buffer.alloc(300));
    const [first] = buildWapPush(body);
    const wspHeader = buildWspPush(Buffer.alloc(0)).length; // TID, type, length, C4 AF 87
    expect(first!.payload.subarray(0, wspHeader)).toEqual(buildWspPush(Buffer.alloc(0)));
    expect(first!.udh.length + wspHeader).toBeLessThanOrEqual(MAX_WDP_WSP_HEADER);
  });

  it('picks the same default reference for the same trigger', () => {
    const body = trigger('dm.example.com', Buffer.alloc(200));
    expect(buildWapPush(body)[0]!.udh).toEqual(buildWapPush(body)[0]!.udh);
  });

  it('rejects missing, foreign or repeated segments', () => {
    const a = buildWapPush(trigger('a.example', Buffer.alloc(300)), { reference: 1 });
    const b = buildWapPush(trigger('b.example', Buffer.alloc(300)), { reference: 2 });
    expect(() => parseWapPush(a.slice(0, 2))).toThrow(WapPushParseError);
    expect(() => parseWapPush([a[0]!, b[1]!, a[2]!])).toThrow(/different messages/);
    expect(() => parseWapPush([a[0]!, a[0]!, a[2]!])).toThrow(/repeated/);
    expect(() => parseWapPush([])).toThrow(WapPushParseError);
  });

  it('rejects a PDU that is not a WSP push', () => {
    const full = Buffer.concat([Buffer.from('0605040b8423f0', 'hex'), Buffer.from('00070344af87', 'hex')]);
    expect(() => parseWapPush([full])).toThrow(/not a WSP Push/);
  });

  it('reads text content types and text application ids from other senders', () => {
    const headers = Buffer.concat([
      Buffer.from(`${CONTENT_TYPE_DM_NOTIFICATION}\0`),
      Buffer.from([0xaf]),
      Buffer.from(`${APPLICATION_ID_SYNCML_DM}\0`),
    ]);
    const pdu = Buffer.concat([Buffer.from([9, 0x06, headers.length]), headers, Buffer.from('x')]);
    const full = Buffer.concat([Buffer.from('0605040b8423f0', 'hex'), pdu]);
    expect(parseWapPush([full])).toMatchObject({
      transactionId: 9,
      contentType: CONTENT_TYPE_DM_NOTIFICATION,
      applicationId: APPLICATION_ID_SYNCML_DM,
      body: Buffer.from('x'),
    });
  });
});
