/**
 * The firmware and software operations (FIRMWARE_UPDATE, SOFTWARE_*) around
 * the broker's task flow: what doOperation checks before any device is
 * touched, where a device's FUMO/SCOMO MO is (its capability's root, else
 * found once on the device and remembered in its dev_info), and what the
 * gateway reads after a success (DevDetail/FwV and the capability link, the
 * SCOMO inventory). The commands themselves are mo-plan.ts; the IN_PROGRESS
 * flow and final alerts are long-operations.ts.
 */
import type { Logger } from 'pino';
import type { Content } from '../../domain/content.js';
import { DmwsiError, invalidArgument, notFound } from '../../domain/errors.js';
import type { DeviceCapability, DeviceComponent, DeviceReportedInfo, FumoDelivery } from '../../domain/registry.js';
import { isMoOperation, type MoOperationName, type OperationDefinition, type ResultItem, type Task, TERMINAL_TASK_STATES } from '../../domain/tasks.js';
import { describeFumoResult, fumoOperationOfAlertType, normaliseAlertType, parseResultCode, SCOMO_ALERT_TYPE } from '../../dm/mo/index.js';
import type { CommandOutcome, DeviceAlert } from '../../dm/server/ports.js';
import type { Clock, Stores, Transactor } from '../ports.js';
import { childNames, discoveredRoot, FWV_URI, INLINE_FUMO_MAX_BYTES, MO_ROOT_CANDIDATES, moOf, readComponents } from './mo-plan.js';
import { packageAppliesTo, packageKindFits } from './package-applicability.js';
import { attemptOf, componentsRequest, discoverRequest, fumoUpdateRequest, fwvRequest, inventoryRequest, type PlanContext, unstageRequest } from './plan.js';
import type { GuardedRequest } from './ports.js';
import { moveTask } from './task-moves.js';

/** The PkgURL a task gives its device (ContentService.pkgUrlFor), or the bytes of a small package (ContentService.bytesOf). */
export interface PackageLinks {
  pkgUrlFor(task: Task, content: Content): string;
  bytesOf(content: Content, limit: number): Promise<Buffer>;
}

export interface MoOperationDeps {
  tx: Transactor;
  packages: PackageLinks;
  clock: Clock;
  logger: Logger;
  /** Queues a request; wakes the device unless the reporting session takes it. */
  sendAndWake(deviceId: string, request: GuardedRequest, reportedBy?: { followUpInSession?: boolean }): Promise<void>;
}

/** Readings sent again after their answer was lost, at most. */
const MAX_READING_ATTEMPTS = 3;

export type MoPlanning = { ready: true; ctx: PlanContext } | { ready: false; discover: 'fumo' | 'scomo' };

export class MoOperations {
  constructor(private readonly d: MoOperationDeps) {}

  /**
   * Checks made before the task exists, so bad input touches no device: the
   * package exists (NotFound), is READY (InvalidState), is of the kind the
   * operation delivers and applies to the device's capability (InvalidArgument).
   */
  async checkNew(operation: OperationDefinition, capability: DeviceCapability): Promise<void> {
    if (!isMoOperation(operation.name) || operation.contentId === undefined) return;
    const content = await this.d.tx.stores.contents.get(operation.contentId);
    if (!content) throw notFound('content', operation.contentId);
    const kind = packageKindFits(content, operation.name);
    if (!kind.ok) throw invalidArgument('operation.contentId', kind.why);
    if (content.state !== 'READY') throw new DmwsiError('InvalidState', `content "${content.contentId}" has not been uploaded`);
    const applies = packageAppliesTo(content, capability);
    if (!applies.ok) throw invalidArgument('operation.contentId', applies.why);
  }

  /** The plan context of a firmware/software task, or the MO still to be found on the device. */
  async planning(task: Task): Promise<MoPlanning> {
    const name = task.operation.name as MoOperationName;
    const mo = moOf(name);
    const roots = await this.rootsOf(task.deviceId);
    const root = mo === 'fumo' ? roots.fumoRoot : roots.scomoRoot;
    if (root === undefined) return { ready: false, discover: mo };
    const ctx: PlanContext = { ...roots };
    if (task.contentId !== undefined) {
      const content = await this.d.tx.stores.contents.get(task.contentId);
      if (!content) throw new DmwsiError('InvalidState', `content "${task.contentId}" no longer exists`);
      ctx.content = content;
      if (name === 'FIRMWARE_UPDATE') ctx.fumoDelivery = await this.fumoDeliveryOf(task.deviceId);
      if (ctx.fumoDelivery === 'inline') {
        // packageAppliesTo let only an uploaded package of at most this size through.
        ctx.pkgData = (await this.d.packages.bytesOf(content, INLINE_FUMO_MAX_BYTES)).toString('base64');
      } else {
        ctx.pkgUrl = this.d.packages.pkgUrlFor(task, content);
      }
    }
    return { ready: true, ctx };
  }

