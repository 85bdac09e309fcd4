/**
 * Starts a real gateway for a test: its own SQLite file (or PostgreSQL
 * schema), its own Redis key prefix, an ephemeral port, and a known admin.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { type Config, loadConfig } from '../../src/config/config.js';
import { type Gateway, type GatewayOptions, startGateway } from '../../src/main/gateway.js';
import { dropSchema, newSchemaName } from './postgres.js';

export const ADMIN = { username: 'admin', password: 'admin-password-1' };

export interface TestGateway extends Gateway {
  config: Config;
  dir: string;
  stop(): Promise<void>;
}

export interface TestGatewayOptions {
  /** A PostgreSQL URL to use instead of a fresh SQLite file. */
  postgresUrl?: string;
  overrides?: Partial<Config>;
  gateway?: GatewayOptions;
}

export async function startTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-test-'));
  const schema = opts.postgresUrl ? newSchemaName() : undefined;
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      redisUrl: inject('redisUrl'),
      dataDir: dir,
      databaseUrl: opts.postgresUrl ?? `sqlite:${path.join(dir, 'gateway.sqlite')}`,
      databaseSchema: schema,
      adminUser: ADMIN.username,
      adminPassword: ADMIN.password,
      secretKey: crypto.randomBytes(32).toString('hex'),
      queuePrefix: `test-${crypto.randomBytes(4).toString('hex')}`,
      logLevel: 'silent',
      // A loaded test box runs every in-process gateway's loop late: its own DM messages would be
      // refused. Lag shedding has its own test (test/integration/dm/dm-event-loop-lag.test.ts).
      dmMaxEventLoopLagMs: 0,
      ...opts.overrides,
    },
  );
  const gateway = await startGateway(config, opts.gateway);
  return {
    ...gateway,
    config,
    dir,
    stop: async () => {
      await gateway.close();
      if (opts.postgresUrl && schema) await dropSchema(opts.postgresUrl, schema);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
