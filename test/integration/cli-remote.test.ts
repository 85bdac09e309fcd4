/**
 * The `dmwsi` binary as a script or an operator runs it: the compiled CLI
 * (bin/dmwsi.mjs, needs a build) in a child process, against a gateway and a
 * small simulated fleet started here, over the real SOAP API. Checks output,
 * exit codes (src/cli/exit-codes.ts) and that no failure shows a stack trace.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../../src/main/gateway.js';
import { freePort } from '../../src/main/redis-launcher.js';
import { Fleet } from '../../src/simulator/fleet.js';
import { CAPABILITY } from '../support/fixtures.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'dmwsi.mjs');
const READONLY = { username: 'viewer', password: 'viewer-password-1' };

let gw: TestGateway;
let fleet: Fleet;
let dir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `dmwsi ...args` with a clean environment: only what is given here. */
function dmwsi(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DMWSI_URL: gw.url, DMWSI_USER: ADMIN.username, DMWSI_PASSWORD: ADMIN.password, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    if (input !== undefined) child.stdin?.end(input);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dmwsi ${args.join(' ')} did not end in 60 s\n${stdout}\n${stderr}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A failure is one readable line, never a JavaScript stack. */
function expectNoStack(r: Run): void {
  expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(r.stdout).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}

beforeAll(async () => {
  gw = await startTestGateway();
  dir = gw.dir;
  fleet = new Fleet({
    devices: 4,
    serverUrl: `${gw.url}/dm`,
    serverId: gw.config.dmServerId,
    capabilityOid: CAPABILITY.oid,
    imeiStart: '35200000000000',
    listen: { host: '127.0.0.1', port: 0 },
  });
  await fleet.start();
  const ctx = { caller: 'test', operation: 'setup' };
  await gw.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
  await gw.auth.createUser(READONLY.username, READONLY.password, 'readonly');
}, 60_000);
afterAll(async () => {
  await fleet?.stop();
  await gw?.stop();
});

describe('dmwsi --help', () => {
  const commands = ['job create', 'job watch', 'job pause', 'device import', 'task show', 'user list', 'user remove', 'demo', 'simulate', 'serve'];
  it.each(commands)('explains `dmwsi %s --help` and exits 0', async (command) => {
    const r = await dmwsi([...command.split(' '), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: dmwsi /);
  });

  it('exits 1 on an unknown option, with a usage hint', async () => {
    const r = await dmwsi(['job', 'watch', 'x', '--bogus']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });
});

describe('dmwsi device import', () => {
  it('imports in chunks, writes rejected rows with their line in the file, and exits 6', async () => {
    const [header, ...rows] = fleet.credentialsCsv().trim().split('\n');
    // Lines: 1 header, 2-3 devices, 4 blank, 5 bad id, 6-7 a bad id quoted over two lines,
    // 8 device, 9 unknown capability, 10 device.
    const lines = [
      header,
      rows[0],
      rows[1],
      '',
      'IMEI:123,+15550000001,acme-x1-1.0,,,,',
      '"IMEI:35\n9",+15550000002,acme-x1-1.0,,,,',
      rows[2],
      rows[3]!.replace(CAPABILITY.oid, 'no-such-model'),
      '',
    ];
    const file = path.join(dir, 'devices.csv');
    fs.writeFileSync(file, lines.join('\n'));
    const errors = path.join(dir, 'rejected.csv');
    const r = await dmwsi(['device', 'import', file, '--chunk-rows', '2', '--errors', errors]);
    expectNoStack(r);
    expect(r.code).toBe(6);
    expect(r.stdout).toContain(`imported 3 of 6 rows; 3 rejected, listed in ${errors}`);
    const rejected = fs.readFileSync(errors, 'utf8').trim().split('\n');
    expect(rejected[0]).toBe('line,reason');
    // A row is numbered by its last line, as the gateway numbers the rows of one call.
    expect(rejected.slice(1).map((l) => l.split(',')[0])).toEqual(['5', '7', '9']);
    expect(rejected[3]).toContain('no-such-model');
    for (const d of fleet.devices.slice(0, 3)) {
      expect((await gw.deviceManager.getDeviceInstanceByDeviceID(d.devId)).deviceId).toBe(d.devId);
    }
  });

  it('exits 0 with every row imported, and prints totals as JSON', async () => {
    const file = path.join(dir, 'fleet.csv');
    fs.writeFileSync(file, fleet.credentialsCsv());
    const r = await dmwsi(['device', 'import', file, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ rows: 4, imported: 4, rejected: 0 });
    expect(fs.existsSync(`${file}.rejected.csv`)).toBe(false);
  });

  it('exits 4 when the header row is wrong', async () => {
    const file = path.join(dir, 'bad-header.csv');
    fs.writeFileSync(file, 'id,phone\nx,y\n');
    const r = await dmwsi(['device', 'import', file]);
    expectNoStack(r);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^dmwsi: InvalidArgument: csv: header row lacks the column deviceId/);
  });
});

describe('dmwsi job and task', () => {
  // The fleet registered (again: an import is idempotent), whatever ran before.
  beforeAll(async () => {
    const r = await gw.deviceManager.importDeviceInstances({ caller: 'test', operation: 'setup' }, { csv: fleet.credentialsCsv() });
    expect(r.rejected).toEqual([]);
  });

  it('creates a job, watches it to COMPLETED (exit 0), and shows a task with its history', async () => {
    const targets = path.join(dir, 'targets.txt');
    fs.writeFileSync(targets, `# the fleet\n${fleet.devices.map((d) => d.devId).join('\n')}\n`);
    const r = await dmwsi(['job', 'create', '--operation', 'QUERY', '--uri', './DevInfo/Mod', '--targets', targets, '--watch', '--interval', '200', '--json']);
    expectNoStack(r);
    expect(r.code).toBe(0);
    const [created, ...updates] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(created.jobId).toMatch(/\S/);
    const last = updates[updates.length - 1];
    expect(last).toMatchObject({ jobId: created.jobId, status: 'COMPLETED', total: 4, completed: 4 });

    const [task] = (await gw.dataSource.query('SELECT task_id AS id FROM task WHERE job_id = ? ORDER BY task_id LIMIT 1', [created.jobId])) as { id: string }[];
    const shown = await dmwsi(['task', 'show', task!.id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^status:\s+COMPLETED$/m);
    expect(shown.stdout).toMatch(/^uri\s+value/m);
    expect(shown.stdout).toMatch(/\.\/DevInfo\/Mod/);
    expect(shown.stdout).toMatch(/^seq\s+at\s+from\s+to\s+event/m);
    expect(shown.stdout).toMatch(/\sIN_SESSION\s+COMPLETED\s/);
    const json = JSON.parse((await dmwsi(['task', 'show', task!.id, '--json'])).stdout);
    expect(json.task.status).toBe('COMPLETED');
    expect(json.history.map((h: { toStatus: string }) => h.toStatus)).toContain('COMPLETED');
  }, 60_000);

  it('watch exits 6 when the job ends with errors, printing one line per change when not on a terminal', async () => {
    const created = await dmwsi(['job', 'create', '--operation', 'QUERY', '--uri', './No/Such/Node', '--target', fleet.devices[0]!.devId]);
    expect(created.code).toBe(0);
    const jobId = created.stdout.trim();
    const r = await dmwsi(['job', 'watch', jobId, '--interval', '200']);
    expect(r.code).toBe(6);
    expect(r.stdout.trim().split('\n').pop()).toBe(`job ${jobId} COMPLETED_WITH_ERRORS total=1 failed=1`);
  });

  it('pauses, restarts and cancels a job; a cancelled job cannot restart (exit 4)', async () => {
    const later = async () => {
      const created = await dmwsi(['job', 'create', '--operation', 'QUERY', '--uri', './DevInfo/Mod', '--target', fleet.devices[1]!.devId, '--start-at', '+1h']);
      expect(created.code, created.stderr).toBe(0);
      return created.stdout.trim();
    };
    const paused = await later();
    expect((await dmwsi(['job', 'pause', paused])).stdout).toMatch(new RegExp(`^job ${paused} PAUSED total=1 queued=1$`, 'm'));
    const restarted = await dmwsi(['job', 'restart', paused]);
    expect(restarted.code, restarted.stderr).toBe(0);
    // Paused before its start (+1h): restarting gives back CREATED, waiting for startAt.
    expect(restarted.stdout).toMatch(new RegExp(`^job ${paused} CREATED `));

    const cancelledId = await later();
    const cancelled = await dmwsi(['job', 'cancel', cancelledId, '--json']);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ jobId: cancelledId, status: 'CANCELLED' });
    const again = await dmwsi(['job', 'restart', cancelledId]);
    expectNoStack(again);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/^dmwsi: InvalidState: /);
  }, 90_000);

  it('shows a device by id and by phone number', async () => {
    const d = fleet.devices[2]!;
    const byId = await dmwsi(['device', 'show', d.devId]);
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout).toMatch(new RegExp(`^capability:\\s+${CAPABILITY.oid}$`, 'm'));
    const byPhone = JSON.parse((await dmwsi(['device', 'show', d.phoneNumber!, '--json'])).stdout);
    expect(byPhone.deviceId).toBe(d.devId);
  });

  it('says which targets the job did not take', async () => {
    const r = await dmwsi(['job', 'create', '--operation', 'QUERY', '--uri', './DevInfo/Mod', '--target', fleet.devices[3]!.devId, '--target', 'IMEI:000000000000000', '--start-at', '+1h']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^dmwsi: 1 of 2 targets not taken: .*IMEI:000000000000000/m);
    expect((await dmwsi(['job', 'cancel', r.stdout.trim()])).code).toBe(0);
  });

  it('lists jobs newest first, as a table or JSON, filtered by state', async () => {
    const r = await dmwsi(['job', 'create', '--operation', 'QUERY', '--uri', './DevInfo/Mod', '--target', fleet.devices[0]!.devId, '--start-at', '+1h']);
    const jobId = r.stdout.trim();
    expect((await dmwsi(['job', 'pause', jobId])).code).toBe(0);
    const paused = JSON.parse((await dmwsi(['job', 'list', '--status', 'PAUSED', '--json'])).stdout) as { jobId: string; status: string }[];
    expect(paused.map((j) => j.jobId)).toContain(jobId);
    expect(new Set(paused.map((j) => j.status))).toEqual(new Set(['PAUSED']));
    const text = (await dmwsi(['job', 'list', '--limit', '1'])).stdout.split('\n');
    expect(text[0]).toMatch(/^job\s+status\s+operation\s+created\s+by\s+total\s+completed\s+failed\s+missed$/);
    expect(text[2]).toMatch(new RegExp(`^${jobId}\\s+PAUSED\\s+QUERY\\s`));
    await dmwsi(['job', 'cancel', jobId]);
  });

  it('exits 4 on an operation the gateway refuses', async () => {
    const r = await dmwsi(['job', 'create', '--operation', 'QUERY', '--uri', 'not a uri', '--target', fleet.devices[0]!.devId]);
    expectNoStack(r);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^dmwsi: InvalidArgument: operation/);
  });
});

