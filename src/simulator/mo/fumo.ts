/**
 * The simulated device's FUMO instance: its nodes, the Exec handlers (202 at
 * once) and the job each Exec starts: download, verify, install, report.
 *
 * Choices where the notes are silent:
 * - An Exec is refused with 400 when the instance is busy (State 30 or 60),
 *   when Download/DownloadAndUpdate has no PkgURL, or when Update has neither
 *   a held package (after Download) nor PkgData.
 * - PkgData written in an XML session is the base64 text of the package
 *   (how XML carries Format bin): it is decoded before the package is read.
 * - userPostponed: the user declines before anything happens; 401 (user
 *   cancelled) is reported at once and State goes back to 10. The device
 *   never retries on its own (FUMO forbids it after the final alert).
 * - outOfMemory: 501 before downloading (Download, DownloadAndUpdate), 502
 *   before installing (Update).
 * - An invalid package (hash mismatch, truncated, not a package) is 402; a
 *   component package sent to FUMO is 403 (package/device mismatch).
 * - Download errors: bad URL or HTTP 404 → 411, HTTP 401/403 → 406, HTTP
 *   5xx → 500, other HTTP or network loss (after resumes) → 503.
 * - After Download the package is held (State 50) until Update; after an
 *   update the package is consumed: success 100, failure 80 (70 after a
 *   failed Update of a held package, which stays held).
 */
import { genericAlert } from '../generic-alert.js';
import { nodeText } from '../tree/node-text.js';
import {
  FUMO_ALERT_TYPE,
  FUMO_MOID,
  FUMO_RESULT,
  FUMO_STATE,
  type FumoOperation,
  fumoOperationOfNode,
  fumoPaths,
} from '../../dm/mo/index.js';
import type { ManagementTree, NodeValue } from '../tree/management-tree.js';
import {
  type DeliveryContext,
  type DeliveryResult,
  drawFailure,
  type FailureKind,
  headerAnnotation,
  parseHeaderAnnotation,
  type TreeEdit,
} from './delivery.js';
import type { DownloadFailure } from './download.js';
import { fetchPackage } from './fetch-package.js';
import { type PackageHeader, verifyPackage } from './package.js';

/** Annotation on `<x>` holding the header of a downloaded, not yet installed package. */
const HELD = 'fumo.held';

export interface FumoJob {
  x: string;
  operation: FumoOperation;
  node: string;
  url?: string;
  pkgData?: Buffer;
  correlator?: string;
}

/** Creates the FUMO instance `x` (e.g. `./FUMO/fw1`), Type = the FUMO MOID. */
export function defineFumoMo(tree: ManagementTree, x: string): void {
  const p = fumoPaths(x);
  const parent = x.slice(0, x.lastIndexOf('/'));
  if (parent !== '.' && !tree.exists(parent)) tree.define(parent, { format: 'node', access: ['Get'], permanent: true });
  tree.define(x, { format: 'node', type: FUMO_MOID, access: ['Get'], permanent: true });
  tree.define(p.pkgName, { data: '', access: ['Get'] });
  tree.define(p.pkgVersion, { data: '', access: ['Get'] });
  for (const op of [p.download, p.downloadAndUpdate]) {
    tree.define(op, { format: 'node', access: ['Get', 'Exec'], permanent: true });
    tree.define(`${op}/PkgURL`, { data: '', access: ['Get', 'Replace'] });
  }
  tree.define(p.update, { format: 'node', access: ['Get', 'Exec'], permanent: true });
  tree.define(p.updatePkgData, { format: 'bin', type: 'application/octet-stream', data: Buffer.alloc(0), access: ['Replace'] });
  tree.define(p.state, { format: 'int', data: String(FUMO_STATE.idle), access: ['Get'] });
}

/** Registers the Exec handlers; `start` runs the job (not while a journal is replayed). */
export function installFumoClient(tree: ManagementTree, x: string, start: (job: FumoJob) => void): () => void {
  const p = fumoPaths(x);
  const offs = [p.download, p.update, p.downloadAndUpdate].map((node) =>
    tree.onExec(node, ({ uri, correlator }) => {
      const operation = fumoOperationOfNode(uri);
      if (!operation) return 404;
      const state = Number(nodeText(tree, p.state));
      if (state === FUMO_STATE.downloadProgressing || state === FUMO_STATE.updateProgressing) return 400;
      const job: FumoJob = { x, operation, node: uri, ...(correlator !== undefined && { correlator }) };
      if (operation === 'Update') {
        const data = tree.read(p.updatePkgData)?.data;
        const held = tree.annotation(x, HELD) !== undefined;
        // In XML a bin value arrives as its base64 text (WBXML carries the bytes): decoded, as clients do.
        if (data && data.length > 0) job.pkgData = typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.from(data as NodeValue);
        else if (!held) return 400;
      } else {
        const url = nodeText(tree, `${uri}/PkgURL`);
        if (!url) return 400;
        job.url = url;
      }
      // Busy from the Exec on, so a second Exec in the same message is refused.
      const busy = operation === 'Update' ? FUMO_STATE.updateProgressing : FUMO_STATE.downloadProgressing;
      tree.setValue(p.state, String(busy));
      start(job);
      return 202;
    }),
  );
  return () => {
    for (const off of offs) off();
  };
}

