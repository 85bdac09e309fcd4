/** Applies a session step's effects to the registry, the request queue and the event sink. */
import type { DeviceContactPatch, DeviceReportedInfo } from '../../domain/registry.js';
import { withCorrelation } from '../../observability/correlation.js';
import { DEVDETAIL_REQUEST_ID, type RequestFacts, type SessionEffect } from '../session/index.js';
import type { CommandOutcome, DmDevice, DmDeviceDirectory, DmEventSink, DeviceRequestQueue } from './ports.js';

interface Deps {
  devices: DmDeviceDirectory;
  queue: DeviceRequestQueue;
  events: DmEventSink;
  /** The correlation id a queued request carries: its requester handles its outcome under it. */
  correlationOf?: (requestId: string) => string | undefined;
  /** The facts a queued request carries: handed back with its outcome (CommandOutcome.facts). */
  factsOf?: (requestId: string) => RequestFacts | undefined;
}

/**
 * `authenticated`: the message proved to be the device (the session is
 * authenticated after it). One that did not changes nothing about the
 * device (no contact, no state, no events), but for the nonce its Chal
 * carried when the device had none yet.
 */
export async function applyEffects(
  effects: SessionEffect[],
  device: DmDevice | undefined,
  now: number,
  authenticated: boolean,
  deps: Deps,
  /**
   * The session takes requests queued in answer to these results and alerts (see CommandOutcome). Not
   * to a request the device left unanswered: sent again at once, it could go round in one session.
   */
  followUpInSession = false,
): Promise<void> {
  if (!device) return;
  const followUp = followUpInSession ? { followUpInSession } : {};
  const cid = (requestId: string) => deps.correlationOf?.(requestId);
  const factsOf = (requestId: string) => {
    const facts = deps.factsOf?.(requestId);
    return facts === undefined ? {} : { facts };
  };
  const deviceId = device.auth.deviceId;
  if (!authenticated) {
    for (const e of effects) {
      if (e.type === 'client-nonce-issued') await deps.devices.recordContact(deviceId, { clientNonce: e.nonce });
    }
    return;
  }
  const patch = contactPatch(effects, device, now);
  const apply = async () => {
    const finished: string[] = [];
    /** A request's outcome to its requester, under its correlation id, with its facts; it leaves the queue after. */
    const finish = (requestId: string, what: Omit<CommandOutcome, 'deviceId' | 'requestId' | 'at' | 'facts'>) => {
      finished.push(requestId);
      return withCorrelation(cid(requestId), () => deps.events.commandOutcome({ deviceId, requestId, at: now, ...what, ...factsOf(requestId) }));
    };
    for (const e of effects) {
      switch (e.type) {
        case 'session-started':
          await deps.events.sessionStarted(deviceId, device.state, now);
          break;
        case 'requests-taken': {
          const ids = e.requestIds.filter((id) => id !== DEVDETAIL_REQUEST_ID);
          // One at a time (as the router hands them out), each under its own request's id.
          for (const id of ids) await withCorrelation(cid(id), () => deps.events.requestsTaken(deviceId, [id], now));
          break;
        }
        case 'command-result':
          if (e.requestId === DEVDETAIL_REQUEST_ID) break;
          await finish(e.requestId, {
            outcome: 'completed',
            results: e.results,
            ...(e.containerStatus !== undefined ? { containerStatus: e.containerStatus } : {}),
            ...followUp,
          });
          break;
        case 'request-rejected':
          await finish(e.requestId, { outcome: 'rejected', results: [], reason: e.reason });
          break;
        case 'command-undelivered':
          // Not sent: it stays queued for the next session. Sent without (full)
          // answer: the requester decides, since running it again may not be safe.
          if (e.delivery === 'not-sent' || e.requestId === DEVDETAIL_REQUEST_ID) break;
          await finish(e.requestId, { outcome: 'undelivered', results: e.results, reason: e.reason, delivery: e.delivery });
          break;
        case 'generic-alert': {
          const { type: _t, sessionId: _s, ...alert } = e;
          await deps.events.genericAlert({ ...alert, deviceId, at: now, ...followUp });
          break;
        }
        case 'session-ended':
          await deps.events.sessionEnded(deviceId, e.reason, now);
          break;
        default:
          break;
      }
    }
    if (finished.length) await deps.queue.remove(deviceId, finished);
  };
  // The contact is known before the events run: the directory may write it with a write they make.
  if (patch) await deps.devices.recordContactAround(deviceId, patch, apply);
  else await apply();
}

/** What an authenticated message's effects record of the device; undefined when there is nothing to write. */
function contactPatch(effects: SessionEffect[], device: DmDevice, now: number): DeviceContactPatch | undefined {
  const patch: DeviceContactPatch = { lastContact: new Date(now) };
  let info: DeviceReportedInfo | undefined;
  let started = false;
  for (const e of effects) {
    switch (e.type) {
      case 'session-started':
        started = true;
        // The first authenticated session completes a bootstrap, or activates a registered device.
        if (device.state !== 'ACTIVE') patch.state = 'ACTIVE';
        break;
      case 'client-nonce-issued':
        patch.clientNonce = e.nonce;
        break;
      case 'server-nonce-issued':
        patch.serverNonce = e.nonce;
        break;
      case 'devinfo':
        info = { ...info, devId: e.devId, man: e.man, mod: e.mod, dmV: e.dmV, lang: e.lang, reportedAt: now };
        break;
      case 'devdetail': {
        const { fwV, swV, hwV, devTyp, oem, lrgObj } = e;
        info = { ...info, detail: { fwV, swV, hwV, devTyp, oem, lrgObj }, reportedAt: now };
        break;
      }
      default:
        break;
    }
  }
  // Only what this message learned: the store merges it over dev_info as stored (DeviceContactPatch),
  // which keeps what consumers of its outcomes wrote there meanwhile (the MO roots the gateway found).
  if (info) patch.devInfo = info;
  return info || patch.state || patch.clientNonce || patch.serverNonce || started ? patch : undefined;
}
