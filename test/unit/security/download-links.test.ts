import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DownloadLinks, downloadLinkKey } from '../../../src/security/download-links.js';

const key = downloadLinkKey(crypto.randomBytes(32));
const links = new DownloadLinks(key, 'https://dm.example.com/');
const grant = { taskId: 'task-1', contentId: 'content-1', expiresAt: 2_000_000 };

describe('DownloadLinks', () => {
  it('gives a /dl URL under the public base whose token verifies to the same grant before expiry', () => {
    const url = links.url(grant);
    expect(url).toMatch(/^https:\/\/dm\.example\.com\/dl\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(links.verify(url.split('/dl/')[1]!, 1_999_999)).toEqual(grant);
  });

  it('refuses a token at or after its expiry', () => {
    const token = links.token(grant);
    expect(links.verify(token, 2_000_000)).toBeUndefined();
    expect(links.verify(token, 3_000_000)).toBeUndefined();
  });

  it('refuses a token whose payload was changed to another task (the signature no longer matches)', () => {
    const token = links.token(grant);
    const [, mac] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ t: 'task-2', c: 'content-1', e: 2_000_000 })).toString('base64url');
    expect(links.verify(`${forged}.${mac}`, 1)).toBeUndefined();
  });

  it('refuses a token signed under another gateway key', () => {
    const other = new DownloadLinks(downloadLinkKey(crypto.randomBytes(32)), 'https://dm.example.com');
    expect(links.verify(other.token(grant), 1)).toBeUndefined();
  });

  it('refuses malformed and oversized tokens without throwing', () => {
    for (const t of ['', '.', 'abc', '.abc', 'abc.', 'a.b.c', '%%%.%%%', 'x'.repeat(5000)]) {
      expect(links.verify(t, 1)).toBeUndefined();
    }
    // A well-signed payload that is not a grant.
    const payload = Buffer.from('[1,2]').toString('base64url');
    const mac = crypto.createHmac('sha256', key).update(payload).digest('base64url');
    expect(links.verify(`${payload}.${mac}`, 1)).toBeUndefined();
  });

  it('derives a key of its own, not the gateway key itself', () => {
    const gatewayKey = crypto.randomBytes(32);
    expect(downloadLinkKey(gatewayKey).equals(gatewayKey)).toBe(false);
    expect(downloadLinkKey(gatewayKey).equals(downloadLinkKey(gatewayKey))).toBe(true);
  });
});
