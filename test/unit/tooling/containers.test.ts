/**
 * The container files (README, "Containers"): the Dockerfile runs as a
 * non-root user with production dependencies only and a healthcheck; the
 * compose file splits the gateway into api, dm and worker on one image, with
 * Redis append-only and PostgreSQL, both healthy before any role starts and
 * the schema migrated once first. The compose file is read by Python's YAML
 * parser where one is installed (Debian python3-yaml), else skipped; `docker
 * compose config` is not used, as it needs the compose plugin.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const hasPyYaml = spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0;

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
}

function compose(): { services: Record<string, Service>; volumes: Record<string, unknown> } {
  const r = spawnSync('python3', ['-c', 'import sys, yaml, json; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)', path.join(ROOT, 'docker-compose.yml')], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`docker-compose.yml is not valid YAML: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('Dockerfile', () => {
  const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const final = text.slice(text.lastIndexOf('\nFROM '));

  it('runs as a non-root user, with production dependencies only and a healthcheck', () => {
    expect(final).toMatch(/^USER node$/m);
    expect(text).toMatch(/npm prune --omit=dev/);
    expect(final).toMatch(/COPY --from=build \/app\/node_modules node_modules/);
    expect(final).not.toMatch(/COPY (src|test) /);
    expect(final).toMatch(/^HEALTHCHECK .*\/healthz/m);
  });
});

describe.skipIf(!hasPyYaml)('docker-compose.yml', () => {
  it('runs api, dm and worker from one image, each its role, after a healthy Redis and PostgreSQL and one migration', () => {
    const { services } = compose();
    for (const role of ['api', 'dm', 'worker']) {
      const s = services[role]!;
      expect(s.image).toBe(services.migrate!.image);
      expect(s.build).toBe('.');
      expect(s.command).toEqual(['serve', '--role', role]);
      expect(s.depends_on).toEqual({
        redis: { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
      expect(s.environment).toMatchObject({ NODE_ENV: 'production', REDIS_URL: 'redis://redis:6379' });
      expect(s.environment!.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
      for (const name of ['DMWSI_SECRET_KEY', 'PUBLIC_DM_URL']) expect(s.environment![name]).toBeTruthy();
    }
    expect(services.migrate!.command).toEqual(['migrate']);
    // Only the api creates the first admin: two processes would race to.
    expect(Object.keys(services.api!.environment!)).toContain('DMWSI_ADMIN_PASSWORD');
    for (const role of ['dm', 'worker']) expect(Object.keys(services[role]!.environment!)).not.toContain('DMWSI_ADMIN_PASSWORD');
    // Uploads are served by api and dm alike: one CONTENT_DIR.
    for (const role of ['api', 'dm']) expect(services[role]!.volumes).toContain('content:/data/content');
  });

  it('keeps Redis append-only and PostgreSQL on volumes, both with healthchecks', () => {
    const { services, volumes } = compose();
    const redis = services.redis!;
    expect(redis.command?.join(' ')).toMatch(/--appendonly yes/);
    expect(redis.volumes).toContain('redis-data:/data');
    expect(redis.healthcheck?.test.join(' ')).toMatch(/redis-cli ping/);
    const pg = services.postgres!;
    expect(pg.volumes).toContain('pg-data:/var/lib/postgresql/data');
    expect(pg.healthcheck?.test.join(' ')).toMatch(/pg_isready/);
    // PostgreSQL 13 or later (xid8, pg_current_xact_id: webhook events).
    expect(Number(/postgres:(\d+)/.exec(pg.image ?? '')?.[1])).toBeGreaterThanOrEqual(13);
    expect(Object.keys(volumes)).toEqual(expect.arrayContaining(['content', 'redis-data', 'pg-data']));
  });
});
