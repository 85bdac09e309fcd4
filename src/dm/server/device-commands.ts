/**
 * What other parts of the gateway call to have a device do something: queue
 * a request for its next session (idempotent by request id) and, when asked,
 * wake it with a notification. Outcomes come back through the event router.
 */
import { correlationId } from '../../observability/correlation.js';
import type { ServerCommandRequest } from '../session/server-commands.js';
import type { DeviceNotifier, Notify, NotifyOptions, NotifyResult } from './notifier.js';
import type { DeviceRequestQueue } from './ports.js';

export interface SubmitResult {
  /** false: a request with this id was already queued (nothing added). */
  queued: boolean;
  notification?: NotifyResult;
}

export class DeviceCommandService {
  constructor(
    private readonly queue: DeviceRequestQueue,
    private readonly notifier: DeviceNotifier,
  ) {}

  async submit(
    deviceId: string,
    request: ServerCommandRequest,
    opts: { notify?: boolean } & NotifyOptions = {},
  ): Promise<SubmitResult> {
    // Queued under the id of the work asking for it: its outcome is handed back under the same id.
    const cid = request.correlationId ?? correlationId();
    const queued = await this.queue.enqueue(deviceId, cid === undefined ? request : { ...request, correlationId: cid });
    if (!opts.notify) return { queued };
    return { queued, notification: await this.notifier.notify(deviceId, opts) };
  }

  notify(deviceId: string, opts: NotifyOptions = {}): Promise<NotifyResult> {
    return this.notifier.notify(deviceId, opts);
  }

  /** See DeviceNotifier.notifierFor. */
  notifierFor(deviceIds: readonly string[]): Promise<Notify> {
    return this.notifier.notifierFor(deviceIds);
  }

  pending(deviceId: string): Promise<ServerCommandRequest[]> {
    return this.queue.pending(deviceId);
  }

  /**
   * Removes requests no session has sent yet. One already sent runs its
   * course: its outcome still comes back, or its loss is reported when the
   * session turns out dropped, so that its requester can undo it.
   */
  withdraw(deviceId: string, requestIds: string[]): Promise<void> {
    return this.queue.removeUnsent(deviceId, requestIds);
  }
}
