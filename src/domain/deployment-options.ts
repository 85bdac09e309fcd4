/** Validates a bulk job's rollout options (all optional). */
import { invalidArgument } from './errors.js';
import type { DeploymentOptions } from './tasks.js';

const positive = (name: string, v: number | undefined, max: number) => {
  if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > max)) throw invalidArgument(`options.${name}`, `must be from 1 to ${max}`);
};

export function validateDeploymentOptions(o: DeploymentOptions, now: Date): DeploymentOptions {
  positive('firstWaveSize', o.firstWaveSize, 10_000_000);
  positive('waveSize', o.waveSize, 10_000_000);
  positive('notificationsPerSecond', o.notificationsPerSecond, 100_000);
  positive('maxConcurrentSessions', o.maxConcurrentSessions, 1_000_000);
  positive('maxConcurrentDownloads', o.maxConcurrentDownloads, 1_000_000);
  positive('waveIntervalSeconds', o.waveIntervalSeconds, 31_536_000);
  if (o.errorThresholdPercent !== undefined && (o.errorThresholdPercent < 0 || o.errorThresholdPercent > 100)) {
    throw invalidArgument('options.errorThresholdPercent', 'must be from 0 to 100');
  }
  if (o.deadline && o.deadline <= now) throw invalidArgument('options.deadline', 'is in the past');
  if (o.deadline && o.startAt && o.deadline <= o.startAt) throw invalidArgument('options.deadline', 'must be after startAt');
  return o;
}

/**
 * The options that depend on the operation: waveIntervalSeconds spaces
 * schedules (SCHEDULED_EXEC only); maxConcurrentDownloads caps package
 * downloads (operations that deliver one).
 */
export function checkOptionsFitOperation(o: DeploymentOptions, operationName: string, downloads: boolean): void {
  if (o.waveIntervalSeconds !== undefined && operationName !== 'SCHEDULED_EXEC') {
    throw invalidArgument('options.waveIntervalSeconds', 'applies to SCHEDULED_EXEC rollouts only');
  }
  if (o.maxConcurrentDownloads !== undefined && !downloads) {
    throw invalidArgument('options.maxConcurrentDownloads', `applies to operations that deliver a package, not ${operationName}`);
  }
}

/** The last job sequence number of each wave, 1-based: first wave, then equal waves. */
export function waveEnd(wave: number, total: number, o: DeploymentOptions): number {
  const first = o.firstWaveSize ?? o.waveSize ?? total;
  const size = o.waveSize ?? total;
  return Math.min(total, wave <= 1 ? first : first + (wave - 1) * size);
}
