/**
 * DM 1.2 device paths (`./DevInfo/Mod`, what operations name) and DM 2.0
 * ClientURIs (`MOID/MIID/path`, notes §7), both ways. The table of MOs with a
 * fixed place is in constants.ts (an unconfirmed choice).
 */
import { CLIENT_URI_MOIDS } from './constants.js';

const ROOT_OF_MOID = new Map(Object.entries(CLIENT_URI_MOIDS).map(([root, moid]) => [moid, root]));

/** `./DevInfo/Mod` → `urn:oma:mo:oma-dm-devinfo:1.0//Mod`; a path under no known MO is sent as written. */
export function toClientUri(path: string): string {
  if (!path.startsWith('./')) return path;
  const rest = path.slice(2);
  const slash = rest.indexOf('/');
  const root = slash === -1 ? rest : rest.slice(0, slash);
  const moid = CLIENT_URI_MOIDS[root];
  if (moid === undefined) return path;
  return `${moid}//${slash === -1 ? '' : rest.slice(slash + 1)}`;
}

/**
 * The device path a ClientURI names (the simulator's side): `MOID//path` of a
 * known MO → `./<root>/path`; a `./…` path as is; anything else undefined.
 */
export function toDevicePath(clientUri: string): string | undefined {
  if (clientUri.startsWith('./') || clientUri === '.') return clientUri;
  const sep = clientUri.indexOf('//');
  if (sep === -1) return undefined;
  const root = ROOT_OF_MOID.get(clientUri.slice(0, sep));
  if (root === undefined) return undefined;
  const rest = clientUri.slice(sep + 2).replace(/\/+$/, '');
  return rest === '' ? `./${root}` : `./${root}/${rest}`;
}
