/** Download plus verification: the first half of every FUMO/SCOMO delivery job. */
import type { DeliveryContext, FailureKind } from './delivery.js';
import { type DownloadFailure, downloadPackage } from './download.js';
import { type PackageHeader, PackageVerifier } from './package.js';

export type FetchOutcome =
  | { ok: true; header: PackageHeader }
  | { ok: false; cause: DownloadFailure | { reason: 'invalid' }; header?: PackageHeader };

/**
 * Streams `url` through a verifier. `failure` shapes it: downloadFailed drops
 * the connection halfway for good, corruptPackage corrupts a byte before
 * hashing; an interrupted download (by its share) resumes with Range.
 */
export async function fetchPackage(ctx: DeliveryContext, url: string, failure: FailureKind | undefined): Promise<FetchOutcome> {
  const c = ctx.counters;
  c.downloadsStarted++;
  const verifier = new PackageVerifier({ corrupt: failure === 'corruptPackage' });
  const interrupted = ctx.options.interruptedShare > 0 && ctx.random() < ctx.options.interruptedShare;
  const outcome = await downloadPackage(url, verifier, {
    ...(interrupted && { interruptAt: 0.5 }),
    ...(failure === 'downloadFailed' && { failAt: 0.5 }),
    timeoutMs: ctx.options.downloadTimeoutMs,
  });
  c.bytesDownloaded += outcome.bytes;
  c.downloadsResumed += outcome.resumes;
  if (!outcome.ok) {
    c.downloadsFailed++;
    const { ok: _ok, bytes: _b, resumes: _r, ...cause } = outcome;
    return { ok: false, cause };
  }
  c.downloadsCompleted++;
  const verified = verifier.finish();
  if (!verified.ok) return { ok: false, cause: { reason: 'invalid' }, ...(verified.header && { header: verified.header }) };
  return { ok: true, header: verified.header };
}
