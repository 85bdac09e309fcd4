/** DM session state in Redis, with a TTL, so any gateway process can serve a session's next message. */
import type { Redis } from 'ioredis';
import type { DmSessionStore } from '../dm/server/ports.js';

export class RedisDmSessionStore implements DmSessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async load(token: string): Promise<string | undefined> {
    return (await this.redis.get(`${this.prefix}:dm:session:${token}`)) ?? undefined;
  }

  async save(token: string, state: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(`${this.prefix}:dm:session:${token}`, state, 'EX', ttlSeconds);
  }

  async bind(deviceId: string, sessionId: string, token: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(`${this.prefix}:dm:sid:{${deviceId}}:${sessionId}`, token, 'EX', ttlSeconds);
  }

  async lookup(deviceId: string, sessionId: string): Promise<string | undefined> {
    return (await this.redis.get(`${this.prefix}:dm:sid:{${deviceId}}:${sessionId}`)) ?? undefined;
  }
}