describe('dmwsi: bad sign-in, roles, unknown objects, no gateway', () => {
  it('exits 2 on a wrong password', async () => {
    const r = await dmwsi(['job', 'show', 'any'], { DMWSI_PASSWORD: 'wrong-password' });
    expectNoStack(r);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^dmwsi: AuthenticationFailed: /);
  });

  it('exits 2 when the role may not do it', async () => {
    const r = await dmwsi(['job', 'create', '--operation', 'QUERY', '--uri', './DevInfo/Mod', '--target', fleet.devices[0]!.devId], {
      DMWSI_USER: READONLY.username,
      DMWSI_PASSWORD: READONLY.password,
    });
    expectNoStack(r);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^dmwsi: NotAuthorized: role readonly may not call createDeployments/);
  });

  it('takes the password from standard input with --password-stdin', async () => {
    const r = await dmwsi(['job', 'show', 'no-such-job', '--user', READONLY.username, '--password-stdin'], { DMWSI_PASSWORD: '' }, `${READONLY.password}\n`);
    expect(r.code).toBe(3);
  });

  it.each([
    [['job', 'watch', 'no-such-job']],
    [['job', 'cancel', 'no-such-job']],
    [['task', 'show', 'no-such-task']],
    [['device', 'show', 'IMEI:490154203237518']],
  ])('exits 3 for an unknown device, job or task: %s', async (args) => {
    const r = await dmwsi(args);
    expectNoStack(r);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^dmwsi: NotFound: /);
  });

  it('exits 1 without a password and no terminal to ask on', async () => {
    const r = await dmwsi(['job', 'show', 'x'], { DMWSI_PASSWORD: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^dmwsi: no password: set DMWSI_PASSWORD/);
  });

  it('exits 5 when no gateway answers', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await dmwsi(['job', 'show', 'x', '--url', url]);
    expectNoStack(r);
    expect(r.code).toBe(5);
    expect(r.stderr).toBe(`dmwsi: cannot reach the gateway at ${url} (ECONNREFUSED)\n`);
  });
});

