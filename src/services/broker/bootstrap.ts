/**
 * doBootstrap: gives a registered device its DM account (DMAcc with our
 * server id and address, its client and server credentials and nonces) as a
 * signed WBXML bootstrap message over the notification path. The task ends
 * COMPLETED when the device's first session authenticates with those
 * credentials.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { DmwsiError, invalidArgument, notFound } from '../../domain/errors.js';
import { canonicalDeviceId, phoneNumberProblem } from '../../domain/device-id.js';
import type { Task } from '../../domain/tasks.js';
import type { BootstrapSecurity } from '../../dm/bootstrap/message.js';
import { buildDmAccount } from '../../dm/bootstrap/dmacc.js';
import { buildBootstrapMessage, encodeBootstrap } from '../../dm/bootstrap/message.js';
import type { NotificationOutcome } from '../../dm/server/ports.js';
import type { CallContext, Clock, DeviceRecord, Transactor } from '../ports.js';
import { type FirstIds, idForCall, writeFirst } from '../retried-call.js';

export interface BootstrapDeps {
  tx: Transactor;
  clock: Clock;
  logger: Logger;
  /** Where a retried call (same MessageID) finds the first call's task id. */
  retries: FirstIds;
  /** POSTs the bootstrap bytes to the device's notification URL. */
  deliver(url: string, body: Buffer, contentType: string): Promise<NotificationOutcome>;
  /** Runs the delivery in the background (a BullMQ job). */
  schedule(taskId: string): Promise<void>;
  serverId: string;
  serverAddress: string;
  /** The address given to a device whose capability is DM 2.0 (`/dm2`); default serverAddress. */
  dm2ServerAddress?: string;
  taskDeadlineMs: number;
}

/** Key material for the bootstrap MAC, from the device's free attributes `imsi` and `bootstrapPin`. */
function securityOf(d: DeviceRecord): BootstrapSecurity | undefined {
  const imsi = d.attributes.imsi;
  const pin = d.attributes.bootstrapPin;
  if (imsi && pin) return { sec: 'USERPIN_NETWORKID', networkId: imsi, pin };
  if (imsi) return { sec: 'NETWORKID', networkId: imsi };
  if (pin) return { sec: 'USERPIN', pin };
  return undefined;
}

export class BootstrapService {
  constructor(private readonly d: BootstrapDeps) {}

