/**
 * The simulated device's SCOMO: Download/<X> (added by the server),
 * Inventory/Delivered/<X> and Inventory/Deployed/<X>, the Exec handlers (202
 * at once) and the jobs they start, each ending in an OperationComplete alert.
 *
 * Choices where the notes are silent (all SCOMO details there are
 * unconfirmed; these follow MediaTek where it is known):
 * - Deployed/<X> is named after the component id in the package header
 *   (characters outside `[A-Za-z0-9._-]` become `_`); installing a component
 *   already deployed replaces it (its Version changes).
 * - Alert Source = the executed Operations node; Target = Deployed/<X> after
 *   an install or a Deployed operation, Delivered/<X> after Download, and the
 *   Download/<X> or Delivered/<X> node of a failed operation. Identifier =
 *   PkgID (Download and Delivered operations; `<X>` when PkgID is empty) or
 *   the component ID (Deployed operations). Format chr, Mark informational on
 *   success and critical on failure.
 * - Failure shares as in FUMO, with SCOMO codes: userPostponed 1401,
 *   downloadFailed 1402 (HTTP 401/403: 1403, HTTP 5xx: 1500, unreachable:
 *   1501), outOfMemory 1404 before a download or 1406 before an install,
 *   corruptPackage 1407 (SCOMO has no "corrupt" code; validation failure is
 *   the closest), installFailed 1405. On Activate, Deactivate and Remove only
 *   userPostponed and installFailed apply (as 1409, 1410, 1408).
 * - An Exec is refused with 400 while the same <X> is busy, or when a
 *   Download/<X> has no PkgURL.
 */
import { genericAlert } from '../generic-alert.js';
import { nodeText } from '../tree/node-text.js';
import {
  formatScomoResultData,
  parseScomoOperationNode,
  SCOMO_ALERT_TYPE,
  SCOMO_DELIVERED_STATE,
  SCOMO_DELIVERED_STATUS,
  SCOMO_DEPLOYED_STATE,
  SCOMO_DEPLOYED_STATUS,
  SCOMO_DOWNLOAD_STATUS,
  SCOMO_MOID,
  SCOMO_RESULT,
  type ScomoOperationNode,
  scomoPaths,
} from '../../dm/mo/index.js';
import type { ManagementTree, NodeDefinition } from '../tree/management-tree.js';
import {
  type DeliveryContext,
  type DeliveryResult,
  drawFailure,
  headerAnnotation,
  parseHeaderAnnotation,
  type TreeEdit,
} from './delivery.js';
import type { DownloadFailure } from './download.js';
import { fetchPackage } from './fetch-package.js';
import type { PackageHeader } from './package.js';

const HELD = 'scomo.held';
const BUSY = 'scomo.busy';

export interface ScomoJob extends ScomoOperationNode {
  node: string;
  correlator?: string;
  url?: string;
}

const exec = (): NodeDefinition => ({ data: '', access: ['Get', 'Exec'] });
const int = (value: number): NodeDefinition => ({ format: 'int', data: String(value), access: ['Get'] });

export function defineScomoMo(tree: ManagementTree, root: string): void {
  const p = scomoPaths(root);
  tree.define(root, { format: 'node', type: SCOMO_MOID, access: ['Get'], permanent: true });
  tree.define(p.download, { format: 'node', access: ['Get', 'Add'], permanent: true });
  tree.define(`${root}/Inventory`, { format: 'node', access: ['Get'], permanent: true });
  tree.define(p.delivered, { format: 'node', access: ['Get'], permanent: true });
  tree.define(p.deployed, { format: 'node', access: ['Get'], permanent: true });
  tree.defineTemplate(`${p.download}/*`, {
    access: ['Get', 'Add', 'Delete', 'Replace'],
    autoLeaves: {
      Status: int(SCOMO_DOWNLOAD_STATUS.idle),
      Operations: {
        format: 'node',
        access: ['Get'],
        children: { Download: exec(), DownloadInstall: exec(), DownloadInstallInactive: exec() },
      },
    },
  });
  tree.defineTemplate(`${p.download}/*/*`, { access: ['Get', 'Replace', 'Delete'] });
}

export function installScomoClient(tree: ManagementTree, root: string, start: (job: ScomoJob) => void): () => void {
  const p = scomoPaths(root);
  const patterns = [`${p.download}/*/Operations/*`, `${p.delivered}/*/Operations/*`, `${p.deployed}/*/Operations/*`];
  const offs = patterns.map((pattern) =>
    tree.onExec(pattern, ({ uri, correlator }) => {
      const op = parseScomoOperationNode(uri);
      if (!op) return 404;
      const item = itemUri(p, op);
      if (tree.annotation(item, BUSY) !== undefined) return 400;
      const job: ScomoJob = { ...op, node: uri, ...(correlator !== undefined && { correlator }) };
      if (op.area === 'Download') {
        const url = nodeText(tree, `${item}/PkgURL`);
        if (!url) return 400;
        job.url = url;
      }
      tree.annotate(item, BUSY, 1);
      start(job);
      return 202;
    }),
  );
  return () => {
    for (const off of offs) off();
  };
}

