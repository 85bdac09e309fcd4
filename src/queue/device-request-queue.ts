/**
 * Per-device DM command requests in Redis: a list of ids (order), a hash of
 * id -> request (content), and a hash of id -> the token of the DM session
 * that sent it (see DeviceRequestQueue.markSent). Enqueue is one atomic
 * script that does nothing when the id is already there, so a retried
 * enqueue never doubles a command. The keys share a hash tag, so they stay
 * on one Redis Cluster slot.
 */
import crypto from 'node:crypto';
import type { DeviceRequestQueue, PendingRequests } from '../dm/server/ports.js';
import type { RedisConnection } from './redis.js';
import { taggedKey } from './redis-keys.js';
import { type RedisTurnBatch, turnBatchOf } from './redis-turn-batch.js';
import { checkServerCommandRequest, type ServerCommandRequest } from '../dm/session/index.js';

const ENQUEUE = `
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', KEYS[1], ARGV[1])
  return 1
end
return 0`;

/**
 * The oldest ARGV[1] requests' bodies in queue order, then the session each
 * was sent in (nil: none), in one round trip instead of LRANGE then two
 * HMGETs (an id without a body comes back nil).
 */
const PENDING = `
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
local out = redis.call('HMGET', KEYS[2], unpack(ids))
local sent = redis.call('HMGET', KEYS[3], unpack(ids))
for i = 1, #ids do out[#ids + i] = sent[i] end
return out`;
const PENDING_SHA = crypto.createHash('sha1').update(PENDING).digest('hex');

/** Removes the ARGV ids that no session has sent (no mark); returns how many it removed. */
const REMOVE_UNSENT = `
local n = 0
for _, id in ipairs(ARGV) do
  if redis.call('HEXISTS', KEYS[3], id) == 0 and redis.call('HDEL', KEYS[2], id) == 1 then
    redis.call('LREM', KEYS[1], 0, id)
    n = n + 1
  end
end
return n`;

/** How many of a device's oldest requests a session considers at once. */
const WINDOW = 64;

export class RedisDeviceRequestQueue implements DeviceRequestQueue {
  /** The read of every DM message goes out with the session store's commands (see RedisTurnBatch). */
  private readonly batch: RedisTurnBatch;

  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {
    this.batch = turnBatchOf(redis);
  }

  private keys(deviceId: string): [string, string, string] {
    return [taggedKey(this.prefix, 'dm:queue', deviceId, ':ids'), taggedKey(this.prefix, 'dm:queue', deviceId, ':requests'), taggedKey(this.prefix, 'dm:queue', deviceId, ':sent')];
  }

  async enqueue(deviceId: string, request: ServerCommandRequest): Promise<boolean> {
    const problem = checkServerCommandRequest(request);
    if (problem) throw new Error(`invalid DM command request ${request.requestId}: ${problem}`);
    const [ids, requests] = this.keys(deviceId);
    const added = await this.redis.eval(ENQUEUE, 2, ids, requests, request.requestId, JSON.stringify(request));
    return added === 1;
  }

  async pending(deviceId: string): Promise<ServerCommandRequest[]> {
    return (await this.pendingWithSent(deviceId)).requests;
  }

  async pendingWithSent(deviceId: string): Promise<PendingRequests> {
    const keys = this.keys(deviceId);
    const reply = (await this.runPending(keys)) as (string | null)[];
    const n = reply.length / 2;
    const requests: ServerCommandRequest[] = [];
    const sentIn = new Map<string, string>();
    for (let i = 0; i < n; i++) {
      const body = reply[i];
      if (body === null || body === undefined) continue;
      const request = JSON.parse(body) as ServerCommandRequest;
      requests.push(request);
      const token = reply[n + i];
      if (typeof token === 'string') sentIn.set(request.requestId, token);
    }
    return { requests, sentIn };
  }

  /** EVALSHA, and EVAL when Redis does not have the script yet (first call, restart, SCRIPT FLUSH). */
  private async runPending(keys: [string, string, string]): Promise<unknown> {
    try {
      return await this.batch.send('evalsha', PENDING_SHA, 3, ...keys, WINDOW);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return this.batch.send('eval', PENDING, 3, ...keys, WINDOW);
    }
  }

  async markSent(deviceId: string, requestIds: string[], sessionToken: string): Promise<void> {
    if (requestIds.length === 0) return;
    const [, , sent] = this.keys(deviceId);
    await this.batch.send('hset', sent, ...requestIds.flatMap((id) => [id, sessionToken]));
  }

  async removeUnsent(deviceId: string, requestIds: string[]): Promise<void> {
    if (requestIds.length === 0) return;
    await this.redis.eval(REMOVE_UNSENT, 3, ...this.keys(deviceId), ...requestIds);
  }

  async remove(deviceId: string, requestIds: string[]): Promise<void> {
    if (requestIds.length === 0) return;
    const [ids, requests, sent] = this.keys(deviceId);
    const tx = this.redis.multi();
    for (const id of requestIds) tx.lrem(ids, 0, id);
    tx.hdel(requests, ...requestIds);
    tx.hdel(sent, ...requestIds);
    await tx.exec();
  }
}
