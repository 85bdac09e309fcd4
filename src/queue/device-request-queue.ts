/**
 * Per-device DM command requests in Redis: a list of ids (order) and a hash
 * of id -> request (content). Enqueue is one atomic script that does nothing
 * when the id is already there, so a retried enqueue never doubles a command.
 * Both keys share a hash tag, so the pair stays on one Redis Cluster slot.
 */
import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DeviceRequestQueue } from '../dm/server/ports.js';
import { type RedisTurnBatch, turnBatchOf } from './dm-session-store.js';
import { checkServerCommandRequest, type ServerCommandRequest } from '../dm/session/index.js';

const ENQUEUE = `
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', KEYS[1], ARGV[1])
  return 1
end
return 0`;

/**
 * The oldest ARGV[1] requests' bodies in queue order, in one round trip
 * instead of LRANGE then HMGET (an id without a body comes back nil).
 */
const PENDING = `
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))`;
const PENDING_SHA = crypto.createHash('sha1').update(PENDING).digest('hex');

/** How many of a device's oldest requests a session considers at once. */
const WINDOW = 64;

export class RedisDeviceRequestQueue implements DeviceRequestQueue {
  /** The read of every DM message goes out with the session store's commands (see RedisTurnBatch). */
  private readonly batch: RedisTurnBatch;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.batch = turnBatchOf(redis);
  }

  private keys(deviceId: string): [string, string] {
    const base = `${this.prefix}:dm:queue:{${deviceId}}`;
    return [`${base}:ids`, `${base}:requests`];
  }

  async enqueue(deviceId: string, request: ServerCommandRequest): Promise<boolean> {
    const problem = checkServerCommandRequest(request);
    if (problem) throw new Error(`invalid DM command request ${request.requestId}: ${problem}`);
    const [ids, requests] = this.keys(deviceId);
    const added = await this.redis.eval(ENQUEUE, 2, ids, requests, request.requestId, JSON.stringify(request));
    return added === 1;
  }

  async pending(deviceId: string): Promise<ServerCommandRequest[]> {
    const [ids, requests] = this.keys(deviceId);
    const bodies = (await this.runPending(ids, requests)) as (string | null)[];
    return bodies.filter((b): b is string => b !== null).map((b) => JSON.parse(b) as ServerCommandRequest);
  }

  /** EVALSHA, and EVAL when Redis does not have the script yet (first call, restart, SCRIPT FLUSH). */
  private async runPending(ids: string, requests: string): Promise<unknown> {
    try {
      return await this.batch.send('evalsha', PENDING_SHA, 2, ids, requests, WINDOW);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return this.batch.send('eval', PENDING, 2, ids, requests, WINDOW);
    }
  }

  async remove(deviceId: string, requestIds: string[]): Promise<void> {
    if (requestIds.length === 0) return;
    const [ids, requests] = this.keys(deviceId);
    const tx = this.redis.multi();
    for (const id of requestIds) tx.lrem(ids, 0, id);
    tx.hdel(requests, ...requestIds);
    await tx.exec();
  }
}