describe('dmwsi user list and remove (on the database)', () => {
  const dbEnv = () => ({ DATA_DIR: gw.dir, DATABASE_URL: gw.config.databaseUrl });

  it('lists the users, removes one, and refuses an unknown one (3) and the last admin (4)', async () => {
    const list = await dmwsi(['user', 'list', '--json'], dbEnv());
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((u: { username: string; role: string }) => [u.username, u.role])).toEqual([
      ['admin', 'admin'],
      [READONLY.username, 'readonly'],
    ]);
    const gone = await dmwsi(['user', 'remove', 'temp-user'], dbEnv());
    expect(gone.code).toBe(3);
    await gw.auth.createUser('temp-user', 'temp-password-1', 'care');
    expect((await dmwsi(['user', 'remove', 'temp-user'], dbEnv())).code).toBe(0);
    expect((await dmwsi(['user', 'list'], dbEnv())).stdout).not.toContain('temp-user');
    const last = await dmwsi(['user', 'remove', 'admin'], dbEnv());
    expectNoStack(last);
    expect(last.code).toBe(4);
    expect(last.stderr).toMatch(/last admin/);
  }, 60_000);
});

describe('dmwsi job watch through a gateway restart', () => {
  it('keeps asking while the gateway is down, then follows the job to its end', async () => {
    const first = await startTestGateway();
    const port = Number(new URL(first.url).port);
    const ctx = { caller: 'test', operation: 'setup' };
    await first.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
    await first.deviceManager.importDeviceInstances(ctx, { csv: fleet.credentialsCsv() });
    const env = { DMWSI_URL: first.url };
    const created = await dmwsi(['job', 'create', '--operation', 'QUERY', '--uri', './DevInfo/Mod', '--target', fleet.devices[0]!.devId, '--start-at', '+1h'], env);
    const jobId = created.stdout.trim();
    let second: Awaited<ReturnType<typeof startGateway>> | undefined;
    try {
      const watching = dmwsi(['job', 'watch', jobId, '--interval', '200', '--outage', '60'], env);
      await new Promise((r) => setTimeout(r, 1500));
      await first.close();
      await new Promise((r) => setTimeout(r, 2000));
      // The same database, Redis prefix, key and port: a restarted gateway.
      second = await startGateway({ ...first.config, port });
      expect((await dmwsi(['job', 'cancel', jobId], env)).code).toBe(0);
      const r = await watching;
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(/^dmwsi: cannot reach the gateway at .+; asking again for up to 60 s$/m);
      expect(r.stdout.trim().split('\n').pop()).toMatch(new RegExp(`^job ${jobId} CANCELLED `));
    } finally {
      await second?.close();
      fs.rmSync(first.dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('gives up with exit 5 once the gateway has been away longer than --outage', async () => {
    const started = Date.now();
    const r = await dmwsi(['job', 'watch', 'x', '--url', `http://127.0.0.1:${await freePort()}`, '--interval', '200', '--outage', '2']);
    expect(r.code).toBe(5);
    expect(Date.now() - started).toBeGreaterThan(2000);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/^dmwsi: cannot reach the gateway at .+ \(ECONNREFUSED\)$/);
  });
});
