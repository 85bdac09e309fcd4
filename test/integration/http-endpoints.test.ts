/** Liveness, readiness and Prometheus metrics. */
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { createHttpApp } from '../../src/transport/http-app.js';
import { call, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw?.stop());

describe('operational endpoints', () => {
  it('answers /healthz', async () => {
    const r = await fetch(`${gw.url}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('ok\n');
  });

  it('answers /readyz with the database and Redis checks', async () => {
    const r = await fetch(`${gw.url}/readyz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      ready: true,
      checks: [
        { name: 'database', ok: true },
        { name: 'redis', ok: true },
      ],
    });
  });

  it('answers /readyz with 503 and the reason when a dependency is down', async () => {
    const app = createHttpApp({
      routers: [express.Router()],
      metrics: new GatewayMetrics(false),
      logger: createLogger('silent'),
      readiness: [
        { name: 'database', check: async () => undefined },
        {
          name: 'redis',
          check: async () => {
            throw new Error('connect ECONNREFUSED');
          },
        },
      ],
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const port = (server.address() as { port: number }).port;
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ ready: false, checks: [{ ok: true }, { ok: false, error: 'connect ECONNREFUSED' }] });
    } finally {
      server.close();
    }
  });

  it('counts SOAP requests and their latency per operation and outcome in /metrics', async () => {
    const dm = await soapClient(gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
    await call(dm, 'getDeviceInstances', { userSession: '', offset: 0, limit: 1 });
    await call(dm, 'getDeviceCapabilityByOid', { userSession: '', oid: 'none' }).catch(() => undefined);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(
      /dmwsi_soap_requests_total\{service="DeviceManager",operation="getDeviceInstances",outcome="ok"\} 1/,
    );
    expect(text).toMatch(/operation="getDeviceCapabilityByOid",outcome="NotFound"\} 1/);
    expect(text).toMatch(/dmwsi_soap_request_duration_seconds_bucket\{le="0.005",service="DeviceManager"/);
    expect(text).toContain('dmwsi_process_resident_memory_bytes');
  });
});
