/**
 * Requests whose answer was lost with the session that sent them.
 *
 * A session's state lives in Redis between messages, but nothing ends a
 * session whose device stopped talking: the gateway process serving it was
 * killed, the device gave up after a 5xx or a timeout, or the reply never
 * reached it. Its requests stay queued (they are removed only once their
 * outcome is known), so the device's next session would take them again and
 * send them a second time, although the device may already have run them: a
 * SingleShotExec armed twice runs twice.
 *
 * So every request is marked with the token of the session that sent it
 * (written with that session's state, before the reply leaves). A session
 * that finds a queued request marked by another session does not send it;
 * in the message where the device authenticates its new session (no one
 * else may decide the fate of its requests, and a message replayed to an
 * old session's RespURI proves nothing), the request is reported
 * `undelivered` (sent, no status, 'session-lost') and removed, and its
 * requester decides, as for any answer lost mid-session: the deployment
 * broker asks the device whether the schedule is there before arming it
 * again. What the requester queues in answer goes out in the reply to that
 * same message (the DM server runs the step again with it).
 */
import { withCorrelation } from '../../observability/correlation.js';
import type { SessionState } from '../session/state.js';
import type { RequestFacts, ServerCommandRequest } from '../session/server-commands.js';
import type { DeviceRequestQueue, DmEventSink, PendingRequests } from './ports.js';

/** The requests this session may send, and those another session sent without an answer. */
export function splitLost(
  queued: PendingRequests,
  token: string,
  state: SessionState | undefined,
): { sendable: ServerCommandRequest[]; lost: string[] } {
  const sendable: ServerCommandRequest[] = [];
  const lost: string[] = [];
  for (const request of queued.requests) {
    const sentIn = queued.sentIn.get(request.requestId);
    const ours = sentIn === undefined || sentIn === token || state?.requests.some((r) => r.requestId === request.requestId);
    if (ours) sendable.push(request);
    else lost.push(request.requestId);
  }
  return { sendable, lost };
}

/** Reports the lost requests to their requesters, then takes them off the queue (a failure leaves them for next time). */
export async function reportLost(
  deviceId: string,
  lost: string[],
  now: number,
  deps: {
    events: DmEventSink;
    queue: DeviceRequestQueue;
    correlationOf?: (requestId: string) => string | undefined;
    factsOf?: (requestId: string) => RequestFacts | undefined;
  },
  /** The reporting session goes on and takes what their requesters queue instead (e.g. a probe). */
  followUpInSession = false,
): Promise<void> {
  if (lost.length === 0) return;
  for (const requestId of lost) {
    const facts = deps.factsOf?.(requestId);
    await withCorrelation(deps.correlationOf?.(requestId), () => deps.events.commandOutcome({
      deviceId,
      requestId,
      at: now,
      outcome: 'undelivered',
      results: [],
      reason: 'session-lost',
      delivery: 'sent-no-status',
      ...(followUpInSession ? { followUpInSession } : {}),
      ...(facts !== undefined ? { facts } : {}),
    }));
  }
  await deps.queue.remove(deviceId, lost);
}

/** Queued requests that the new state has sent and that are not marked as this session's yet. */
export function newlySent(state: SessionState | undefined, queued: PendingRequests, token: string): string[] {
  if (!state) return [];
  const inQueue = new Set(queued.requests.map((r) => r.requestId));
  return state.requests
    .filter((r) => r.sent && inQueue.has(r.requestId) && queued.sentIn.get(r.requestId) !== token)
    .map((r) => r.requestId);
}
