/**
 * The DM commands of the firmware and software operations (FIRMWARE_UPDATE,
 * SOFTWARE_*) on the device's FUMO and SCOMO MOs, and the readings that
 * follow them (FwV after a firmware update, the SCOMO inventory). Pure: node
 * names and paths come from src/dm/mo; names derived from the task id are
 * deterministic, so a retried job means the same thing to the device.
 *
 * `fumoRoot` names the FUMO node itself (the interior node whose Type is
 * urn:oma:mo:oma-fumo:1.0, holding DownloadAndUpdate, State…), e.g. `./FUMO`;
 * `scomoRoot` the SCOMO root holding Download and Inventory, e.g. `./SCOMO`.
 */
import crypto from 'node:crypto';
import type { Content } from '../../domain/content.js';
import type { DeviceComponent, FumoDelivery } from '../../domain/registry.js';
import type { MoOperationName, Task } from '../../domain/tasks.js';
import { FUMO_MOID, fumoPaths, SCOMO_DEPLOYED_STATE, SCOMO_MOID, scomoPaths } from '../../dm/mo/index.js';
import type { CommandResult, ServerCommandSpec } from '../../dm/session/server-commands.js';

export interface MoRoots {
  fumoRoot?: string;
  scomoRoot?: string;
}

/** What planning a firmware/software task needs besides the task. */
export interface MoPlanContext extends MoRoots {
  /** FIRMWARE_UPDATE, SOFTWARE_INSTALL: the package and the URL the device fetches it from. */
  content?: Content;
  pkgUrl?: string;
  /** FIRMWARE_UPDATE: how the model's FUMO client takes firmware (absent: downloadAndUpdate). */
  fumoDelivery?: FumoDelivery;
  /** FIRMWARE_UPDATE inline: the package's bytes, base64 (at most INLINE_FUMO_MAX_BYTES). */
  pkgData?: string;
}

/** Which MO an operation runs on. */
export function moOf(name: MoOperationName): 'fumo' | 'scomo' {
  return name === 'FIRMWARE_UPDATE' ? 'fumo' : 'scomo';
}

const DEPLOYED_OPERATION = {
  SOFTWARE_ACTIVATE: 'Activate',
  SOFTWARE_DEACTIVATE: 'Deactivate',
  SOFTWARE_REMOVE: 'Remove',
} as const;

/** The Download/<X> node of a SOFTWARE_INSTALL: short (MaxSegLen) and derived from the task. */
export function scomoDownloadName(taskId: string): string {
  return `g${crypto.createHash('sha256').update(taskId).digest('hex').slice(0, 15)}`;
}

/**
 * The commands of a firmware/software task. Throws when its MO root or
 * package is missing: the caller checks both before planning.
 */
export function moOperationSpecs(task: Task, name: MoOperationName, ctx: MoPlanContext, correlator: string): ServerCommandSpec[] {
  const op = task.operation;
  if (name === 'FIRMWARE_UPDATE') {
    const p = fumoPaths(need(ctx.fumoRoot, 'fumoRoot'));
    switch (ctx.fumoDelivery ?? 'downloadAndUpdate') {
      case 'downloadThenUpdate':
        // The Update follows the Download's success alert (fumoUpdateSpecs).
        return [
          { verb: 'Replace', uri: p.downloadPkgUrl, data: need(ctx.pkgUrl, 'pkgUrl'), format: 'chr', type: 'text/plain' },
          { verb: 'Exec', uri: p.download, correlator },
        ];
      case 'inline':
        // A value past the device's MaxMsgSize goes as a Large Object, in chunks (the DM engine).
        return [
          { verb: 'Replace', uri: p.updatePkgData, data: need(ctx.pkgData, 'pkgData'), dataEncoding: 'base64', format: 'bin', type: 'application/octet-stream' },
          ...fumoUpdateSpecs(p.root, correlator),
        ];
      default:
        return [
          { verb: 'Replace', uri: p.downloadAndUpdatePkgUrl, data: need(ctx.pkgUrl, 'pkgUrl'), format: 'chr', type: 'text/plain' },
          { verb: 'Exec', uri: p.downloadAndUpdate, correlator },
        ];
    }
  }
  const p = scomoPaths(need(ctx.scomoRoot, 'scomoRoot'));
  switch (name) {
    case 'SOFTWARE_INSTALL': {
      const content = need(ctx.content, 'content');
      const x = scomoDownloadName(task.taskId);
      const leaf = (leafName: string, data: string): ServerCommandSpec => ({
        verb: 'Add',
        uri: `${p.downloadItem(x)}/${leafName}`,
        data,
        format: 'chr',
        type: 'text/plain',
      });
      return [
        { verb: 'Add', uri: p.downloadItem(x), format: 'node' },
        leaf('PkgID', content.contentId),
        leaf('Name', content.name),
        leaf('PkgURL', need(ctx.pkgUrl, 'pkgUrl')),
        { verb: 'Exec', uri: p.downloadOperation(x, op.activate === false ? 'DownloadInstallInactive' : 'DownloadInstall'), correlator },
      ];
    }
    case 'SOFTWARE_INVENTORY':
      return [{ verb: 'Get', uri: p.deployed }];
    default:
      return [{ verb: 'Exec', uri: p.deployedOperation(need(op.componentId, 'componentId'), DEPLOYED_OPERATION[name]), correlator }];
  }
}

