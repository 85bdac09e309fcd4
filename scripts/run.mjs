#!/usr/bin/env node
/**
 * What `npm start`, `npm run demo`, `npm test`, `npm run test:chaos`,
 * `npm run bench` and `npm run wsdl` run. Uses only Node's standard library so it works on a
 * fresh clone: it installs the dependencies when node_modules is missing or
 * older than package-lock.json, builds when a source is newer than the last
 * build, then runs the target.
 *
 * `test` builds, runs the main suite, then (when it passed and no arguments
 * narrowed it) the crash-safety suite, which runs the compiled gateway as
 * separate processes. DMWSI_SKIP_CHAOS=1 leaves the latter out.
 */
import { spawnSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function say(message) {
  process.stderr.write(`[dmwsi] ${message}\n`);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    say(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

function lockHash() {
  const lock = path.join(root, 'package-lock.json');
  const text = fs.existsSync(lock) ? fs.readFileSync(lock) : fs.readFileSync(path.join(root, 'package.json'));
  return crypto.createHash('sha256').update(text).digest('hex');
}

function ensureInstalled() {
  const stamp = path.join(root, 'node_modules', '.dmwsi-installed');
  const want = lockHash();
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return;
  // `npm install`, not `npm ci`: it installs the locked versions just the same,
  // but `npm ci` refuses a lock file that lacks other platforms' optional
  // packages (biome, msgpackr-extract), and registries that serve only some
  // platforms produce exactly such lock files.
  say('installing dependencies (npm install); the first time this compiles better-sqlite3 and takes a few minutes');
  run(npm, ['install', '--no-audit', '--no-fund']);
  fs.writeFileSync(stamp, want);
}

function newestMtime(entry) {
  const full = path.join(root, entry);
  if (!fs.existsSync(full)) return 0;
  const st = fs.statSync(full);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of fs.readdirSync(full)) newest = Math.max(newest, newestMtime(path.join(entry, name)));
  return newest;
}

function ensureBuilt() {
  const stamp = path.join(root, 'dist', '.build-stamp');
  const sources = ['src', 'migrations', 'bench', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
  const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
  if (built > 0 && sources.every((s) => newestMtime(s) <= built)) return;
  say('building (tsc)');
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
  fs.mkdirSync(path.dirname(stamp), { recursive: true });
  fs.writeFileSync(stamp, new Date().toISOString());
}

const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const CHAOS_CONFIG = path.join('test', 'chaos', 'vitest.chaos.config.ts');

/** Runs a child to its end with this terminal; returns its exit code. */
function runToEnd(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  return r.status ?? 1;
}

function passThrough(cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

async function cli(args) {
  const { main } = await import(pathToFileURL(path.join(root, 'dist', 'src', 'main', 'cli.js')).href);
  await main([process.execPath, 'dmwsi', ...args]);
}

function ensureProductionBuild() {
  for (const needed of ['node_modules', path.join('dist', 'src', 'main', 'cli.js')]) {
    if (!fs.existsSync(path.join(root, needed))) {
      say(`NODE_ENV=production: ${needed} is missing; production installs nothing: run npm install and npm run build beforehand`);
      process.exit(2);
    }
  }
}

const [target, ...rest] = process.argv.slice(2);
switch (target) {
  case 'start':
    if (process.env.NODE_ENV === 'production') {
      ensureProductionBuild();
    } else {
      ensureInstalled();
      ensureBuilt();
    }
    await cli(['serve', ...rest]);
    break;
  case 'test': {
    ensureInstalled();
    // Built first: some tests of the main suite run the compiled CLI as a user does (serve-command).
    ensureBuilt();
    const code = runToEnd(process.execPath, [vitest, 'run', ...rest]);
    if (code !== 0 || rest.length > 0 || process.env.DMWSI_SKIP_CHAOS === '1') process.exit(code);
    say('main suite passed; now the crash-safety suite (test/chaos, a few minutes)');
    process.exit(runToEnd(process.execPath, [vitest, 'run', '--config', CHAOS_CONFIG]));
    break;
  }
  case 'chaos':
    ensureInstalled();
    ensureBuilt();
    passThrough(process.execPath, [vitest, 'run', '--config', CHAOS_CONFIG, ...rest]);
    break;
  case 'bench':
    ensureInstalled();
    ensureBuilt();
    passThrough(process.execPath, [path.join(root, 'dist', 'bench', 'run.js'), ...rest]);
    break;
  case 'demo':
    // A gateway, a throwaway Redis and 1,000 simulated devices in one process (src/main/demo.ts).
    ensureInstalled();
    ensureBuilt();
    await cli(['demo', ...rest]);
    break;
  case 'wsdl':
    ensureInstalled();
    ensureBuilt();
    await cli(['wsdl', ...rest]);
    break;
  case 'cli':
    ensureInstalled();
    ensureBuilt();
    await cli(rest);
    break;
  default:
    say('usage: node scripts/run.mjs start|demo|test|chaos|bench|wsdl|cli [args]');
    process.exit(2);
}
