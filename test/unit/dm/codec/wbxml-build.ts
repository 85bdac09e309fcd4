/** Tiny helpers to hand-assemble WBXML test inputs. */

export type Part = number | string | Buffer | readonly Part[];

/** Bytes of numbers (one byte each), strings (UTF-8, no terminator) and buffers. */
export function bytes(...parts: Part[]): Buffer {
  const out: Buffer[] = [];
  const walk = (p: Part): void => {
    if (typeof p === 'number') out.push(Buffer.from([p]));
    else if (typeof p === 'string') out.push(Buffer.from(p, 'utf8'));
    else if (Buffer.isBuffer(p)) out.push(p);
    else for (const q of p as readonly Part[]) walk(q);
  };
  for (const p of parts) walk(p);
  return Buffer.concat(out);
}

/** STR_I with terminator. */
export function strI(s: string): Part[] {
  return [0x03, s, 0x00];
}

/** OPAQUE with a one-byte length (< 128). */
export function opaque(b: Buffer | string): Part[] {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b);
  if (buf.length >= 128) throw new Error('short opaque only');
  return [0xc3, buf.length, buf];
}

/** Page-0 element with text content: tag|0x40, content, END. */
export function el(token: number, ...content: Part[]): Part[] {
  return [token | 0x40, ...content, 0x01];
}

export const T = {
  SyncML: 0x2d,
  SyncHdr: 0x2c,
  SyncBody: 0x2b,
  VerDTD: 0x31,
  VerProto: 0x32,
  SessionID: 0x25,
  MsgID: 0x1b,
  Target: 0x2e,
  Source: 0x27,
  LocURI: 0x17,
  Final: 0x12,
  Cred: 0x0e,
  Meta: 0x1a,
  Data: 0x0f,
  Replace: 0x20,
  CmdID: 0x0b,
  Item: 0x14,
  Status: 0x29,
  MsgRef: 0x1c,
  CmdRef: 0x0c,
  Cmd: 0x0a,
  Chal: 0x09,
  // page 1
  Format: 0x07,
  NextNonce: 0x10,
  Type: 0x13,
} as const;

/** A SyncHdr with the given MsgID content (default STR_I "1"). */
export function header(msgId: Part[] = strI('1')): Part[] {
  return el(
    T.SyncHdr,
    el(T.VerDTD, strI('1.2')),
    el(T.VerProto, strI('DM/1.2')),
    el(T.SessionID, strI('A3')),
    el(T.MsgID, msgId),
    el(T.Target, el(T.LocURI, strI('https://dm.example.com/dm'))),
    el(T.Source, el(T.LocURI, strI('IMEI:1'))),
  );
}

/** Standard header bytes: version, public id 0x1201, UTF-8, empty string table. */
export const STD_HEAD: Part[] = [0x03, 0xa4, 0x01, 0x6a, 0x00];

/** A whole message: head + SyncML(header, SyncBody(body..., Final)). */
export function message(body: Part[] = [], head: Part[] = STD_HEAD, hdr: Part[] = header()): Buffer {
  return bytes(head, el(T.SyncML, hdr, el(T.SyncBody, body, T.Final)));
}
