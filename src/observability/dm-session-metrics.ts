/**
 * DM sessions as Prometheus counts: started, completed, failed by reason, and
 * how long they lasted. Only counter increments and histogram observations on
 * the DM hot path, with label values from a closed set (no device ids).
 */
import client from 'prom-client';
import type { DmSessionMetrics } from '../dm/server/dm-server.js';
import type { SessionEndReason } from '../dm/session/effects.js';

/** Sessions last from one message (0 s) to minutes (a Large Object, a user answering a UI alert). */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

const FAILURE_REASONS: readonly string[] = ['client-abort', 'auth-failed', 'server-auth-failed', 'unknown-device', 'too-many-sessions'];

export function dmSessionMetrics(registry: client.Registry): DmSessionMetrics {
  const started = new client.Counter({
    name: 'dmwsi_dm_sessions_started_total',
    help: 'DM sessions started (the device authenticated)',
    registers: [registry],
  });
  const completed = new client.Counter({
    name: 'dmwsi_dm_sessions_completed_total',
    help: 'DM sessions that ended normally (nothing more to send, Final)',
    registers: [registry],
  });
  const failed = new client.Counter<'reason'>({
    name: 'dmwsi_dm_sessions_failed_total',
    help:
      'DM sessions that ended otherwise or were refused, by reason (client-abort, auth-failed, server-auth-failed, unknown-device; ' +
      'too-many-sessions: refused at DM_MAX_SESSIONS)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const duration = new client.Histogram<'outcome'>({
    name: 'dmwsi_dm_session_duration_seconds',
    help: 'From the first authenticated message of a DM session to its end, by outcome (completed or failed)',
    labelNames: ['outcome'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  // The series exist from the start (at 0), so a rate over them needs no first event.
  const completedDuration = duration.labels('completed');
  const failedDuration = duration.labels('failed');
  for (const reason of FAILURE_REASONS) failed.labels(reason);
  return {
    started: () => started.inc(),
    ended: (reason: SessionEndReason, seconds: number) => {
      if (reason === 'completed') {
        completed.inc();
        completedDuration.observe(seconds);
      } else {
        failed.inc({ reason });
        failedDuration.observe(seconds);
      }
    },
    // Never started: no duration.
    refused: (reason) => failed.inc({ reason }),
  };
}