  async doBootstrap(ctx: CallContext, phoneNumber: string, deviceId?: string): Promise<string> {
    const problem = phoneNumberProblem(phoneNumber);
    if (problem) throw invalidArgument('phoneNumber', problem);
    const device = await this.d.tx.stores.devices.getByPhone(phoneNumber);
    if (!device) throw notFound('device with phone number', phoneNumber);
    if (deviceId && canonicalDeviceId(deviceId) !== device.deviceId) {
      throw invalidArgument('deviceId', `phone number ${phoneNumber} belongs to ${device.deviceId}, not ${deviceId}`);
    }
    if (!device.notificationUrl) {
      throw new DmwsiError('InvalidState', `device ${device.deviceId} has no notificationUrl to deliver a bootstrap to`);
    }
    if (!securityOf(device)) {
      throw new DmwsiError(
        'InvalidState',
        `device ${device.deviceId} has neither an "imsi" nor a "bootstrapPin" attribute to sign the bootstrap with`,
      );
    }
    const proposed = crypto.randomUUID();
    const taskId = await idForCall(this.d.retries, ctx, proposed);
    if (taskId !== proposed && (await this.d.tx.stores.tasks.get(taskId))) return taskId;
    const now = this.d.clock.now();
    const task: Task = {
      taskId,
      deviceId: device.deviceId,
      phoneNumber: device.phoneNumber,
      operation: { name: 'BOOTSTRAP', commands: [] },
      status: 'QUEUED',
      results: [],
      bOptin: false,
      acceptDevicePolicy: 30,
      testCycle: false,
      deadline: new Date(now + this.d.taskDeadlineMs),
      ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}),
      createdBy: ctx.caller,
      createdAt: new Date(now),
      updatedAt: new Date(now),
    };
    const wrote = await writeFirst(
      ctx,
      () =>
        this.d.tx.run(async (s) => {
          await s.tasks.insert(task, 'created', `bootstrap for ${device.deviceId}`);
          await s.audit.record({ ...ctx, target: `${device.deviceId} task ${task.taskId}`, outcome: 'ok' }, now);
        }),
      () => this.d.tx.stores.tasks.get(taskId),
    );
    if (wrote) await this.d.schedule(task.taskId);
    return task.taskId;
  }

  /** The background half: build, sign and deliver. Throws to have a retryable failure retried. */
  async deliver(taskId: string): Promise<void> {
    const s = this.d.tx.stores;
    const task = await s.tasks.get(taskId);
    if (task?.status !== 'QUEUED') return;
    const device = await s.devices.get(task.deviceId);
    const security = device ? securityOf(device) : undefined;
    const now = this.d.clock.now();
    if (!device?.notificationUrl || !security) {
      await this.d.tx.run((t) =>
        t.tasks.transition(taskId, 'FAILED', { event: 'bootstrap-impossible', detail: 'no notification URL or key material' }, now),
      );
      return;
    }
    const c = device.credentials;
    // A DM 2.0 device is told to call /dm2: its generation is its capability's, never guessed.
    const dm2 = (await s.capabilities.get(device.capabilityOid))?.dmVersion === '2.0';
    const serverAddress = dm2 && this.d.dm2ServerAddress ? this.d.dm2ServerAddress : this.d.serverAddress;
    const account = buildDmAccount({
      serverId: this.d.serverId,
      serverAddress,
      authType: device.authType,
      clientUsername: c.clientUsername,
      clientPassword: c.clientPassword,
      serverPassword: c.serverPassword,
      clientNonce: c.clientNonce,
      serverNonce: c.serverNonce,
    });
    const message = buildBootstrapMessage(account, {
      sessionId: crypto.randomInt(1, 0x10000).toString(16).toUpperCase(),
      serverId: this.d.serverId,
      deviceId: device.deviceId,
    });
    const { body, contentType } = encodeBootstrap(message, security);
    // Before delivering: a device may open its first session before the delivery call returns.
    await this.d.tx.run((t) => t.devices.setState(device.deviceId, 'BOOTSTRAPPING', now));
    const outcome = await this.d.deliver(device.notificationUrl, body, contentType);
    if (!outcome.delivered) {
      await this.d.tx.run((t) =>
        t.tasks.note(taskId, { event: 'bootstrap-failed', detail: `${outcome.reason} (${security.sec})` }, now),
      );
      if (outcome.retryable) throw new Error(`bootstrap of ${device.deviceId} failed: ${outcome.reason}`);
      await this.d.tx.run((t) => t.tasks.transition(taskId, 'FAILED', { event: 'bootstrap-refused', detail: outcome.reason }, now));
      return;
    }
    const change = {
      event: 'bootstrap-delivered',
      detail: `DMAcc for ${this.d.serverId} at ${serverAddress}, ${security.sec}, ${outcome.detail}`,
    };
    await this.d.tx.run(async (t) => {
      const r = await t.tasks.transition(taskId, 'NOTIFYING', { ...change, from: ['QUEUED'] }, now);
      // The device's first session may already have completed the task: record the delivery all the same.
      if (!r.moved) await t.tasks.note(taskId, change, now);
    });
  }

  /** The first authenticated session of a bootstrapped device completes its bootstrap task(s). */
  async onSessionStarted(deviceId: string, previousState: string, at: number): Promise<void> {
    if (previousState !== 'BOOTSTRAPPING') return;
    const open = await this.d.tx.stores.tasks.openForDevice(deviceId, 'BOOTSTRAP');
    for (const task of open) {
      await this.d.tx.run(async (t) => {
        await t.tasks.transition(task.taskId, 'IN_SESSION', { event: 'session-started', from: ['QUEUED', 'NOTIFYING'] }, at);
        await t.tasks.transition(task.taskId, 'COMPLETED', {
          event: 'bootstrapped',
          from: ['IN_SESSION'],
          detail: 'first session authenticated with the new account',
        }, at);
      });
    }
  }
}
