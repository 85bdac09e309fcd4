/** Channel choice of the composite sender, with a real HTTP server and the test SMSC. */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';
import { CompositeNotificationSender } from '../../../src/transport/notification/composite-sender.js';
import { HttpNotificationSender } from '../../../src/transport/notification/http-sender.js';
import { createNotificationSender } from '../../../src/transport/notification/index.js';
import type { ClosableNotificationSender } from '../../../src/transport/notification/sender.js';
import { SmppNotificationSender } from '../../../src/transport/notification/smpp-sender.js';
import { TestSmsc } from '../../../src/transport/notification/test-smsc.js';
import { type RecordingServer, recordingServer, trigger } from './helpers.js';

let server: RecordingServer;
let smsc: TestSmsc;
const closables: ClosableNotificationSender[] = [];

async function start(): Promise<void> {
  server = await recordingServer((_req, res) => res.writeHead(204).end());
  smsc = await TestSmsc.start();
}

function composite(withSms: boolean): CompositeNotificationSender {
  const sender = new CompositeNotificationSender({
    http: new HttpNotificationSender(),
    ...(withSms ? { sms: new SmppNotificationSender({ url: smsc.url() }) } : {}),
  });
  closables.push(sender);
  return sender;
}

afterEach(async () => {
  await Promise.all(closables.splice(0).map((c) => c.close()));
  await server?.close();
  await smsc?.close();
});

describe('composite notification sender', () => {
  it('uses HTTP when the device has a notificationUrl, even with an smsAddress', async () => {
    await start();
    const outcome = await composite(true).send(
      { deviceId: 'IMEI:1', notificationUrl: `${server.url}/n`, smsAddress: '+491701234567' },
      trigger(),
    );
    expect(outcome).toMatchObject({ delivered: true, channel: 'http' });
    expect(server.requests).toHaveLength(1);
    expect(smsc.submits).toHaveLength(0);
  });

  it('uses SMS when the device has only an smsAddress and an SMSC is configured', async () => {
    await start();
    const bytes = trigger();
    const arrived = smsc.nextNotification();
    const outcome = await composite(true).send({ deviceId: 'IMEI:1', smsAddress: '+491701234567' }, bytes);
    expect(outcome).toMatchObject({ delivered: true, channel: 'sms' });
    expect((await arrived).trigger.equals(bytes)).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it('reports no channel for an smsAddress without an SMSC, and for a device with neither', async () => {
    await start();
    const sender = composite(false);
    const noChannel = { delivered: false, channel: 'none', retryable: false, reason: 'no notification channel', attempts: 0 };
    expect(await sender.send({ deviceId: 'IMEI:1', smsAddress: '+491701234567' }, trigger())).toEqual(noChannel);
    expect(await composite(true).send({ deviceId: 'IMEI:2' }, trigger())).toEqual(noChannel);
  });

  it('is built from the gateway configuration with SMS when SMPP_URL is set', async () => {
    await start();
    const sender = createNotificationSender({ smppUrl: smsc.url(), logger: createLogger('silent') });
    closables.push(sender);
    const arrived = smsc.nextNotification();
    await expect(sender.send({ deviceId: 'IMEI:1', smsAddress: '491701234567' }, trigger())).resolves.toMatchObject({
      delivered: true,
      channel: 'sms',
    });
    await arrived;
    const httpOnly = createNotificationSender({ smppUrl: undefined, logger: createLogger('silent') });
    closables.push(httpOnly);
    await expect(httpOnly.send({ deviceId: 'IMEI:1', smsAddress: '491701234567' }, trigger())).resolves.toMatchObject({
      delivered: false,
      channel: 'none',
    });
  });
});
