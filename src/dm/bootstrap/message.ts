/**
 * The DM bootstrap message (notes §9): a normal SyncML DM message from the
 * server, sent outside any session, WBXML only, signed through SEC/MAC
 * parameters of its content type. The device applies it and does not reply;
 * its first client-initiated session is the acknowledgement.
 *
 * Pure: building and signing need no I/O (delivery.ts sends it).
 *
 * Shape: one Add per node of the account, parents first, so the message does
 * not depend on a device creating parents implicitly (notes §1 only says it
 * may). Interior nodes carry Format `node` (the root also the DMAcc MOID as
 * Type); leaves carry Format `chr`, or `bin` with the bytes as Item Data
 * (written as WBXML OPAQUE). Plain Adds, not an Atomic: the notes call the
 * bootstrap "typically Add", and a handset's bootstrap agent applies the
 * whole message or rejects it on the MAC anyway.
 */
import { encodeSyncMl } from '../codec/index.js';
import type { ItemCommand, SyncMlMessage } from '../codec/types.js';
import type { DmAccountTree } from './dmacc.js';
import { type BootstrapSec, bootstrapContentType, bootstrapKey, bootstrapMac } from './security.js';

export interface BootstrapAddressing {
  /** SessionID of the message; the device does not answer it, so any 1..4 hex digits do. */
  sessionId: string;
  /** Source LocURI: the ServerID the account installs. */
  serverId: string;
  /** Target LocURI: the device id (`IMEI:…`). */
  deviceId: string;
}

export interface BootstrapSecurity {
  sec: BootstrapSec;
  /** NETWORKID / USERPIN_NETWORKID: an IMSI (6..15 digits, SIM semi-octet key) or another network id. */
  networkId?: string | Buffer;
  /** USERPIN / USERPIN_NETWORKID. */
  pin?: string;
}

export interface EncodedBootstrap {
  /** The exact WBXML bytes the MAC covers: send them unchanged. */
  body: Buffer;
  /** `application/vnd.syncml.dm+wbxml; SEC=…; MAC=…` */
  contentType: string;
}

export function buildBootstrapMessage(account: DmAccountTree, addressing: BootstrapAddressing): SyncMlMessage {
  for (const key of ['sessionId', 'serverId', 'deviceId'] as const) {
    if (typeof addressing[key] !== 'string' || addressing[key] === '') {
      throw new TypeError(`${key} must be a non-empty string`);
    }
  }
  const body = account.nodes.map((n, i): ItemCommand => {
    const target = { locUri: n.uri };
    const cmdId = i + 1;
    // Meta in the Item, as for every Add we send: common clients read only Item Meta.
    if (n.format === 'node') {
      const meta = n.type === undefined ? { format: 'node' } : { format: 'node', type: n.type };
      return { kind: 'Add', cmdId, items: [{ target, meta }] };
    }
    const data = n.format === 'bin' ? Buffer.from(n.value, 'base64') : n.value;
    return { kind: 'Add', cmdId, items: [{ target, meta: { format: n.format }, data }] };
  });
  return {
    header: {
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: addressing.sessionId,
      msgId: 1,
      target: { locUri: addressing.deviceId },
      source: { locUri: addressing.serverId },
    },
    body,
    final: true,
  };
}

/**
 * Encodes to WBXML and signs: MAC = HMAC-SHA1(key, wbxml) with the key of the
 * SEC method (security.ts). Throws TypeError when the method's secret is
 * missing, before anything could be sent unsigned.
 */
export function encodeBootstrap(msg: SyncMlMessage, security: BootstrapSecurity): EncodedBootstrap {
  const key = bootstrapKey(security.sec, {
    ...(security.networkId !== undefined && { imsiOrNetworkId: security.networkId }),
    ...(security.pin !== undefined && { pin: security.pin }),
  });
  const body = encodeSyncMl(msg, 'wbxml');
  return { body, contentType: bootstrapContentType(security.sec, bootstrapMac(key, body)) };
}
