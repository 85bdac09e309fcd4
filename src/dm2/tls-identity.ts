/**
 * DM 2.0 devices may authenticate in TLS itself (contract; notes §7 "TLS
 * only (TLS 1.1, PSK-TLS or X.509)"):
 *
 * - X.509: with DM2_CLIENT_CA set, the HTTPS server asks every client for a
 *   certificate (and takes connections without one: SOAP callers and Basic/
 *   Digest devices); a certificate that chains to that CA names its device
 *   by its subject CN, which must be the device id (`IMEI:…`).
 * - PSK-TLS (DM2_PSK=true; TLS 1.3 with TLS_AES_128_GCM_SHA256, the suite
 *   whose hash Node's PSK callback keys are used with, or TLS 1.2 PSK suites;
 *   a resumed TLS session carries no PSK identity, so a PSK device does not
 *   resume sessions): the PSK identity is the device id, and its key
 *   is derived from the gateway key and that id (HKDF-SHA256, 32 bytes):
 *   per device, known to the gateway without a lookup (Node's `pskCallback`
 *   must answer synchronously, before any database could), given to the
 *   device when it is provisioned (`dm2PskKey`). A device whose key must
 *   change needs a new gateway key; that is the price of a stateless key.
 *
 * Either identity authenticates `/dm2` requests of that device only: the
 * OMADM-DevID header must name it (else 403).
 */
import crypto from 'node:crypto';
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';

const PSK_LABEL = 'dmwsi dm2 psk v1';
/** PSK identities longer than this are refused (device ids are far shorter). */
const MAX_IDENTITY = 128;
const PSK_IDENTITY = Symbol('dm2PskIdentity');

export type TlsIdentity = { kind: 'psk' | 'certificate'; deviceId: string };

/** The PSK a device uses with identity `deviceId`. */
export function dm2PskKey(gatewayKey: Buffer, deviceId: string): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', gatewayKey, Buffer.from(deviceId, 'utf8'), PSK_LABEL, 32));
}

/** Options for the HTTPS server (added to its certificate and key). */
export function dm2TlsServerOptions(o: { gatewayKey: Buffer; clientCa?: Buffer; psk: boolean }): tls.TlsOptions {
  const out: tls.TlsOptions = {};
  if (o.clientCa !== undefined) {
    out.requestCert = true;
    // Clients without a certificate (SOAP, Basic/Digest devices) still connect; /dm2 checks `authorized`.
    out.rejectUnauthorized = false;
    out.ca = o.clientCa;
  }
  if (o.psk) {
    // A PSK suite in the list turns PSK on for TLS 1.2; TLS 1.3 uses the callback with its own suites.
    out.ciphers = `PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256:${tls.DEFAULT_CIPHERS}`;
    out.pskCallback = (socket: TLSSocket, identity: string) => {
      if (identity.length === 0 || identity.length > MAX_IDENTITY) return null;
      (socket as TLSSocket & { [PSK_IDENTITY]?: string })[PSK_IDENTITY] = identity;
      return dm2PskKey(o.gatewayKey, identity);
    };
  }
  return out;
}

/** Who the TLS connection says the client is, if anyone. */
export function tlsIdentityOf(socket: Socket): TlsIdentity | undefined {
  const s = socket as TLSSocket & { [PSK_IDENTITY]?: string };
  if (s.encrypted !== true) return undefined;
  // The callback runs when a client offers a PSK, before the key is proven: OpenSSL may then drop the
  // PSK (a TLS 1.3 suite whose hash does not match it) and finish with a certificate handshake. The
  // identity counts only when the PSK handshake happened, which OpenSSL reports as a resumption.
  const psk = s[PSK_IDENTITY];
  if (psk !== undefined && s.isSessionReused()) return { kind: 'psk', deviceId: psk };
  if (!s.authorized) return undefined;
  const cn = s.getPeerCertificate()?.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return typeof name === 'string' && name !== '' ? { kind: 'certificate', deviceId: name } : undefined;
}
