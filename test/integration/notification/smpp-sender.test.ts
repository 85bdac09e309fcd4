/** SMPP notification sender against the test SMSC, both on 127.0.0.1. */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseTrigger } from '../../../src/dm/notification/package0.js';
import type { DeliveryReceipt } from '../../../src/transport/notification/delivery-receipt.js';
import { SmppNotificationSender, type SmppSenderOptions } from '../../../src/transport/notification/smpp-sender.js';
import { SmppStatus } from '../../../src/transport/notification/smpp-status.js';
import { TestSmsc, type TestSmscOptions } from '../../../src/transport/notification/test-smsc.js';
import { closedPort, trigger } from './helpers.js';

// A self-signed test-only certificate for 127.0.0.1 (valid until 2126); never used outside tests.
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const TLS = { key: fixture('test-smsc.key.pem'), cert: fixture('test-smsc.cert.pem') };

const DEVICE = { deviceId: 'IMEI:490154203237518', smsAddress: '+491701234567' };

let smsc: TestSmsc | undefined;
const senders: SmppNotificationSender[] = [];

async function setup(
  smscOptions: TestSmscOptions = {},
  senderOptions: Partial<SmppSenderOptions> = {},
): Promise<{ smsc: TestSmsc; sender: SmppNotificationSender }> {
  smsc = await TestSmsc.start(smscOptions);
  return { smsc, sender: newSender({ url: smsc.url(), ...senderOptions }) };
}

function newSender(options: SmppSenderOptions): SmppNotificationSender {
  const sender = new SmppNotificationSender({ pduTimeoutMs: 1000, connectTimeoutMs: 1000, reconnectBaseDelayMs: 10, ...options });
  senders.push(sender);
  return sender;
}

afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  await smsc?.close();
  smsc = undefined;
});