/** Runs one FUMO job to its report. Never throws: every outcome is a result code. */
export async function runFumoJob(ctx: DeliveryContext, job: FumoJob): Promise<void> {
  const p = fumoPaths(job.x);
  const failure = drawFailure(ctx.options.failureShares, () => ctx.random());
  const finish = (code: number, state: number, edits: TreeEdit[] = [], cause?: DeliveryResult['failure']) => {
    ctx.edit([...edits, { op: 'set', uri: p.state, value: String(state) }]);
    report(ctx, job, code, cause);
  };
  if (failure === 'userPostponed') return finish(FUMO_RESULT.userCancelled, FUMO_STATE.idle, [], failure);

  let header: PackageHeader | undefined;
  if (job.operation !== 'Update') {
    if (failure === 'outOfMemory') return finish(FUMO_RESULT.downloadNoMemory, FUMO_STATE.downloadFailed, [], failure);
    ctx.edit([{ op: 'set', uri: p.state, value: String(FUMO_STATE.downloadProgressing) }]);
    const fetched = await fetchPackage(ctx, job.url ?? '', failure);
    if (!fetched.ok) {
      const cause = fetched.cause;
      if (cause.reason === 'invalid') return finish(FUMO_RESULT.corruptPackage, FUMO_STATE.downloadFailed, [], 'invalid-package');
      return finish(downloadFailureCode(cause), FUMO_STATE.downloadFailed, [], 'download-error');
    }
    header = fetched.header;
    if (header.kind !== 'firmware') return finish(403, FUMO_STATE.downloadFailed, [], 'invalid-package');
    const described: TreeEdit[] = [
      { op: 'set', uri: p.pkgName, value: header.name },
      { op: 'set', uri: p.pkgVersion, value: header.version },
    ];
    if (job.operation === 'Download') {
      return finish(FUMO_RESULT.ok, FUMO_STATE.readyToUpdate, [
        ...described,
        { op: 'annotate', uri: job.x, key: HELD, value: headerAnnotation(header) },
      ]);
    }
    ctx.edit(described);
  } else if (job.pkgData) {
    const verified = verifyPackage(job.pkgData, { corrupt: failure === 'corruptPackage' });
    if (!verified.ok) return finish(FUMO_RESULT.corruptPackage, FUMO_STATE.updateFailedNoData, [], 'invalid-package');
    header = verified.header;
    if (header.kind !== 'firmware') return finish(403, FUMO_STATE.updateFailedNoData, [], 'invalid-package');
  } else {
    header = ctx.read((tree) => parseHeaderAnnotation(tree.annotation(job.x, HELD)));
    if (!header) return finish(FUMO_RESULT.updateFailed, FUMO_STATE.updateFailedNoData);
    if (failure === 'corruptPackage') return finish(FUMO_RESULT.corruptPackage, FUMO_STATE.updateFailedHaveData, [], failure);
  }

  const heldBefore = job.operation === 'Update' && !job.pkgData;
  const failedState = heldBefore ? FUMO_STATE.updateFailedHaveData : FUMO_STATE.updateFailedNoData;
  if (job.operation === 'Update' && failure === 'outOfMemory') {
    return finish(FUMO_RESULT.updateNoMemory, failedState, [], failure);
  }
  ctx.edit([{ op: 'set', uri: p.state, value: String(FUMO_STATE.updateProgressing) }]);
  await ctx.wait(ctx.options.installMs);
  if (failure === 'installFailed') return finish(FUMO_RESULT.updateFailed, failedState, [], failure);
  finish(FUMO_RESULT.ok, FUMO_STATE.updateSucceededNoData, [
    { op: 'set', uri: ctx.fwVUri, value: header.version },
    { op: 'annotate', uri: job.x, key: HELD, value: undefined },
  ]);
}

function downloadFailureCode(cause: DownloadFailure): number {
  if (cause.reason === 'bad-url') return 411;
  if (cause.reason === 'http') {
    if (cause.status === 404) return 411;
    if (cause.status === 401 || cause.status === 403) return 406;
    if (cause.status >= 500) return 500;
  }
  return FUMO_RESULT.downloadFailed;
}

function report(ctx: DeliveryContext, job: FumoJob, code: number, failure?: DeliveryResult['failure']): void {
  const alert = genericAlert({
    source: job.x,
    type: FUMO_ALERT_TYPE[job.operation],
    format: 'int',
    mark: code === 200 ? 'informational' : 'critical',
    data: String(code),
    correlator: job.correlator,
  });
  ctx.report(alert, {
    mo: 'fumo',
    node: job.node,
    resultCode: code,
    ...(job.correlator !== undefined && { correlator: job.correlator }),
    ...(failure !== undefined && { failure }),
  });
}


export type { FailureKind };
