/** Prometheus metrics, one registry per gateway instance (tests run several in one process). */
import client from 'prom-client';
import type { DmSessionMetrics } from '../dm/server/dm-server.js';
import type { SoapMetrics } from '../wsi/soap-endpoint.js';
import { dmSessionMetrics } from './dm-session-metrics.js';
import { type NotificationCounters, notificationCounters } from './notification-metrics.js';

export class GatewayMetrics implements SoapMetrics {
  readonly registry = new client.Registry();
  /** DM sessions started, completed, failed by reason, their duration. */
  readonly dmSessions: DmSessionMetrics = dmSessionMetrics(this.registry);
  /** Package#0 triggers and bootstrap pushes, sent and failed by channel. */
  readonly notifications: NotificationCounters = notificationCounters(this.registry);
  private readonly soapDuration: client.Histogram<'service' | 'operation' | 'outcome'>;
  private readonly soapRequests: client.Counter<'service' | 'operation' | 'outcome'>;

  constructor(defaultMetrics = true) {
    if (defaultMetrics) client.collectDefaultMetrics({ register: this.registry, prefix: 'dmwsi_' });
    this.soapDuration = new client.Histogram({
      name: 'dmwsi_soap_request_duration_seconds',
      help: 'Time to answer a SOAP request, by service, operation and outcome (ok or a fault code)',
      labelNames: ['service', 'operation', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [this.registry],
    });
    this.soapRequests = new client.Counter({
      name: 'dmwsi_soap_requests_total',
      help: 'SOAP requests answered, by service, operation and outcome',
      labelNames: ['service', 'operation', 'outcome'],
      registers: [this.registry],
    });
  }

  private dmMessages: client.Histogram<'status'> | undefined;

  /** DM messages answered, by HTTP status. */
  observeDm(status: number, seconds: number): void {
    this.dmMessages ??= new client.Histogram({
      name: 'dmwsi_dm_message_duration_seconds',
      help: 'Time to answer a DM client message, by HTTP status',
      labelNames: ['status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.dmMessages.observe({ status: String(status) }, seconds);
  }

  private downloads: DownloadCounters | undefined;

  /** Package downloads (GET /dl): started, completed, refused, bytes read for them. */
  get download(): DownloadCounters {
    this.downloads ??= {
      started: new client.Counter({ name: 'dmwsi_downloads_started_total', help: 'Package downloads begun (a valid link, the file being sent)', registers: [this.registry] }),
      completed: new client.Counter({ name: 'dmwsi_downloads_completed_total', help: 'Package downloads sent to the end (whole file or range)', registers: [this.registry] }),
      refused: new client.Counter({ name: 'dmwsi_downloads_refused_total', help: 'Download links refused (403: forged, expired, or the task no longer open)', registers: [this.registry] }),
      bytes: new client.Counter({ name: 'dmwsi_download_bytes_total', help: 'Package bytes read from disk for downloads', registers: [this.registry] }),
      inFlight: new client.Gauge({ name: 'dmwsi_downloads_in_flight', help: 'Package downloads being sent now (begun, response not yet closed)', registers: [this.registry] }),
      inFlightPeak: new client.Gauge({
        name: 'dmwsi_downloads_in_flight_peak',
        help: 'The most package downloads this process has had in flight at once since it started',
        registers: [this.registry],
      }),
    };
    return this.downloads;
  }

  private uploadCounter: client.Counter<'outcome'> | undefined;

  /** Package uploads (PUT /content), by outcome (stored, mismatch, too-large, refused). */
  upload(outcome: string): void {
    this.uploadCounter ??= new client.Counter({
      name: 'dmwsi_content_uploads_total',
      help: 'Package uploads by outcome',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.uploadCounter.inc({ outcome });
  }

  observe(service: string, operation: string, outcome: string, seconds: number): void {
    const labels = { service, operation, outcome };
    this.soapRequests.inc(labels);
    this.soapDuration.observe(labels, seconds);
  }
}

export interface DownloadCounters {
  started: client.Counter;
  completed: client.Counter;
  refused: client.Counter;
  bytes: client.Counter;
  inFlight: client.Gauge;
  inFlightPeak: client.Gauge;
}