  /** How the device's model takes firmware (its capability's fumoDelivery); absent: downloadAndUpdate. */
  private async fumoDeliveryOf(deviceId: string): Promise<FumoDelivery | undefined> {
    return (await this.d.tx.stores.capabilities.ofDevice(deviceId))?.fumoDelivery;
  }

  /** The capability's roots, else those found on this device before. */
  async rootsOf(deviceId: string): Promise<{ fumoRoot?: string; scomoRoot?: string }> {
    const device = await this.d.tx.stores.devices.getView(deviceId);
    const cap = device ? await this.d.tx.stores.capabilities.get(device.capabilityOid) : undefined;
    const found = device?.devInfo?.moRoots;
    const fumoRoot = cap?.fumoRoot ?? found?.fumo;
    const scomoRoot = cap?.scomoRoot ?? found?.scomo;
    return { ...(fumoRoot ? { fumoRoot } : {}), ...(scomoRoot ? { scomoRoot } : {}) };
  }

  /**
   * The answers to the discovery Gets: the root found is remembered in the
   * device's dev_info and the task's run request follows (`run`); none found
   * fails the task.
   */
  async onDiscoverOutcome(task: Task, o: CommandOutcome, run: () => Promise<void>): Promise<void> {
    if (TERMINAL_TASK_STATES.has(task.status)) return;
    const mo = moOf(task.operation.name as MoOperationName);
    if (o.outcome === 'undelivered') {
      const attempt = attemptOf(o.requestId) + 1;
      if (attempt <= MAX_READING_ATTEMPTS) return this.d.sendAndWake(task.deviceId, discoverRequest(task.taskId, mo, attempt), o);
    }
    if (o.outcome === 'rejected') {
      // The session's guard refused the device (acceptDevicePolicy) before anything was sent.
      const event = o.reason?.startsWith('policy') ? 'device-policy-mismatch' : 'request-rejected';
      await this.d.tx.run((s) => moveTask(s, task.taskId, 'FAILED', { event, detail: o.reason ?? 'the device cannot take this request' }, o.at));
      return;
    }
    const root = o.outcome === 'completed' ? discoveredRoot(mo, o.results) : undefined;
    if (root === undefined) {
      const why = o.outcome === 'completed'
        ? `no ${mo.toUpperCase()} MO found on the device (looked for Type ${mo === 'fumo' ? 'urn:oma:mo:oma-fumo:1.0' : 'urn:oma:mo:oma-scomo:1.0'} at ${MO_ROOT_CANDIDATES[mo].join(', ')}); name it as ${mo}Root in the device capability`
        : `could not look for the ${mo.toUpperCase()} MO: ${o.reason ?? o.outcome}`;
      await this.d.tx.run((s) => moveTask(s, task.taskId, 'FAILED', { event: 'mo-not-found', detail: why }, o.at));
      return;
    }
    await this.d.tx.run(async (s) => {
      await this.rememberRoot(s, task.deviceId, mo, root);
      await s.tasks.note(task.taskId, { event: 'mo-found', detail: `${mo.toUpperCase()} MO at ${root}` }, o.at);
    });
    await run();
  }

  private async rememberRoot(s: Stores, deviceId: string, mo: 'fumo' | 'scomo', root: string): Promise<void> {
    const device = await s.devices.getView(deviceId);
    if (!device) return;
    const info: DeviceReportedInfo = { ...device.devInfo, moRoots: { ...device.devInfo?.moRoots, [mo]: root } };
    await s.devices.recordContact(deviceId, { devInfo: info });
  }

