/**
 * What other parts of the gateway call to have a device do something: queue
 * a request for its next session (idempotent by request id) and, when asked,
 * wake it with a notification. Outcomes come back through the event router.
 */
import type { ServerCommandRequest } from '../session/server-commands.js';
import type { DeviceNotifier, NotifyOptions, NotifyResult } from './notifier.js';
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
    const queued = await this.queue.enqueue(deviceId, request);
    if (!opts.notify) return { queued };
    return { queued, notification: await this.notifier.notify(deviceId, opts) };
  }

  notify(deviceId: string, opts: NotifyOptions = {}): Promise<NotifyResult> {
    return this.notifier.notify(deviceId, opts);
  }

  pending(deviceId: string): Promise<ServerCommandRequest[]> {
    return this.queue.pending(deviceId);
  }

  /** Removes requests no session has taken yet (one already in a session runs its course). */
  withdraw(deviceId: string, requestIds: string[]): Promise<void> {
    return this.queue.remove(deviceId, requestIds);
  }
}
