import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { luhnValid } from '../../../../src/domain/device-id.js';
import {
  buildSimulateCommand,
  parseListen,
  runSimulateCommand,
  type SimulateOptions,
} from '../../../../src/simulator/cli.js';

describe('dmwsi simulate', () => {
  it('parses every option', async () => {
    const cmd = buildSimulateCommand();
    let seen: SimulateOptions | undefined;
    cmd.action((opts: SimulateOptions) => {
      seen = opts;
    });
    await cmd.parseAsync(
      [
        '--devices', '250',
        '--server', 'http://gw:8080/dm',
        '--listen', '0.0.0.0:9000',
        '--id-prefix', 'IMEI:',
        '--imei-start', '35000000000000',
        '--encoding', 'wbxml',
        '--opaque-data',
        '--auth', 'hmac',
        '--offline-share', '0.1',
        '--latency-ms', '20',
        '--failure-rate', '0.05',
        '--sse-root', './Vendor/SSE',
        '--credentials-csv', '/tmp/x.csv',
        '--capability-oid', 'cap-9',
      ],
      { from: 'user' },
    );
    expect(seen).toMatchObject({
      devices: 250,
      server: 'http://gw:8080/dm',
      listen: '0.0.0.0:9000',
      idPrefix: 'IMEI:',
      imeiStart: '35000000000000',
      encoding: 'wbxml',
      opaqueData: true,
      auth: 'hmac',
      offlineShare: 0.1,
      latencyMs: { minMs: 20, maxMs: 20 },
      failureRate: 0.05,
      sseRoot: './Vendor/SSE',
      credentialsCsv: '/tmp/x.csv',
      capabilityOid: 'cap-9',
    });
  });

  it('reads the network flags: a latency range, lost messages, random come-online moments, dropped first notifications', async () => {
    const cmd = buildSimulateCommand();
    let seen: SimulateOptions | undefined;
    cmd.action((opts: SimulateOptions) => {
      seen = opts;
    });
    await cmd.parseAsync(
      ['--latency-ms', '300-3000', '--fail-share', '0.02', '--offline-share', '0.1', '--come-online-within-ms', '60000', '--ignore-first-notification-share', '0.05'],
      { from: 'user' },
    );
    expect(seen).toMatchObject({
      latencyMs: { minMs: 300, maxMs: 3000 },
      failShare: 0.02,
      offlineShare: 0.1,
      comeOnlineWithinMs: 60_000,
      ignoreFirstNotificationShare: 0.05,
    });
    const strict = buildSimulateCommand().exitOverride().configureOutput({ writeErr: () => {} });
    strict.action(() => {});
    await expect(strict.parseAsync(['--latency-ms', '3000-300'], { from: 'user' })).rejects.toThrow(/ends below its start/);
  });

  it('rejects a failure rate above 1', async () => {
    const cmd = buildSimulateCommand().exitOverride().configureOutput({ writeErr: () => {} });
    cmd.action(() => {});
    await expect(cmd.parseAsync(['--failure-rate', '2'], { from: 'user' })).rejects.toThrow(/from 0 to 1/);
  });

  it('takes several comma-separated DM server URLs and refuses a list with a bad one', async () => {
    let seen: SimulateOptions | undefined;
    const cmd = buildSimulateCommand().exitOverride().configureOutput({ writeErr: () => {} });
    cmd.action((opts: SimulateOptions) => {
      seen = opts;
    });
    await cmd.parseAsync(['--server', 'http://127.0.0.1:1001/dm,http://127.0.0.1:1002/dm'], { from: 'user' });
    expect(seen?.server).toBe('http://127.0.0.1:1001/dm,http://127.0.0.1:1002/dm');
    const bad = buildSimulateCommand().exitOverride().configureOutput({ writeErr: () => {} });
    bad.action(() => {});
    await expect(bad.parseAsync(['--server', 'http://127.0.0.1:1001/dm,nope'], { from: 'user' })).rejects.toThrow(/http\(s\) URL/);
  });

  it('reads host:port forms', () => {
    expect(parseListen('127.0.0.1:8091')).toEqual({ host: '127.0.0.1', port: 8091 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':7000')).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(() => parseListen('host:99999')).toThrow();
  });

  it('starts a fleet whose devices send every node value as OPAQUE with --opaque-data', async () => {
    const handle = await runSimulateCommand(
      { devices: 1, listen: '127.0.0.1:0', encoding: 'wbxml', opaqueData: true, statsInterval: 0, secretSeed: 'x' },
      () => {},
    );
    try {
      expect(handle.fleet.profile).toMatchObject({ encoding: 'wbxml', opaqueItemData: true });
    } finally {
      await handle.stop();
    }
  });

  it('gives the fleet FUMO/SCOMO roots, failure shares and a repeatable random from the delivery flags', async () => {
    const cmd = buildSimulateCommand();
    let parsed: Record<string, unknown> = {};
    cmd.action((o: Record<string, unknown>) => {
      parsed = o;
    });
    const flags = ['--fumo-root', './FUMO', '--scomo-root', './SCOMO', '--corrupt-package-share', '0.1'];
    await cmd.parseAsync([...flags, '--install-failed-share', '0.2', '--install-ms', '50', '--random-seed', '42'], { from: 'user' });
    const start = (seed: number) =>
      runSimulateCommand({ ...parsed, devices: 1, listen: '127.0.0.1:0', statsInterval: 0, secretSeed: 'x', randomSeed: seed }, () => {});
    const [a, b] = [await start(42), await start(42)];
    try {
      expect(a.fleet.profile).toMatchObject({
        fumoRoot: './FUMO',
        scomoRoot: './SCOMO',
        delivery: { installMs: 50, failureShares: { corruptPackage: 0.1, installFailed: 0.2, downloadFailed: 0 } },
      });
      const draws = (h: typeof a) => Array.from({ length: 5 }, () => h.fleet.profile.random());
      expect(draws(a)).toEqual(draws(b));
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('starts a fleet and writes the credentials CSV', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmwsi-sim-'));
    try {
      const file = join(dir, 'devices.csv');
      const log = vi.fn();
      const handle = await runSimulateCommand(
        { devices: 3, listen: '127.0.0.1:0', credentialsCsv: file, statsInterval: 0, secretSeed: 'x' },
        log,
      );
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      expect(lines).toHaveLength(4);
      const [id, phone, cap, url] = lines[1]!.split(',');
      expect(id).toMatch(/^IMEI:\d{15}$/);
      expect(luhnValid(id!.slice(5))).toBe(true);
      expect(phone).toBe('+15550000001');
      expect(cap).toBe('sim-phone-1');
      expect(url).toBe(`${handle.url}/notify/${encodeURIComponent(id!)}`);
      expect(handle.fleet.profile.opaqueItemData).toBe(false);
      await handle.stop();
      expect(log).toHaveBeenCalled();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