  /**
   * The task an uncorrelated FUMO/SCOMO final alert ends, if any: the
   * device's oldest IN_PROGRESS task of that MO (a device runs one FUMO
   * operation at a time; SCOMO ones are told apart by correlator where the
   * client echoes it).
   */
  async uncorrelatedTaskFor(alert: DeviceAlert): Promise<Task | undefined> {
    if (alert.correlator) return undefined;
    const names: MoOperationName[] = fumoOperationOfAlertType(alert.alertType)
      ? ['FIRMWARE_UPDATE']
      : normaliseAlertType(alert.alertType) === SCOMO_ALERT_TYPE
        ? ['SOFTWARE_INSTALL', 'SOFTWARE_ACTIVATE', 'SOFTWARE_DEACTIVATE', 'SOFTWARE_REMOVE']
        : [];
    const open: Task[] = [];
    for (const name of names) open.push(...(await this.d.tx.stores.tasks.openForDevice(alert.deviceId, name)));
    return open
      .filter((t) => t.status === 'IN_PROGRESS')
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())[0];
  }

  /**
   * A FUMO Download alert of an IN_PROGRESS FIRMWARE_UPDATE (downloadThenUpdate):
   * a success does not end the task but queues the Exec of Update, which goes
   * out in the alert's session when it can (else the device is woken), and
   * whose own alert ends the task. The alert's type says the phase, so a
   * restarted gateway routes either alert right; the `downloaded` history row
   * says the Update was queued, so a resent alert queues it once. Returns
   * false for anything else (a failing Download ends the task as its final
   * alert, long-operations.ts).
   */
  async onFumoDownloaded(task: Task, alert: DeviceAlert): Promise<boolean> {
    if (task.operation.name !== 'FIRMWARE_UPDATE' || task.status !== 'IN_PROGRESS' || task.deviceId !== alert.deviceId) return false;
    if (fumoOperationOfAlertType(alert.alertType) !== 'Download') return false;
    const code = parseResultCode(alert.data ?? '');
    if (code === undefined || describeFumoResult(code).class !== 'success') return false;
    const history = await this.d.tx.stores.tasks.history(task.taskId);
    if (history.some((h) => h.event === 'downloaded')) return true;
    const { fumoRoot } = await this.rootsOf(task.deviceId);
    if (!fumoRoot) return false;
    // Queued before the row that says so: a crash between the two leaves the row to a resent alert.
    await this.d.sendAndWake(task.deviceId, fumoUpdateRequest(task.taskId, fumoRoot), alert);
    await this.note(task.taskId, 'downloaded', `FUMO Download: ${code} ${describeFumoResult(code).meaning}; Exec ${fumoRoot}/Update queued`, alert.at);
    return true;
  }

  /** The Exec of Update: 202 (or 200) waits for its alert; a refusal or a lost answer after retries fails the task. */
  async onUpdateOutcome(task: Task, o: CommandOutcome): Promise<void> {
    if (TERMINAL_TASK_STATES.has(task.status)) return;
    if (o.outcome === 'undelivered') {
      const attempt = attemptOf(o.requestId) + 1;
      const { fumoRoot } = await this.rootsOf(task.deviceId);
      if (fumoRoot && attempt <= MAX_READING_ATTEMPTS) return this.d.sendAndWake(task.deviceId, fumoUpdateRequest(task.taskId, fumoRoot, attempt), o);
    }
    const exec = o.results.find((r) => r.verb === 'Exec');
    if (o.outcome === 'completed' && (exec?.status === 202 || exec?.status === 200)) {
      await this.note(task.taskId, 'update-accepted', `${exec.uri ?? 'Update'} answered ${exec.status}: awaiting the FUMO Update alert`, o.at);
      return;
    }
    const detail = `${exec?.uri ?? 'Exec Update'} answered ${exec?.status ?? o.reason ?? o.outcome}`;
    await this.d.tx.run((s) => moveTask(s, task.taskId, 'FAILED', { event: 'command-failed', dmStatus: exec?.status, detail, from: ['IN_PROGRESS'] }, o.at));
  }

  /** After a final alert ended a firmware/software task: a success queues the reading of what changed. */
  async afterFinalAlert(task: Task, reportedBy: { followUpInSession?: boolean }): Promise<void> {
    const ended = await this.d.tx.stores.tasks.get(task.taskId);
    if (!ended || !TERMINAL_TASK_STATES.has(ended.status) || !isMoOperation(ended.operation.name)) return;
    const success = ended.status === 'COMPLETED';
    if (ended.operation.name === 'SOFTWARE_INSTALL') {
      // The install ended either way: its Download/<X> is no longer needed (the inventory read, on success, wakes the device).
      const { scomoRoot } = await this.rootsOf(task.deviceId);
      if (scomoRoot) await this.d.sendAndWake(task.deviceId, unstageRequest(task.taskId, scomoRoot), success ? { followUpInSession: true } : reportedBy);
    }
    if (!success) return;
    if (ended.operation.name === 'FIRMWARE_UPDATE') {
      await this.d.sendAndWake(task.deviceId, fwvRequest(task.taskId), reportedBy);
      return;
    }
    const { scomoRoot } = await this.rootsOf(task.deviceId);
    if (scomoRoot) await this.d.sendAndWake(task.deviceId, inventoryRequest(task.taskId, scomoRoot), reportedBy);
  }

  /** The firmware the device runs after an update: recorded, and the device linked to its capability. */
  async onFwvOutcome(task: Task, o: CommandOutcome): Promise<void> {
    if (o.outcome === 'undelivered') {
      const attempt = attemptOf(o.requestId) + 1;
      if (attempt <= MAX_READING_ATTEMPTS) await this.d.sendAndWake(task.deviceId, fwvRequest(task.taskId, attempt), o);
      return;
    }
    const got = o.results.find((r) => r.uri === FWV_URI);
    const fwV = got?.status === 200 ? got.data?.trim() : undefined;
    if (!fwV) {
      await this.note(task.taskId, 'firmware-unread', `${FWV_URI} answered ${got?.status ?? o.outcome}`, o.at);
      return;
    }
    const detail = await this.recordFirmware(task.deviceId, fwV, o.at);
    await this.note(task.taskId, 'firmware-recorded', detail, o.at);
  }

  /**
   * Records the reported FwV and links the device to the capability of its
   * make, model and new firmware: an existing one, else a copy of its old
   * capability under the new firmwareVersion (so firmwareVersion filters of
   * later jobs see what the device runs now).
   */
  private async recordFirmware(deviceId: string, fwV: string, at: number): Promise<string> {
    const view = await this.d.tx.stores.devices.getView(deviceId);
    const old = view ? await this.d.tx.stores.capabilities.get(view.capabilityOid) : undefined;
    const linked = old && old.firmwareVersion !== fwV ? await this.capabilityWithFirmware(old, fwV, at) : undefined;
    return this.d.tx.run(async (s) => {
      const device = await s.devices.get(deviceId);
      if (!device) return `FwV ${fwV}; the device is gone`;
      const devInfo: DeviceReportedInfo = { ...device.devInfo, detail: { ...device.devInfo?.detail, fwV }, reportedAt: at };
      const capabilityOid = linked?.capability.oid ?? device.capabilityOid;
      await s.devices.update({ ...device, capabilityOid, devInfo, updatedAt: new Date(at) });
      if (!linked) return `FwV ${fwV}; capability unchanged`;
      return `FwV ${fwV}; ${linked.created ? `capability ${capabilityOid} created from ${old?.oid}` : `linked to capability ${capabilityOid}`}`;
    });
  }

  /**
   * The capability of this make and model with firmware `fwV`, created as a
   * copy of `old` when none exists. Its own transaction: devices of a rollout
   * finishing together race to create it, and the loser reads the winner's.
   */
  private async capabilityWithFirmware(old: DeviceCapability, fwV: string, at: number): Promise<{ capability: DeviceCapability; created: boolean }> {
    const same = (c: DeviceCapability) => c.make === old.make && c.model === old.model && c.firmwareVersion === fwV;
    const found = (await this.d.tx.stores.capabilities.all()).find(same);
    if (found) return { capability: found, created: false };
    const fresh: DeviceCapability = { ...old, oid: capabilityOidFor(old, fwV), firmwareVersion: fwV };
    try {
      await this.d.tx.run((s) => s.capabilities.insert(fresh, at));
      return { capability: fresh, created: true };
    } catch (err) {
      const winner = err instanceof DmwsiError && err.code === 'AlreadyExists' ? (await this.d.tx.stores.capabilities.all()).find(same) : undefined;
      if (!winner) throw err;
      return { capability: winner, created: false };
    }
  }

  /**
   * The Deployed node names (the run of SOFTWARE_INVENTORY, or the reading
   * after a SCOMO success): each component's leaves are read next. None: an
   * empty inventory is recorded at once.
   */
  async onInventoryOutcome(task: Task, o: CommandOutcome, inRun: boolean): Promise<void> {
    const { scomoRoot } = await this.rootsOf(task.deviceId);
    if (!scomoRoot) return;
    if (o.outcome === 'undelivered') {
      const attempt = attemptOf(o.requestId) + 1;
      if (inRun && !TERMINAL_TASK_STATES.has(task.status)) {
        await this.d.tx.run((s) => moveTask(s, task.taskId, 'FAILED', { event: 'answer-lost', detail: `sent, no answer (${o.reason})` }, o.at));
      } else if (!inRun && attempt <= MAX_READING_ATTEMPTS) {
        await this.d.sendAndWake(task.deviceId, inventoryRequest(task.taskId, scomoRoot, attempt), o);
      }
      return;
    }
    const listing = o.results[0];
    if (o.outcome !== 'completed' || listing?.status !== 200) {
      const why = `${listing?.uri ?? 'Inventory/Deployed'} answered ${listing?.status ?? o.reason ?? o.outcome}`;
      if (inRun) await this.d.tx.run((s) => moveTask(s, task.taskId, 'FAILED', { event: 'command-failed', dmStatus: listing?.status, detail: why }, o.at));
      else await this.note(task.taskId, 'inventory-unread', why, o.at);
      return;
    }
    const names = childNames(listing.data);
    if (names.length === 0) return this.recordInventory(task, [], [], o.at);
    await this.d.sendAndWake(task.deviceId, componentsRequest(task.taskId, scomoRoot, names), o);
  }

  /** The Delete of a SOFTWARE_INSTALL's Download/<X>: noted; one lost leaves only an unused node. */
  async onUnstageOutcome(task: Task, o: CommandOutcome): Promise<void> {
    const status = o.results[0]?.status;
    await this.note(task.taskId, 'download-node-removed', `${o.results[0]?.uri ?? 'Download/<X>'}: ${status ?? o.reason ?? o.outcome}`, o.at);
  }

  /** Each component's leaves: the inventory is recorded; a SOFTWARE_INVENTORY task completes with them. */
  async onComponentsOutcome(task: Task, o: CommandOutcome): Promise<void> {
    const { scomoRoot } = await this.rootsOf(task.deviceId);
    if (!scomoRoot) return;
    if (o.outcome !== 'completed') {
      if (task.operation.name === 'SOFTWARE_INVENTORY' && !TERMINAL_TASK_STATES.has(task.status)) {
        await this.d.tx.run((s) => moveTask(s, task.taskId, 'FAILED', { event: 'inventory-unread', detail: o.reason ?? o.outcome }, o.at));
      }
      return;
    }
    const values: ResultItem[] = o.results
      .filter((r) => r.verb === 'Get' && r.status === 200 && r.data !== undefined)
      .map((r) => ({ uri: r.uri ?? '', value: r.data!, ...(r.format ? { format: r.format } : {}) }));
    await this.recordInventory(task, readComponents(scomoRoot, o.results), values, o.at);
  }

  private async recordInventory(task: Task, components: DeviceComponent[], values: ResultItem[], at: number): Promise<void> {
    await this.d.tx.run(async (s) => {
      await s.inventory.record(task.deviceId, components, at);
      const summary = components.map((c) => `${c.componentId} ${c.version} ${c.state}`).join(', ') || 'none';
      if (task.operation.name === 'SOFTWARE_INVENTORY') {
        await moveTask(s, task.taskId, 'COMPLETED', { event: 'inventory-read', results: values, detail: `components: ${summary}`, from: ['IN_SESSION', 'NOTIFYING', 'QUEUED'] }, at);
      } else {
        await s.tasks.note(task.taskId, { event: 'inventory-recorded', detail: `components: ${summary}` }, at);
      }
    });
  }

  private note(taskId: string, event: string, detail: string, at: number): Promise<void> {
    return this.d.tx.run((s) => s.tasks.note(taskId, { event, detail }, at));
  }
}

/** A capability oid for a model's new firmware: derived, so two devices updated at once name the same one. */
function capabilityOidFor(old: DeviceCapability, fwV: string): string {
  const oid = `${old.oid}.fw-${fwV}`.replace(/[^A-Za-z0-9._:-]/g, '_');
  return oid.length <= 128 ? oid : oid.slice(0, 128);
}
