/**
 * The web console in headless Chromium against a real gateway and simulated
 * devices: sign-in (wrong password, then right), device lookup by IMEI and by
 * phone number, a single QUERY watched to COMPLETED, a job paused and
 * cancelled, the refusal pages, the webhooks page with a real delivery and
 * the queue dashboard. A screenshot of
 * every page is kept under test-artifacts/console/.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedDevice } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { chromiumBinary, launchChromium } from './chromium.js';

const executable = chromiumBinary();
const ARTIFACTS = path.resolve('test-artifacts', 'console');
const PASSWORD = 'console-password-1';

let rig: DmRig;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let shot = 0;

/** Requests any page made to another origin: the console and the dashboard need no network beyond the gateway. */
const offsite: string[] = [];
/** Scripts or styles the pages' Content-Security-Policy blocked, and script errors. */
const blocked: string[] = [];

async function openPage(): Promise<Page> {
  const page = await browser.newPage();
  page.on('request', (r) => {
    if (new URL(r.url()).origin !== new URL(rig.gw.url).origin) offsite.push(r.url());
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) blocked.push(m.text());
  });
  page.on('pageerror', (err) => blocked.push(err.message));
  return page;
}

const device = (i: number) => rig.fleet.devices[i] as SimulatedDevice;

async function screenshot(page: Page, name: string): Promise<void> {
  shot += 1;
  await page.screenshot({ path: path.join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function signIn(page: Page, username: string, password: string): Promise<number> {
  await page.fill('#username', username);
  await page.fill('#password', password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/console/login') && r.request().method() === 'POST'),
    page.click('#sign-in'),
  ]);
  await page.waitForLoadState();
  return response.status();
}

describe.skipIf(!executable)('web console in a browser', () => {
  beforeAll(async () => {
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    // Each device message takes half a second: a task page opens before its task ends, and follows it live.
    rig = await startDmRig({ devices: 4, fleet: { latencyMs: 500 } });
    await rig.gw.auth.createUser('care-agent', PASSWORD, 'care');
    await rig.gw.auth.createUser('bulk-admin', PASSWORD, 'bulk');
    ({ browser, close: closeBrowser } = await launchChromium(executable as string));
  }, 90_000);
  afterAll(async () => {
    expect(offsite).toEqual([]);
    expect(blocked).toEqual([]);
    await closeBrowser?.();
    await rig?.stop();
  });

  it('signs a care agent in, finds a device by IMEI and phone number, and runs a QUERY to COMPLETED', async () => {
    const page = await openPage();
    await page.goto(`${rig.gw.url}/console/`);
    expect(page.url()).toContain('/console/login');
    await screenshot(page, 'sign-in');

    expect(await signIn(page, 'care-agent', 'wrong-password')).toBe(401);
    expect(await page.textContent('#problem')).toContain('user name or password not accepted');
    await screenshot(page, 'sign-in-refused');

    expect(await signIn(page, 'care-agent', PASSWORD)).toBe(303);
    expect(new URL(page.url()).pathname).toBe('/console/devices');
    await screenshot(page, 'device-lookup');

    const target = device(0);
    const devicePath = `/console/devices/${encodeURIComponent(target.devId)}`;
    await page.fill('#q', target.devId.replace(/^IMEI:/, ''));
    await Promise.all([page.waitForURL(`**${devicePath}`), page.click('#find')]);
    await page.goto(`${rig.gw.url}/console/devices`);
    await page.fill('#q', target.phoneNumber as string);
    await Promise.all([page.waitForURL(`**${devicePath}`), page.click('#find')]);
    expect(await page.textContent('#device-facts')).toContain(target.phoneNumber as string);
    await screenshot(page, 'device');

    await page.selectOption('#op-name', 'QUERY');
    await page.fill('#op-uri', './DevInfo/Mod');
    await Promise.all([page.waitForURL('**/console/tasks/**'), page.click('#op-start')]);
    expect(await page.getAttribute('#live', 'data-status')).not.toBe('COMPLETED');
    let navigations = 0;
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations += 1;
    });
    // The page refreshes its live part itself (no reload) until the task ends.
    await page.waitForSelector('#live[data-status="COMPLETED"]', { timeout: 30_000 });
    expect(navigations).toBe(0);
    expect(await page.getAttribute('#live', 'data-refresh-ms')).toBeNull();
    expect(await page.textContent('#results')).toContain('./DevInfo/Mod');
    await screenshot(page, 'task-completed');

    // The device page now lists the task and its history.
    await page.goto(`${rig.gw.url}${devicePath}`);
    expect(await page.textContent('table.tasks')).toContain('COMPLETED');
    expect(await page.textContent('ol.timeline')).toContain('created');
    await screenshot(page, 'device-with-history');

    const unknown = await page.goto(`${rig.gw.url}/console/devices?q=%2B19990000000`);
    expect(unknown?.status()).toBe(404);
    await screenshot(page, 'device-not-found');

    const refused = await page.goto(`${rig.gw.url}/admin/queues/`);
    expect(refused?.status()).toBe(403);
    await screenshot(page, 'queues-refused');
    await page.close();
  }, 90_000);

  it('lets a bulk user pause and cancel a running job from the jobs list and the job page', async () => {
    const waiting = device(3);
    waiting.setOnline(false);
    const ctx = { caller: 'bulk-admin', operation: 'createDeployments' };
    const targets = [0, 1, 2, 3].map((i) => device(i).devId);
    const jobId = await rig.gw.bulk.createDeployments(ctx, { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] }, targets, {});
    // Three devices answer; the offline one keeps the job RUNNING.
    await waitFor(async () => (await rig.gw.bulk.getJobById(jobId)).completed === 3, 30_000, 'three tasks completed');

    const page = await openPage();
    await page.goto(`${rig.gw.url}/console/login`);
    expect(await signIn(page, 'bulk-admin', PASSWORD)).toBe(303);
    await page.goto(`${rig.gw.url}/console/jobs`);
    const row = `tr[data-job="${jobId}"]`;
    expect(await page.textContent(`${row} .status`)).toBe('RUNNING');
    await screenshot(page, 'jobs');

    await Promise.all([page.waitForLoadState(), page.click(`${row} button[data-action="pause"]`)]);
    await page.waitForSelector(`${row} .status.PAUSED`);
    expect((await rig.gw.bulk.getJobById(jobId)).status).toBe('PAUSED');
    await screenshot(page, 'jobs-paused');

    await page.click(`${row} a`);
    await page.waitForURL(`**/console/jobs/${jobId}`);
    expect(await page.textContent('#job-status')).toContain('PAUSED');
    expect(await page.locator('svg.chart rect').count()).toBeGreaterThan(0);
    await screenshot(page, 'job-paused');

    await Promise.all([page.waitForURL(`**/console/jobs/${jobId}`), page.click('button[data-action="cancel"]')]);
    await page.waitForSelector('#live[data-status="CANCELLED"]');
    // The cancel pass ends the waiting device's task; the page follows it.
    await waitFor(async () => (await rig.gw.bulk.getJobById(jobId)).cancelled === 1, 20_000, 'the open task cancelled');
    await page.locator('#live', { hasText: '1 cancelled' }).waitFor({ timeout: 20_000 });
    expect(await page.textContent('#job-history')).toContain('cancelled');
    await screenshot(page, 'job-cancelled');

    const missing = await page.goto(`${rig.gw.url}/console/jobs/no-such-job`);
    expect(missing?.status()).toBe(404);
    await screenshot(page, 'job-not-found');
    await page.close();
  }, 90_000);

  it('shows an admin the webhooks and their deliveries with their state', async () => {
    const secret = 'browser-webhook-secret-0123456789';
    const receiver = await startWebhookReceiver(secret);
    try {
      const ctx = { caller: ADMIN.username, operation: 'setup' };
      const webhookId = await rig.gw.webhooks.create(ctx, { url: `${receiver.url}/oss`, secret, events: ['task.created'] });
      const taskId = await rig.gw.broker.doOperation(ctx, {
        operation: { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] },
        phoneNumber: device(1).phoneNumber as string,
        bOptin: false,
        acceptDevicePolicy: 30,
        testCycle: true,
      });
      await waitFor(async () => (await rig.gw.webhooks.deliveries({ webhookId, state: 'DELIVERED' }, { offset: 0, limit: 1 }))[0], 20_000, 'the delivery');

      const page = await openPage();
      await page.goto(`${rig.gw.url}/console/login`);
      expect(await signIn(page, ADMIN.username, ADMIN.password)).toBe(303);
      await Promise.all([page.waitForURL('**/console/webhooks'), page.click('header a[href="/console/webhooks"]')]);
      expect(await page.textContent(`tr[data-webhook="${webhookId}"] td[data-state="DELIVERED"]`)).toBe('1');
      expect(await page.textContent(`tr[data-event="task-${taskId}-1"] .status`)).toBe('DELIVERED');
      await screenshot(page, 'webhooks');
      await page.close();
    } finally {
      await receiver.close();
    }
  }, 60_000);

  it('opens the queue dashboard for an admin', async () => {
    const page = await openPage();
    await page.goto(`${rig.gw.url}/console/login?next=%2Fadmin%2Fqueues%2F`);
    expect(await signIn(page, ADMIN.username, ADMIN.password)).toBe(303);
    expect(new URL(page.url()).pathname).toBe('/admin/queues/');
    await page.waitForSelector('text=tasks', { timeout: 20_000 });
    await screenshot(page, 'queues');
    await page.close();
  }, 60_000);
});