type Paths = ReturnType<typeof scomoPaths>;

function itemUri(p: Paths, op: ScomoOperationNode): string {
  if (op.area === 'Download') return p.downloadItem(op.name);
  return op.area === 'Delivered' ? p.deliveredItem(op.name) : p.deployedItem(op.name);
}

/** Runs one SCOMO job to its OperationComplete report. Never throws. */
export async function runScomoJob(ctx: DeliveryContext, job: ScomoJob): Promise<void> {
  const p = scomoPaths(job.root);
  const item = itemUri(p, job);
  const failure = drawFailure(ctx.options.failureShares, () => ctx.random());
  const info = ctx.read((tree) => ({
    pkgId: nodeText(tree, `${item}/PkgID`) || job.name,
    name: nodeText(tree, `${item}/Name`),
    componentId: nodeText(tree, `${item}/ID`) || job.name,
    held: parseHeaderAnnotation(tree.annotation(item, HELD)),
  }));
  const idle: TreeEdit = { op: 'annotate', uri: item, key: BUSY, value: undefined };
  const done = (code: number, target: string, identifier: string, edits: TreeEdit[], cause?: DeliveryResult['failure']) => {
    ctx.edit([...edits, idle]);
    report(ctx, job, code, target, identifier, cause);
  };
  const status = (value: number): TreeEdit => ({ op: 'set', uri: `${item}/Status`, value: String(value) });

  if (failure === 'userPostponed') return done(SCOMO_RESULT.userCancelled, item, ids(job, info), [], failure);

  if (job.area === 'Deployed') {
    const d = SCOMO_DEPLOYED_STATUS;
    const plan = {
      Activate: { progress: d.activateProgressing, failed: d.activateFailed, code: SCOMO_RESULT.activateFailed },
      Deactivate: { progress: d.deactivateProgressing, failed: d.deactivateFailed, code: SCOMO_RESULT.deactivateFailed },
      Remove: { progress: d.removeProgressing, failed: d.removeFailed, code: SCOMO_RESULT.removeFailed },
    }[job.operation as 'Activate' | 'Deactivate' | 'Remove'];
    ctx.edit([status(plan.progress)]);
    await ctx.wait(ctx.options.installMs);
    if (failure === 'installFailed') return done(plan.code, item, info.componentId, [status(plan.failed)], failure);
    if (job.operation === 'Remove') return done(SCOMO_RESULT.ok, item, info.componentId, [{ op: 'delete', uri: item }]);
    const state = job.operation === 'Activate' ? SCOMO_DEPLOYED_STATE.active : SCOMO_DEPLOYED_STATE.inactive;
    return done(SCOMO_RESULT.ok, item, info.componentId, [
      { op: 'set', uri: `${item}/State`, value: String(state) },
      status(d.idle),
    ]);
  }

  if (job.area === 'Delivered') {
    const s = SCOMO_DELIVERED_STATUS;
    if (job.operation === 'Remove') {
      ctx.edit([status(s.removeProgressing)]);
      await ctx.wait(ctx.options.installMs);
      if (failure === 'installFailed') return done(SCOMO_RESULT.removeFailed, item, info.pkgId, [status(s.removeFailed)], failure);
      return done(SCOMO_RESULT.ok, item, info.pkgId, [{ op: 'delete', uri: item }]);
    }
    if (!info.held) return done(SCOMO_RESULT.installFailed, item, info.pkgId, [status(s.installFailedWithoutData)]);
    if (failure === 'outOfMemory') return done(SCOMO_RESULT.installNoMemory, item, info.pkgId, [status(s.installFailedWithData)], failure);
    ctx.edit([status(s.installProgressing)]);
    await ctx.wait(ctx.options.installMs);
    if (failure === 'installFailed' || failure === 'corruptPackage') {
      const code = failure === 'installFailed' ? SCOMO_RESULT.installFailed : SCOMO_RESULT.corruptPackage;
      return done(code, item, info.pkgId, [status(s.installFailedWithData)], failure);
    }
    const deployed = deploy(p, info.held, job.operation === 'Install', info.pkgId, info.name);
    return done(SCOMO_RESULT.ok, deployed.uri, info.pkgId, [
      ...deployed.edits,
      status(s.idle),
      { op: 'set', uri: `${item}/State`, value: String(SCOMO_DELIVERED_STATE.installed) },
    ]);
  }

  // Download/<X>
  const s = SCOMO_DOWNLOAD_STATUS;
  if (failure === 'outOfMemory') return done(SCOMO_RESULT.downloadNoMemory, item, info.pkgId, [status(s.downloadFailed)], failure);
  ctx.edit([status(s.downloadProgressing)]);
  const fetched = await fetchPackage(ctx, job.url ?? '', failure);
  if (!fetched.ok) {
    const invalid = fetched.cause.reason === 'invalid';
    const code = invalid ? SCOMO_RESULT.corruptPackage : downloadFailureCode(fetched.cause as DownloadFailure);
    return done(code, item, info.pkgId, [status(s.downloadFailed)], invalid ? 'invalid-package' : 'download-error');
  }
  const header = fetched.header;
  if (header.kind !== 'component') {
    return done(SCOMO_RESULT.corruptPackage, item, info.pkgId, [status(s.downloadFailed)], 'invalid-package');
  }
  if (job.operation === 'Download') {
    const delivered = p.deliveredItem(job.name);
    return done(SCOMO_RESULT.ok, delivered, info.pkgId, [
      status(s.downloadComplete),
      ...deliveredEdits(delivered, info.pkgId, info.name ?? header.name),
      { op: 'annotate', uri: delivered, key: HELD, value: headerAnnotation(header) },
    ]);
  }
  ctx.edit([status(s.installProgressing)]);
  await ctx.wait(ctx.options.installMs);
  if (failure === 'installFailed') return done(SCOMO_RESULT.installFailed, item, info.pkgId, [status(s.installFailedWithoutData)], failure);
  const deployed = deploy(p, header, job.operation === 'DownloadInstall', info.pkgId, info.name);
  done(SCOMO_RESULT.ok, deployed.uri, info.pkgId, [...deployed.edits, status(s.idle)]);
}

