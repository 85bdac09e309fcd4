/**
 * The DM account a bootstrap installs (notes §9: DMAcc MO,
 * urn:oma:mo:oma-dm-dmacc:1.0), as a typed list of nodes under ./DMAcc/<X>.
 *
 * Pure: no I/O, no clock, no randomness (nonces come from the caller, so the
 * same input always yields the same tree and the same MAC).
 *
 * Node names where the MO leaves them free (<X> placeholders):
 * - the account itself: `accountName`, default `dmwsi`;
 * - AppAddr/1: one server address, named as the simulator's template and
 *   most handsets' factory accounts name it;
 * - AppAuth/CLCRED and AppAuth/SRVCRED: named after their AAuthLevel, which
 *   the simulator relies on to make secrets and nonces Replace-only.
 */
import type { DeviceAuthType } from '../auth/credentials.js';

export const DMACC_MOID = 'urn:oma:mo:oma-dm-dmacc:1.0';
export const DEFAULT_ACCOUNT_NAME = 'dmwsi';

/** AAuthType / AAuthPref names (notes §3) for the device's auth scheme. */
export type AAuthTypeName = 'BASIC' | 'DIGEST' | 'HMAC';
export const AAUTH_TYPE_NAME: Readonly<Record<DeviceAuthType, AAuthTypeName>> = Object.freeze({
  basic: 'BASIC',
  md5: 'DIGEST',
  hmac: 'HMAC',
});

export interface DmAccountInput {
  /** DMAcc ServerID; also SRVCRED AAuthName (libdmclient digests Package#0 with it, notes §4). */
  serverId: string;
  /** The DM server URL the device opens sessions to (PUBLIC_DM_URL). */
  serverAddress: string;
  /** The `<X>` under ./DMAcc; default `dmwsi`. */
  accountName?: string;
  authType: DeviceAuthType;
  clientUsername: string;
  clientPassword: string;
  serverPassword: string;
  /** CLCRED AAuthData, base64: the nonce of the device's first credentials. */
  clientNonce: string;
  /** SRVCRED AAuthData, base64: the nonce of the first Package#0 digest / server Cred. */
  serverNonce: string;
  /** Optional display name (Name leaf). */
  name?: string;
}

export interface DmAccountInteriorNode {
  uri: string;
  format: 'node';
  /** The MOID, on the account root only. */
  type?: string;
}

export interface DmAccountChrLeaf {
  uri: string;
  format: 'chr';
  value: string;
}

export interface DmAccountBinLeaf {
  uri: string;
  format: 'bin';
  /** Base64 of the bytes (the message carries them decoded, as WBXML OPAQUE). */
  value: string;
}

export type DmAccountNode = DmAccountInteriorNode | DmAccountChrLeaf | DmAccountBinLeaf;

export interface DmAccountTree {
  accountName: string;
  /** `./DMAcc/<accountName>` */
  root: string;
  serverId: string;
  serverAddress: string;
  authType: DeviceAuthType;
  /** Every node, parents before their children: the order the Adds must run in. */
  nodes: readonly DmAccountNode[];
}

/**
 * Builds the account tree. Throws TypeError/RangeError on input a device
 * could not use (empty ids or secrets, a non-http(s) address, a nonce that is
 * not base64, an account name that is not one URI segment): a bootstrap
 * cannot be corrected once the device has applied it.
 */
export function buildDmAccount(input: DmAccountInput): DmAccountTree {
  const accountName = input.accountName ?? DEFAULT_ACCOUNT_NAME;
  checkSegment(accountName);
  for (const key of ['serverId', 'clientUsername', 'clientPassword', 'serverPassword'] as const) {
    if (typeof input[key] !== 'string' || input[key] === '') throw new TypeError(`${key} must be a non-empty string`);
  }
  checkServerAddress(input.serverAddress);
  checkNonce('clientNonce', input.clientNonce);
  checkNonce('serverNonce', input.serverNonce);
  const typeName = AAUTH_TYPE_NAME[input.authType];
  if (typeName === undefined) throw new RangeError(`unknown authType ${JSON.stringify(input.authType)}`);

  const x = `./DMAcc/${accountName}`;
  const nodes: DmAccountNode[] = [];
  const node = (uri: string, type?: string) =>
    nodes.push(type === undefined ? { uri, format: 'node' } : { uri, format: 'node', type });
  const chr = (uri: string, value: string) => nodes.push({ uri, format: 'chr', value });
  const bin = (uri: string, value: string) => nodes.push({ uri, format: 'bin', value });

  node(x, DMACC_MOID);
  chr(`${x}/AppID`, 'w7');
  chr(`${x}/ServerID`, input.serverId);
  if (input.name !== undefined && input.name !== '') chr(`${x}/Name`, input.name);
  node(`${x}/AppAddr`);
  node(`${x}/AppAddr/1`);
  chr(`${x}/AppAddr/1/Addr`, input.serverAddress);
  chr(`${x}/AppAddr/1/AddrType`, 'URI');
  chr(`${x}/AAuthPref`, typeName);
  node(`${x}/AppAuth`);
  // Both directions use the same scheme: the device answers a server Cred
  // with the type it was told to prefer, and the gateway stores one type.
  const auth = (level: 'CLCRED' | 'SRVCRED', name: string, secret: string, nonce: string) => {
    const a = `${x}/AppAuth/${level}`;
    node(a);
    chr(`${a}/AAuthLevel`, level);
    chr(`${a}/AAuthType`, typeName);
    chr(`${a}/AAuthName`, name);
    chr(`${a}/AAuthSecret`, secret);
    bin(`${a}/AAuthData`, nonce);
  };
  auth('CLCRED', input.clientUsername, input.clientPassword, input.clientNonce);
  auth('SRVCRED', input.serverId, input.serverPassword, input.serverNonce);

  return {
    accountName,
    root: x,
    serverId: input.serverId,
    serverAddress: input.serverAddress,
    authType: input.authType,
    nodes,
  };
}

// Linear: anchored; groups of exactly four, then a bounded tail.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkNonce(key: string, b64: string): void {
  // Empty would install "no nonce": the first digest would then be computed
  // over nothing, which the notes' ≥128-bit nonce rule forbids.
  if (typeof b64 !== 'string' || b64 === '' || !BASE64.test(b64)) {
    throw new TypeError(`${key} must be non-empty base64`);
  }
}

function checkServerAddress(address: string): void {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new TypeError(`serverAddress is not a URL: ${JSON.stringify(address)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`serverAddress must be http or https, got ${url.protocol}`);
  }
}

function checkSegment(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/?#\s]/.test(name)) {
    throw new RangeError(`accountName must be one URI segment: ${JSON.stringify(name)}`);
  }
}