/** The Exec of Update: after a downloadThenUpdate's Download succeeded, or after an inline PkgData. */
export function fumoUpdateSpecs(fumoRoot: string, correlator: string): ServerCommandSpec[] {
  return [{ verb: 'Exec', uri: fumoPaths(fumoRoot).update, correlator }];
}

/**
 * The largest package delivered inline (fumoDelivery inline): one object in
 * Update/PkgData, sent whole from memory and as a Large Object below the
 * simulated and most real clients' MaxObjSize (1 MiB, base64 in XML included).
 */
export const INLINE_FUMO_MAX_BYTES = 512 * 1024;

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`firmware/software plan without ${what}`);
  return v;
}

// --- readings ---------------------------------------------------------------------------------

export const FWV_URI = './DevDetail/FwV';

/** The leaves read of each Inventory/Deployed/<X>. */
const COMPONENT_LEAVES = ['ID', 'Name', 'Version', 'State'] as const;

/** The child names of an interior node's Get (`a/b/c`). */
export function childNames(data: string | undefined): string[] {
  return (data ?? '')
    .split('/')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Gets of each deployed component's leaves. */
export function componentGets(scomoRoot: string, names: readonly string[]): ServerCommandSpec[] {
  const p = scomoPaths(scomoRoot);
  return names.flatMap((x) => COMPONENT_LEAVES.map((leaf): ServerCommandSpec => ({ verb: 'Get', uri: `${p.deployedItem(x)}/${leaf}` })));
}

/**
 * The components from the answers to componentGets. A component whose leaves
 * are missing is still listed (ID falls back to its node name, Version to
 * empty); State 20 is ACTIVE, anything else INACTIVE.
 */
export function readComponents(scomoRoot: string, results: readonly CommandResult[]): DeviceComponent[] {
  const p = scomoPaths(scomoRoot);
  const names = [...new Set(results.map((r) => (r.uri ?? '').slice(p.deployed.length + 1).split('/')[0] ?? '').filter((x) => x !== ''))];
  const byUri = new Map(results.filter((r) => r.verb === 'Get' && r.status === 200).map((r) => [r.uri ?? '', r.data ?? '']));
  return names.map((x) => {
    const leaf = (l: string) => byUri.get(`${p.deployedItem(x)}/${l}`)?.trim();
    return {
      componentId: leaf('ID') || x,
      name: leaf('Name') || leaf('ID') || x,
      version: leaf('Version') ?? '',
      state: Number(leaf('State')) === SCOMO_DEPLOYED_STATE.active ? 'ACTIVE' : 'INACTIVE',
    };
  });
}

// --- discovery --------------------------------------------------------------------------------

/**
 * Where the MOs are looked for when a capability does not name them: the
 * well-known roots clients use (the spec's examples, Android/MediaTek and
 * vendor trees). A plain Get of each (no `?list=`, which many clients lack)
 * answers the node's Meta Type; the first whose Type is the MO's identifier
 * is the root. Kept in this one list.
 */
export const MO_ROOT_CANDIDATES = {
  fumo: ['./FUMO', './FwUpdate', './Vendor/FUMO', './Ext/FUMO'],
  scomo: ['./SCOMO', './SCM', './Software', './Vendor/SCOMO', './Ext/SCOMO'],
} as const;

export function discoveryGets(mo: 'fumo' | 'scomo'): ServerCommandSpec[] {
  return MO_ROOT_CANDIDATES[mo].map((uri): ServerCommandSpec => ({ verb: 'Get', uri }));
}

/** The first candidate the device answered with the MO's Type; undefined when none. */
export function discoveredRoot(mo: 'fumo' | 'scomo', results: readonly CommandResult[]): string | undefined {
  const moid = mo === 'fumo' ? FUMO_MOID : SCOMO_MOID;
  return results.find((r) => r.verb === 'Get' && r.status === 200 && r.type?.trim() === moid)?.uri;
}
