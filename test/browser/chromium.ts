/**
 * Headless Chromium for the browser tests: Debian's `chromium` package driven
 * by playwright-core (no browser download). When it is missing the setup
 * installs it (apt-get, as root); when that is impossible the tests are
 * skipped with a notice, except under CI=true, where that is a failure.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function aptInstall(): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env }).status === 0;
  if (install()) return true;
  // A fresh image has no package lists yet.
  spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  return install();
}

/** The Chromium binary, installed first when missing and possible; undefined means skip. */
export function chromiumBinary(): string | undefined {
  if (fs.existsSync(CHROMIUM)) return CHROMIUM;
  const root = process.getuid?.() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (root && hasApt) {
    console.log('[browser tests] chromium is missing: apt-get install -y chromium');
    aptInstall();
    if (fs.existsSync(CHROMIUM)) return CHROMIUM;
  }
  const why = `no Chromium at ${CHROMIUM} and it could not be installed (${root ? 'apt-get failed' : 'not root'}); install the Debian package chromium`;
  if (process.env.CI === 'true') throw new Error(`browser tests cannot run: ${why}`);
  console.warn(`[browser tests] SKIPPED: ${why}`);
  return undefined;
}

/** Launches it headless, offline-friendly, with its profile in a temporary folder (not the real home). */
export async function launchChromium(executablePath: string): Promise<{ browser: Browser; close(): Promise<void> }> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-chromium-'));
  const browser = await chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
      '--headless',
      '--disable-gpu',
    ],
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: home, XDG_CACHE_HOME: home },
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
