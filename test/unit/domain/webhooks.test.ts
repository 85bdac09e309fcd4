import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DmwsiError } from '../../../src/domain/errors.js';
import { eventBody, validateWebhookInput, wants } from '../../../src/domain/webhooks.js';
import { signatureMatches, signBody } from '../../../src/security/webhook-signature.js';

const ok = { url: 'https://oss.example.net/hooks/dmwsi', secret: 's'.repeat(16), events: ['task.status'] };
const fieldOf = (input: typeof ok): string | undefined => {
  try {
    validateWebhookInput(input);
    return undefined;
  } catch (err) {
    return err instanceof DmwsiError && err.code === 'InvalidArgument' ? err.field : 'not InvalidArgument';
  }
};

describe('webhook registrations', () => {
  it('accepts http and https URLs and the known event types, collapsing duplicates and anything beside *', () => {
    expect(validateWebhookInput({ ...ok, events: ['task.status', 'task.status', 'job.status'] }).events).toEqual(['task.status', 'job.status']);
    expect(validateWebhookInput({ ...ok, events: ['task.created', '*'] }).events).toEqual(['*']);
  });

  it('refuses with InvalidArgument naming the field: unknown events, no events, other schemes, credentials in the URL, short secrets', () => {
    expect(fieldOf({ ...ok, events: ['task.deleted'] })).toBe('events');
    expect(fieldOf({ ...ok, events: [] })).toBe('events');
    expect(fieldOf({ ...ok, url: 'ftp://oss.example.net/x' })).toBe('url');
    expect(fieldOf({ ...ok, url: 'not a url' })).toBe('url');
    expect(fieldOf({ ...ok, url: 'https://user:pw@oss.example.net/x' })).toBe('url');
    expect(fieldOf({ ...ok, secret: 'short' })).toBe('secret');
  });

  it('matches event types, * matching every one', () => {
    expect(wants({ events: ['task.status'] }, 'task.status')).toBe(true);
    expect(wants({ events: ['task.status'] }, 'job.status')).toBe(false);
    expect(wants({ events: ['*'] }, 'job.status')).toBe(true);
  });
});

describe('webhook signatures', () => {
  it('signs the exact body with HMAC-SHA256 as sha256=<hex>, as a receiver recomputes it', () => {
    const body = eventBody({ id: 'task-t-1', type: 'task.created', at: new Date(0), data: { taskId: 't' } });
    expect(body).toBe('{"id":"task-t-1","type":"task.created","at":"1970-01-01T00:00:00.000Z","data":{"taskId":"t"}}');
    const expected = `sha256=${crypto.createHmac('sha256', 'k'.repeat(16)).update(body).digest('hex')}`;
    expect(signBody('k'.repeat(16), body)).toBe(expected);
    expect(signatureMatches('k'.repeat(16), body, expected)).toBe(true);
    expect(signatureMatches('k'.repeat(16), `${body} `, expected)).toBe(false);
    expect(signatureMatches('other-secret-123', body, expected)).toBe(false);
    expect(signatureMatches('k'.repeat(16), body, undefined)).toBe(false);
  });
});
