/**
 * Wakes a device: builds its Package#0 trigger (DM 1.2: MD5 digest over our
 * server credentials and nonce; a device whose capability is DM 2.0: the
 * version 2 notification with SHA256-DIGEST, src/dm2/package0.ts) and hands
 * it to the notification sender.
 */
import crypto from 'node:crypto';
import { decodeNonce } from '../auth/credentials.js';
import { buildTrigger, RESYNC_NONCE, type UiMode } from '../notification/package0.js';
import { encodePackage0V2 } from '../../dm2/package0.js';
import type { DmDevice, NotifiableDevices, NotificationOutcome, NotificationSender, ResyncOffers } from './ports.js';

/**
 * How long after a trigger signed with the resync nonce its session may still authenticate on that nonce: a woken
 * client opens its session within seconds (HTTP) or minutes (SMS, a device that was out of coverage); later, it is
 * challenged once more, as every client on a stale nonce is (one more round trip, nothing lost).
 */
export const RESYNC_OFFER_SECONDS = 600;

export interface NotifyOptions {
  uiMode?: UiMode;
  /** 1..0xFFFF; random when omitted. The device uses it (hex) as the SessionID. */
  sessionId?: number;
  /**
   * Sign with the resync nonce instead of the device's server nonce: for a
   * device that did not answer an earlier trigger, which may hold another
   * nonce than ours (see notify).
   */
  resync?: boolean;
}

export type NotifyResult = NotificationOutcome & { sessionId: number };
/** Wakes one device of a batch whose devices were read together (DeviceNotifier.notifierFor). */
export type Notify = (deviceId: string, opts?: NotifyOptions) => Promise<NotifyResult>;

export class DeviceNotifier {
  constructor(
    private readonly devices: NotifiableDevices,
    private readonly sender: NotificationSender,
    private readonly resyncOffers: ResyncOffers,
  ) {}

  async notify(deviceId: string, opts: NotifyOptions = {}): Promise<NotifyResult> {
    return this.notifyDevice(deviceId, await this.devices.get(deviceId), opts);
  }

  /**
   * For a batch of notifications (a release's notify batch): the devices read
   * in one statement instead of one each, and a function that wakes one of
   * them as `notify` would (a device not found, or not among `deviceIds`, is
   * an unknown device). The reads were a quarter of a batch's statements.
   */
  async notifierFor(deviceIds: readonly string[]): Promise<Notify> {
    const devices = await this.devices.getMany(deviceIds);
    return (deviceId, opts = {}) => this.notifyDevice(deviceId, devices.get(deviceId), opts);
  }

  private async notifyDevice(deviceId: string, device: DmDevice | undefined, opts: NotifyOptions): Promise<NotifyResult> {
    const sessionId = opts.sessionId ?? crypto.randomInt(1, 0x10000);
    if (!device) {
      return { delivered: false, channel: 'none', retryable: false, reason: 'unknown device', attempts: 0, sessionId };
    }
    const stored = opts.resync ? RESYNC_NONCE : triggerNonce(device.state, device.auth.serverNonce);
    const send = async (nonce: Buffer) => {
      // Recorded before the send: the device's Pkg1 may arrive before the sender returns.
      if (nonce === RESYNC_NONCE && device.dmVersion !== '2.0') await this.resyncOffers.offer(deviceId, sessionId, RESYNC_OFFER_SECONDS);
      return this.sender.send(
        {
          deviceId,
          ...(device.notificationUrl ? { notificationUrl: device.notificationUrl } : {}),
          ...(device.smsAddress ? { smsAddress: device.smsAddress } : {}),
        },
        device.dmVersion === '2.0'
          ? // The session id is the NOTIFICATION-ID: a device receiving one twice (a retried send) opens one session.
            encodePackage0V2(
              { serverId: device.auth.serverId, notificationId: sessionId, preferredConType: 0, timestamp: Math.floor(Date.now() / 1000) },
              // DM 2.0 has no server nonce exchange: the digest covers no auth data; TIMESTAMP gives freshness.
              { password: device.auth.serverPassword, authData: Buffer.alloc(0) },
            )
          : buildTrigger({
              uiMode: opts.uiMode ?? 'background',
              initiator: 'server',
              sessionId,
              serverId: device.auth.serverId,
              serverDigestSecret: { serverId: device.auth.serverId, password: device.auth.serverPassword },
              nonce,
            }),
      );
    };
    const outcome = await send(stored);
    // A device refusing a trigger over HTTP (400: its digest check failed) may hold another server
    // nonce than ours: the session that gave it a new one can have died between our storing that
    // nonce and the device receiving our answer (a client adopts a nonce only once answered). The
    // resync nonce, which clients try second (notes §4), brings such a device back; its session
    // then issues a fresh nonce.
    if (!outcome.delivered && !outcome.retryable && outcome.channel === 'http' && stored !== RESYNC_NONCE && device.dmVersion !== '2.0') {
      return { ...(await send(RESYNC_NONCE)), sessionId };
    }
    return { ...outcome, sessionId };
  }
}

/**
 * A device we have never had a session with does not know the server nonce
 * we generated (a factory-provisioned or imported device): sign with the
 * resync nonce (4 zero bytes, notes §4), which clients try when the stored
 * nonce fails. A bootstrapped device received our nonce in its DMAcc.
 */
function triggerNonce(state: string, serverNonce: string | undefined): Buffer {
  if (state === 'REGISTERED' || !serverNonce) return RESYNC_NONCE;
  return decodeNonce(serverNonce);
}
