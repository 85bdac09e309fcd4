/**
 * What DM 2.0 devices send with HPOST/HPUT (the data store of issue 17 §3):
 * one value per device, request and command, in Redis with a TTL, read once
 * its command's status arrives and then deleted. Size-limited by the
 * endpoint (DM_MAX_BODY_BYTES) before it gets here.
 */
import { taggedKey } from './redis-keys.js';
import type { RedisConnection } from './redis.js';

export interface Dm2UploadStore {
  put(deviceId: string, requestId: string, index: number, body: Buffer, ttlSeconds: number, type?: string): Promise<void>;
  /** The value and its media type, removed from the store; undefined when none was sent. */
  take(deviceId: string, requestId: string, index: number): Promise<{ body: Buffer; type: string } | undefined>;
}

export class RedisDm2UploadStore implements Dm2UploadStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  private key(deviceId: string, requestId: string, index: number): string {
    // The device in a hash tag, like its request queue's keys (one slot per device in a cluster).
    return taggedKey(this.prefix, 'dm2:up', deviceId, `:${requestId}:${index}`);
  }

  async put(deviceId: string, requestId: string, index: number, body: Buffer, ttlSeconds: number, type = 'application/octet-stream'): Promise<void> {
    const typeBytes = Buffer.from(type.slice(0, 255), 'utf8');
    await this.redis.set(this.key(deviceId, requestId, index), Buffer.concat([Buffer.from([typeBytes.length]), typeBytes, body]), 'EX', ttlSeconds);
  }

  async take(deviceId: string, requestId: string, index: number): Promise<{ body: Buffer; type: string } | undefined> {
    const key = this.key(deviceId, requestId, index);
    const raw = await this.redis.getBuffer(key);
    if (raw === null || raw.length === 0) return undefined;
    await this.redis.del(key);
    const n = raw[0]!;
    return { type: raw.subarray(1, 1 + n).toString('utf8'), body: raw.subarray(1 + n) };
  }
}
