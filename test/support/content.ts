/** Package records over SOAP and their bytes over PUT /content, as an integrator uploads them. */
import crypto from 'node:crypto';
import { expect } from 'vitest';
import { call, type SoapClient } from './soap.js';

export interface ContentUploads {
  /** A record for `bytes` (its SHA-256 and size) with `fields`; returns its contentId. */
  createContent(fields: Record<string, unknown>, bytes: Buffer): Promise<string>;
  /** A record, then its bytes (201 expected); returns its contentId. */
  upload(bytes: Buffer, fields: Record<string, unknown>): Promise<string>;
}

export function contentUploads(gatewayUrl: string, bulk: () => SoapClient, session: () => string): ContentUploads {
  const createContent = async (fields: Record<string, unknown>, bytes: Buffer): Promise<string> => {
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    return (await call<{ contentId: string }>(bulk(), 'createContent', { userSession: '', content: { sha256, size: bytes.length, ...fields } })).contentId;
  };
  return {
    createContent,
    async upload(bytes, fields) {
      const contentId = await createContent(fields, bytes);
      const r = await fetch(`${gatewayUrl}/content/${contentId}`, { method: 'PUT', headers: { authorization: `Bearer ${session()}` }, body: bytes });
      expect(r.status).toBe(201);
      return contentId;
    },
  };
}
