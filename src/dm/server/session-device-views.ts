/**
 * The device account a DM process served a session's last message with, kept for that session's next
 * message, so that a continuing message costs no registry read. On PostgreSQL with split roles that read
 * is a round trip of ~0.2 ms of the box's CPU (client and server) in every continuing message.
 *
 * A view is used only when this process stored the session state the next message arrives with (the
 * same token and the very same serialized state): then no other process served the session since, and
 * the view is the registry row as this process left it, its own writes applied (`afterContact`). A
 * message served by another process (no sticky routing behind a load balancer) reads the registry as
 * before. What another writer changes in the account during an open session (an operator's update, a
 * delete) applies from the next message that reads the registry, at the latest the next session: the
 * session authenticated once on the account as it was.
 */
import type { DeviceContactPatch } from '../../domain/registry.js';
import type { DmDevice, DmDeviceDirectory } from './ports.js';

interface SessionDeviceView {
  token: string;
  /** The session state as this process stored it: the next message's state must be this one. */
  state: string;
  device: DmDevice;
  /** Epoch ms after which the view is not used (the session's TTL). */
  until: number;
}

/**
 * Views kept at most: one per session open on this process (~1 KiB of account and ~2–3 KiB of state
 * each); beyond it the oldest go, and their next message reads the registry.
 */
const MAX_VIEWS = 10_000;

export class SessionDeviceViews {
  private readonly views = new Map<string, SessionDeviceView>();

  constructor(private readonly max = MAX_VIEWS) {}

  /** The view for a message of session `token` that arrives with stored state `state`, if this process left it. */
  take(deviceId: string, token: string, state: string | undefined, now: number): DmDevice | undefined {
    const view = this.views.get(deviceId);
    if (view === undefined) return undefined;
    this.views.delete(deviceId);
    return view.token === token && view.state === state && view.until > now ? view.device : undefined;
  }

  /** Whether a view is kept for this device (then the message may wait for its session's state before reading). */
  has(deviceId: string): boolean {
    return this.views.has(deviceId);
  }

  keep(deviceId: string, view: SessionDeviceView): void {
    this.views.delete(deviceId);
    if (this.views.size >= this.max) {
      const oldest = this.views.keys().next();
      if (!oldest.done) this.views.delete(oldest.value);
    }
    this.views.set(deviceId, view);
  }

  forget(deviceId: string): void {
    this.views.delete(deviceId);
  }

  get size(): number {
    return this.views.size;
  }
}

/** The account as the registry holds it after `patch` (DeviceContactPatch: devInfo merged at the top level). */
export function afterContact(device: DmDevice, patch: DeviceContactPatch): DmDevice {
  const auth = {
    ...device.auth,
    ...(patch.clientNonce ? { clientNonce: patch.clientNonce } : {}),
    ...(patch.serverNonce ? { serverNonce: patch.serverNonce } : {}),
  };
  return {
    ...device,
    auth,
    ...(patch.state ? { state: patch.state } : {}),
    ...(patch.devInfo ? { devInfo: { ...device.devInfo, ...patch.devInfo } } : {}),
  };
}

/**
 * The directory as one message's effects see it, with the account as its contact writes leave it: the
 * view the session's next message may be served with.
 */
export function trackingContact(devices: DmDeviceDirectory, device: DmDevice | undefined): { devices: DmDeviceDirectory; view: () => DmDevice | undefined } {
  let view = device;
  return {
    devices: {
      get: (deviceId) => devices.get(deviceId),
      recordContact: async (deviceId, patch) => {
        await devices.recordContact(deviceId, patch);
        if (view !== undefined && view.auth.deviceId === deviceId) view = afterContact(view, patch);
      },
      recordContactAround: async (deviceId, patch, work) => {
        const result = await devices.recordContactAround(deviceId, patch, work);
        if (view !== undefined && view.auth.deviceId === deviceId) view = afterContact(view, patch);
        return result;
      },
    },
    view: () => view,
  };
}