function ids(job: ScomoJob, info: { pkgId: string; componentId: string }): string {
  return job.area === 'Deployed' ? info.componentId : info.pkgId;
}

function deliveredEdits(uri: string, pkgId: string, name: string): TreeEdit[] {
  return [
    { op: 'define', uri, def: { format: 'node', access: ['Get'] } },
    { op: 'define', uri: `${uri}/PkgID`, def: { data: pkgId, access: ['Get'] } },
    { op: 'define', uri: `${uri}/Name`, def: { data: name, access: ['Get'] } },
    { op: 'define', uri: `${uri}/Status`, def: int(SCOMO_DELIVERED_STATUS.idle) },
    { op: 'define', uri: `${uri}/State`, def: int(SCOMO_DELIVERED_STATE.delivered) },
    { op: 'define', uri: `${uri}/Operations`, def: { format: 'node', access: ['Get'] } },
    ...['Install', 'InstallInactive', 'Remove'].map(
      (op): TreeEdit => ({ op: 'define', uri: `${uri}/Operations/${op}`, def: exec() }),
    ),
  ];
}

/** The Deployed/<X> node of an installed component (replacing an older install). */
function deploy(
  p: Paths,
  header: PackageHeader,
  active: boolean,
  pkgId: string,
  name: string | undefined,
): { uri: string; edits: TreeEdit[] } {
  const uri = p.deployedItem(header.name.replace(/[^A-Za-z0-9._-]/g, '_') || 'component');
  const leaf = (leafName: string, data: string): TreeEdit => ({
    op: 'define',
    uri: `${uri}/${leafName}`,
    def: { data, access: ['Get'] },
  });
  const state = active ? SCOMO_DEPLOYED_STATE.active : SCOMO_DEPLOYED_STATE.inactive;
  return {
    uri,
    edits: [
      { op: 'define', uri, def: { format: 'node', access: ['Get'] } },
      leaf('ID', header.name),
      leaf('PkgIDRef', pkgId),
      leaf('Name', name || header.name),
      leaf('Description', ''),
      leaf('Version', header.version),
      { op: 'define', uri: `${uri}/State`, def: int(state) },
      { op: 'define', uri: `${uri}/Status`, def: int(SCOMO_DEPLOYED_STATUS.idle) },
      leaf('EnvType', ''),
      { op: 'define', uri: `${uri}/Operations`, def: { format: 'node', access: ['Get'] } },
      ...['Activate', 'Deactivate', 'Remove'].map(
        (op): TreeEdit => ({ op: 'define', uri: `${uri}/Operations/${op}`, def: exec() }),
      ),
    ],
  };
}

function downloadFailureCode(cause: DownloadFailure): number {
  if (cause.reason === 'http') {
    if (cause.status === 401 || cause.status === 403) return 1403;
    if (cause.status >= 500) return 1500;
  }
  if (cause.reason === 'network' && /ECONNREFUSED|ENOTFOUND/.test(cause.detail)) return 1501;
  return SCOMO_RESULT.downloadFailed;
}

function report(
  ctx: DeliveryContext,
  job: ScomoJob,
  code: number,
  target: string,
  identifier: string,
  failure?: DeliveryResult['failure'],
): void {
  const ok = code === SCOMO_RESULT.ok;
  const alert = genericAlert({
    source: job.node,
    target,
    type: SCOMO_ALERT_TYPE,
    format: 'chr',
    mark: ok ? 'informational' : 'critical',
    data: formatScomoResultData(code, identifier),
    correlator: job.correlator,
  });
  ctx.report(alert, {
    mo: 'scomo',
    node: job.node,
    resultCode: code,
    ...(job.correlator !== undefined && { correlator: job.correlator }),
    ...(failure !== undefined && { failure }),
  });
}

