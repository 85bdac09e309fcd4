/**
 * Which tasks are downloading a package (for a rollout's
 * maxConcurrentDownloads). A FIRMWARE_UPDATE or SOFTWARE_INSTALL task holds
 * a download slot from the session that sends its Exec (IN_SESSION: the run
 * request carries PkgURL and Exec together) until it ends: the device reports
 * the end of the download only together with the end of the install
 * (DownloadAndUpdate, DownloadInstall), so IN_PROGRESS counts too.
 */
import type { Task, TaskStatus } from '../../domain/tasks.js';

/** The operations whose device downloads a package. */
export const DOWNLOADING_OPERATIONS = ['FIRMWARE_UPDATE', 'SOFTWARE_INSTALL'] as const;

/** The states in which such a task holds a download slot. */
export const DOWNLOAD_SLOT_STATES: readonly TaskStatus[] = ['IN_SESSION', 'IN_PROGRESS'];

export function downloadsPackage(operationName: string): boolean {
  return (DOWNLOADING_OPERATIONS as readonly string[]).includes(operationName);
}

export function holdsDownloadSlot(task: Pick<Task, 'status'> & { operation: Pick<Task['operation'], 'name'> }): boolean {
  return downloadsPackage(task.operation.name) && DOWNLOAD_SLOT_STATES.includes(task.status);
}
