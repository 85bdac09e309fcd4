import { describe, expect, it } from 'vitest';
import { formatHmacHeader, parseHmacHeader } from '../../../../src/dm/auth/credentials.js';

describe('x-syncml-hmac header', () => {
  it('round-trips through format and parse', () => {
    const h = { algorithm: 'MD5', username: 'Bruce2', mac: 'Zz6EivR3yeaaENcRN6lpAQ==' };
    const text = formatHmacHeader(h);
    expect(text).toBe('algorithm=MD5, username="Bruce2", mac=Zz6EivR3yeaaENcRN6lpAQ==');
    expect(parseHmacHeader(text)).toEqual(h);
  });

  it('defaults the algorithm to MD5 when absent', () => {
    expect(parseHmacHeader('username="u", mac=abc=')).toEqual({ algorithm: 'MD5', username: 'u', mac: 'abc=' });
  });

  it('accepts unquoted values, any order, odd spacing and name case', () => {
    expect(parseHmacHeader('  MAC = x+/= ,username=dev1 ,  Algorithm=md5 ')).toEqual({
      algorithm: 'MD5',
      username: 'dev1',
      mac: 'x+/=',
    });
  });

  it('keeps commas and escaped quotes inside a quoted username', () => {
    const text = formatHmacHeader({ username: 'a,"b"', mac: 'm' });
    expect(parseHmacHeader(text)).toEqual({ algorithm: 'MD5', username: 'a,"b"', mac: 'm' });
  });

  it.each([
    ['empty', ''],
    ['missing mac', 'algorithm=MD5, username="u"'],
    ['missing username', 'algorithm=MD5, mac=abc'],
    ['empty username', 'username="", mac=abc'],
    ['unknown parameter', 'username="u", mac=abc, realm=x'],
    ['repeated parameter', 'username="u", mac=abc, mac=def'],
    ['trailing comma', 'username="u", mac=abc,'],
    ['stray text', 'username="u" mac=abc'],
    ['unterminated quote', 'username="u, mac=abc'],
    ['no equals sign', 'username, mac=abc'],
  ])('rejects a header with %s', (_label, value) => {
    expect(parseHmacHeader(value)).toBeUndefined();
  });
});
