/**
 * Routes what devices report to whoever asked: command outcomes by request
 * id prefix (e.g. `task:` for the deployment broker), Generic Alerts by
 * correlator prefix, then by alert type. Every alert is recorded; one that no
 * consumer takes is recorded as unhandled and otherwise ignored.
 */
import type { Logger } from 'pino';
import type { SessionEndReason } from '../session/effects.js';
import type { CommandOutcome, DeviceAlert, DmEventSink } from './ports.js';

export interface DeviceAlertLog {
  /**
   * Runs the alert's consumers and records the alert with whether one handled it; the record may be
   * written with a write a consumer makes (a round trip less). Returns whether it was handled.
   */
  recordAround(alert: DeviceAlert, consume: () => Promise<boolean>): Promise<boolean>;
}

export interface RequestConsumer {
  taken?(deviceId: string, requestIds: string[], at: number): Promise<void>;
  outcome(outcome: CommandOutcome): Promise<void>;
}

/** Returns true when it took the alert. */
export type AlertConsumer = (alert: DeviceAlert) => Promise<boolean>;

export type SessionEndConsumer = (deviceId: string, reason: SessionEndReason, at: number) => Promise<void>;

export class DmEventRouter implements DmEventSink {
  private readonly requests: [string, RequestConsumer][] = [];
  private readonly correlators: [string, AlertConsumer][] = [];
  private readonly types = new Map<string, AlertConsumer[]>();
  private readonly sessionEnds: SessionEndConsumer[] = [];
  private readonly sessionStarts: ((deviceId: string, previousState: string, at: number) => Promise<void>)[] = [];

  constructor(
    private readonly alerts: DeviceAlertLog,
    private readonly logger: Logger,
  ) {}

  onRequests(idPrefix: string, consumer: RequestConsumer): void {
    this.requests.push([idPrefix, consumer]);
  }

  onCorrelator(prefix: string, consumer: AlertConsumer): void {
    this.correlators.push([prefix, consumer]);
  }

  onAlertType(alertType: string, consumer: AlertConsumer): void {
    const list = this.types.get(alertType) ?? [];
    list.push(consumer);
    this.types.set(alertType, list);
  }

  onSessionEnded(consumer: SessionEndConsumer): void {
    this.sessionEnds.push(consumer);
  }

  onSessionStarted(consumer: (deviceId: string, previousState: string, at: number) => Promise<void>): void {
    this.sessionStarts.push(consumer);
  }

  async sessionStarted(deviceId: string, previousState: string, at: number): Promise<void> {
    for (const c of this.sessionStarts) await c(deviceId, previousState, at);
  }

  private consumerOf(requestId: string): RequestConsumer | undefined {
    return this.requests.find(([prefix]) => requestId.startsWith(prefix))?.[1];
  }

  async requestsTaken(deviceId: string, requestIds: string[], at: number): Promise<void> {
    for (const id of requestIds) await this.consumerOf(id)?.taken?.(deviceId, [id], at);
  }

  async commandOutcome(outcome: CommandOutcome): Promise<void> {
    const consumer = this.consumerOf(outcome.requestId);
    if (consumer) await consumer.outcome(outcome);
    else this.logger.warn({ ...outcome }, 'DM command outcome with no consumer');
  }

  async genericAlert(alert: DeviceAlert): Promise<boolean> {
    const handled = await this.alerts.recordAround(alert, () => this.consume(alert));
    if (!handled) this.logger.info({ deviceId: alert.deviceId, alertType: alert.alertType }, 'Generic Alert recorded, no consumer');
    return handled;
  }

  /** Offers the alert to its consumers, by correlator first, then by type: whether one handled it. */
  private async consume(alert: DeviceAlert): Promise<boolean> {
    if (alert.correlator) {
      for (const [prefix, consumer] of this.correlators) {
        if (alert.correlator.startsWith(prefix) && (await consumer(alert))) return true;
      }
    }
    for (const consumer of this.types.get(alert.alertType) ?? []) {
      if (await consumer(alert)) return true;
    }
    return false;
  }

  async sessionEnded(deviceId: string, reason: SessionEndReason, at: number): Promise<void> {
    for (const c of this.sessionEnds) await c(deviceId, reason, at);
  }
}