describe('SMPP notification sender', () => {
  it('delivers a short trigger as one WAP Push submit_sm that reassembles byte-equal', async () => {
    const { smsc, sender } = await setup();
    const bytes = trigger();
    const arrived = smsc.nextNotification();
    const outcome = await sender.send(DEVICE, bytes);
    const n = await arrived;

    expect(outcome).toEqual({ delivered: true, channel: 'sms', detail: 'message id 00000001', attempts: 1 });
    expect(n.destination).toBe('491701234567');
    expect(n.trigger.equals(bytes)).toBe(true);
    expect(parseTrigger(n.trigger).sessionId).toBe(0x1a);
    expect(n.push).toMatchObject({
      destinationPort: 2948,
      contentType: 'application/vnd.syncml.notification',
      applicationId: 'x-wap-application:syncml.dm',
    });
    expect(smsc.submits).toHaveLength(1);
    expect(smsc.submits[0]).toMatchObject({
      destination: '491701234567',
      destTon: 1,
      destNpi: 1,
      esmClass: 0x40,
      dataCoding: 0x04,
      registeredDelivery: 1,
    });
  });

  it('delivers a long trigger as concatenated segments that reassemble byte-equal', async () => {
    const { smsc, sender } = await setup();
    const bytes = trigger({ serverId: 's'.repeat(100), vendorSpecific: Buffer.alloc(200, 0xa5) });
    const arrived = smsc.nextNotification();
    const outcome = await sender.send(DEVICE, bytes);
    const n = await arrived;

    expect(smsc.submits.length).toBeGreaterThanOrEqual(3);
    expect(smsc.submits.every((s) => s.esmClass === 0x40 && s.userData.length <= 140)).toBe(true);
    expect(outcome).toMatchObject({ delivered: true, attempts: 1 });
    expect(outcome.delivered && outcome.detail).toBe(`message ids ${smsc.submits.map((s) => s.messageId).join(', ')}`);
    expect(n.trigger.equals(bytes)).toBe(true);
    expect(parseTrigger(n.trigger).serverId).toBe('s'.repeat(100));
  });

  it('reports wrong bind credentials as not retryable with the SMSC status', async () => {
    smsc = await TestSmsc.start();
    const badPassword = newSender({ url: smsc.url({ password: 'wrong' }) });
    const outcome = await badPassword.send(DEVICE, trigger());
    expect(outcome).toMatchObject({ delivered: false, channel: 'sms', retryable: false, attempts: 1 });
    expect(outcome.delivered === false && outcome.reason).toMatch(/refused bind_transceiver: ESME_RINVPASWD \(0x0e\).*SMPP_URL/);

    const badSystemId = newSender({ url: smsc.url({ systemId: 'nobody' }) });
    const second = await badSystemId.send(DEVICE, trigger());
    expect(second.delivered === false && second.reason).toMatch(/ESME_RINVSYSID/);
    expect(smsc.submits).toHaveLength(0);
    // The password never appears in what an operator sees.
    expect(outcome.delivered === false && outcome.reason).not.toMatch(/wrong/);
  });

  it.each([
    ['ESME_RTHROTTLED', SmppStatus.ESME_RTHROTTLED],
    ['ESME_RMSGQFUL', SmppStatus.ESME_RMSGQFUL],
  ])('reports %s as retryable and delivers the next notification', async (name, status) => {
    const { smsc, sender } = await setup();
    smsc.failNextSubmits(status);
    const outcome = await sender.send(DEVICE, trigger());
    expect(outcome).toMatchObject({ delivered: false, channel: 'sms', retryable: true, attempts: 1 });
    expect(outcome.delivered === false && outcome.reason).toContain(name);
    await expect(sender.send(DEVICE, trigger())).resolves.toMatchObject({ delivered: true });
  });

  it('reports other submit_sm errors as not retryable', async () => {
    const { smsc, sender } = await setup();
    smsc.failNextSubmits(SmppStatus.ESME_RINVDSTADR);
    const outcome = await sender.send(DEVICE, trigger());
    expect(outcome).toMatchObject({ delivered: false, retryable: false });
    expect(outcome.delivered === false && outcome.reason).toMatch(/ESME_RINVDSTADR/);
  });

  it('names the failed segment of a long trigger', async () => {
    const { smsc, sender } = await setup();
    smsc.failNextSubmits(SmppStatus.ESME_RTHROTTLED, 1, { after: 1 });
    const bytes = trigger({ serverId: 's'.repeat(100), vendorSpecific: Buffer.alloc(200) });
    const outcome = await sender.send(DEVICE, bytes);
    expect(outcome).toMatchObject({ delivered: false, retryable: true });
    expect(outcome.delivered === false && outcome.reason).toMatch(/^segment 2\/\d: .*ESME_RTHROTTLED/);
    // The rest of the message is not sent once a segment fails.
    expect(smsc.submits).toHaveLength(2);
    expect(smsc.notifications).toHaveLength(0);
  });

  it('reconnects after the SMSC drops the connection mid-notification', async () => {
    const { smsc, sender } = await setup();
    await expect(sender.send(DEVICE, trigger())).resolves.toMatchObject({ delivered: true });
    smsc.dropOnNextSubmits();
    const lost = await sender.send(DEVICE, trigger());
    expect(lost).toMatchObject({ delivered: false, retryable: true });
    expect(lost.delivered === false && lost.reason).toMatch(/connection lost/);

    const bytes = trigger({ sessionId: 7 });
    const arrived = smsc.nextNotification();
    await expect(sender.send(DEVICE, bytes)).resolves.toMatchObject({ delivered: true });
    expect((await arrived).trigger.equals(bytes)).toBe(true);
    expect(smsc.pdus.filter((p) => p.command === 'bind_transceiver')).toHaveLength(2);
  });

  it('rebinds by itself after the SMSC drops an idle session', async () => {
    const { smsc, sender } = await setup();
    await sender.send(DEVICE, trigger());
    smsc.dropConnections();
    await vi.waitFor(() => expect(smsc.pdus.filter((p) => p.command === 'bind_transceiver')).toHaveLength(2));
    await vi.waitFor(() => expect(sender.state).toBe('bound'));
    await expect(sender.send(DEVICE, trigger())).resolves.toMatchObject({ delivered: true });
  });

  it('backs off instead of looping when the SMSC drops every session right after bind', async () => {
    const { smsc, sender } = await setup({}, { reconnectBaseDelayMs: 20, reconnectMaxDelayMs: 1000 });
    const kicker = setInterval(() => smsc.boundSessions > 0 && smsc.dropConnections(), 2);
    try {
      sender.start();
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      clearInterval(kicker);
    }
    // Backoff 10-20, 20-40, 40-80, 80-160 ms...: a handful of binds, not hundreds.
    const binds = smsc.pdus.filter((p) => p.command === 'bind_transceiver').length;
    expect(binds).toBeGreaterThanOrEqual(3);
    expect(binds).toBeLessThanOrEqual(8);
  });

  it('times out a submit_sm the SMSC never answers, as retryable, and keeps the session', async () => {
    const { smsc, sender } = await setup({}, { pduTimeoutMs: 100 });
    smsc.ignoreNextSubmits();
    const outcome = await sender.send(DEVICE, trigger());
    expect(outcome).toMatchObject({ delivered: false, retryable: true });
    expect(outcome.delivered === false && outcome.reason).toMatch(/no submit_sm_resp within 100 ms/);
    await expect(sender.send(DEVICE, trigger())).resolves.toMatchObject({ delivered: true });
    expect(smsc.pdus.filter((p) => p.command === 'bind_transceiver')).toHaveLength(1);
    // The silent PDU triggered a liveness probe, which the SMSC answered.
    expect(smsc.pdus.some((p) => p.command === 'enquire_link')).toBe(true);
  });

  it('surfaces SMSC delivery receipts', async () => {
    const receipts: DeliveryReceipt[] = [];
    const { smsc, sender } = await setup({}, { onDeliveryReceipt: (r) => receipts.push(r) });
    const outcome = await sender.send(DEVICE, trigger());
    await vi.waitFor(() => expect(receipts).toHaveLength(1));
    expect(outcome.delivered && outcome.detail).toBe(`message id ${receipts[0]?.messageId}`);
    expect(receipts[0]).toMatchObject({ stat: 'DELIVRD', address: '491701234567', error: '000' });
    // The receipt was acknowledged.
    await vi.waitFor(() => expect(smsc.pdus.some((p) => p.command === 'deliver_sm_resp')).toBe(true));
  });

  it('keeps no more submit_sm outstanding than its window', async () => {
    const { smsc, sender } = await setup({ responseDelayMs: 20 }, { window: 2 });
    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => sender.send(DEVICE, trigger({ sessionId: i + 1 }))));
    expect(outcomes.every((o) => o.delivered)).toBe(true);
    expect(smsc.maxOutstanding).toBe(2);
    expect(smsc.notifications).toHaveLength(6);
  });

  it('sends enquire_link while idle', async () => {
    const { smsc, sender } = await setup({}, { enquireLinkIntervalMs: 20 });
    sender.start();
    await vi.waitFor(() => expect(smsc.pdus.filter((p) => p.command === 'enquire_link').length).toBeGreaterThanOrEqual(2));
    expect(sender.state).toBe('bound');
  });

  it('reports an unreachable SMSC as retryable', async () => {
    const port = await closedPort();
    const sender = newSender({ url: `smpp://dmwsi:secret@127.0.0.1:${port}` });
    const outcome = await sender.send(DEVICE, trigger());
    expect(outcome).toMatchObject({ delivered: false, channel: 'sms', retryable: true });
    expect(outcome.delivered === false && outcome.reason).toMatch(/unreachable.*ECONNREFUSED/);
  });

  it('rejects an address that is not E.164 without contacting the SMSC', async () => {
    const { smsc, sender } = await setup();
    const outcome = await sender.send({ deviceId: 'IMEI:1', smsAddress: 'call me' }, trigger());
    expect(outcome).toMatchObject({ delivered: false, retryable: false, attempts: 0 });
    expect(smsc.pdus).toHaveLength(0);
  });

  it('unbinds on close and refuses to send afterwards', async () => {
    const { smsc, sender } = await setup();
    await sender.send(DEVICE, trigger());
    await sender.close();
    expect(sender.state).toBe('closed');
    expect(smsc.pdus.some((p) => p.command === 'unbind')).toBe(true);
    await vi.waitFor(() => expect(smsc.boundSessions).toBe(0));
    await expect(sender.send(DEVICE, trigger())).rejects.toThrow(/closed/);
  });

  it('delivers over ssmpp:// (TLS) to an SMSC whose certificate it trusts', async () => {
    const { smsc, sender } = await setup({ tls: TLS }, { tls: { ca: TLS.cert } });
    expect(smsc.url()).toMatch(/^ssmpp:\/\//);
    const bytes = trigger();
    const arrived = smsc.nextNotification();
    await expect(sender.send(DEVICE, bytes)).resolves.toMatchObject({ delivered: true, channel: 'sms' });
    expect((await arrived).trigger.equals(bytes)).toBe(true);
  });

  it('reports an untrusted SMSC certificate as a configuration error', async () => {
    const { smsc, sender } = await setup({ tls: TLS });
    const outcome = await sender.send(DEVICE, trigger());
    expect(outcome).toMatchObject({ delivered: false, retryable: false });
    expect(outcome.delivered === false && outcome.reason).toMatch(/TLS certificate rejected/);
    expect(smsc.pdus).toHaveLength(0);
  });
});
