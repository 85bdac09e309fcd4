/**
 * Per-device DM command requests in Redis: a list of ids (order), and a hash
 * of id -> request (content) that also holds, under MARK + id, the token of
 * the DM session that sent it (see DeviceRequestQueue.markSent): one hash,
 * so a read of the queue is one HMGET and a removal one HDEL. Enqueue is one atomic
 * script that does nothing when the id is already there, so a retried
 * enqueue never doubles a command. The keys share a hash tag, so they stay
 * on one Redis Cluster slot.
 */
import crypto from 'node:crypto';
import type { DeviceRequestQueue, EnqueueWatch, PendingRequests } from '../dm/server/ports.js';
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
const ENQUEUE_SHA = crypto.createHash('sha1').update(ENQUEUE).digest('hex');

/**
 * A sent mark's field in the requests hash: MARK + request id. A request id
 * may not start with it (enqueue refuses one), so no id is ever a mark.
 */
const MARK = '\u0000sent:';

/**
 * The oldest ARGV[2] requests' bodies in queue order, then the session each
 * was sent in (nil: none), in one round trip and one HMGET (an id without a
 * body comes back nil). ARGV[1]: MARK.
 */
const PENDING = `
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #ids == 0 then return {} end
local fields = {}
for i = 1, #ids do fields[i] = ids[i]; fields[#ids + i] = ARGV[1] .. ids[i] end
return redis.call('HMGET', KEYS[2], unpack(fields))`;
const PENDING_SHA = crypto.createHash('sha1').update(PENDING).digest('hex');

/** Removes the ids ARGV[2..] that no session has sent (no mark); returns how many it removed. ARGV[1]: MARK. */
const REMOVE_UNSENT = `
local n = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('HEXISTS', KEYS[2], ARGV[1] .. id) == 0 and redis.call('HDEL', KEYS[2], id) == 1 then
    redis.call('LREM', KEYS[1], 0, id)
    n = n + 1
  end
end
return n`;
const REMOVE_UNSENT_SHA = crypto.createHash('sha1').update(REMOVE_UNSENT).digest('hex');

/**
 * Removes the ids ARGV[2..], their bodies and their marks, atomically (a
 * script: one command and one reply instead of MULTI, an LREM per id, HDEL
 * and EXEC). ARGV[1]: MARK.
 */
const REMOVE = `
local fields = {}
for i = 2, #ARGV do
  redis.call('LREM', KEYS[1], 0, ARGV[i])
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[1] .. ARGV[i]
end
return redis.call('HDEL', KEYS[2], unpack(fields))`;
const REMOVE_SHA = crypto.createHash('sha1').update(REMOVE).digest('hex');

/** How many of a device's oldest requests a session considers at once. */
const WINDOW = 64;

export class RedisDeviceRequestQueue implements DeviceRequestQueue {
  /** The read of every DM message goes out with the session store's commands (see RedisTurnBatch). */
  private readonly batch: RedisTurnBatch;
  /** The watches of each device being watched (see watchEnqueues): entries only while a watch runs. */
  private readonly watches = new Map<string, Set<{ hit: boolean }>>();

  constructor(
    redis: RedisConnection,
    private readonly prefix: string,
  ) {
    this.batch = turnBatchOf(redis);
  }

  private keys(deviceId: string): [string, string] {
    return [taggedKey(this.prefix, 'dm:queue', deviceId, ':ids'), taggedKey(this.prefix, 'dm:queue', deviceId, ':requests')];
  }

  async enqueue(deviceId: string, request: ServerCommandRequest): Promise<boolean> {
    const problem = checkServerCommandRequest(request) ?? (request.requestId.startsWith(MARK) ? 'requestId must not start with a NUL character' : undefined);
    if (problem) throw new Error(`invalid DM command request ${request.requestId}: ${problem}`);
    // Before the write: a watcher that reads after this call returns must see it.
    for (const w of this.watches.get(deviceId) ?? []) w.hit = true;
    const [ids, requests] = this.keys(deviceId);
    const added = await this.script(ENQUEUE, ENQUEUE_SHA, [ids, requests], request.requestId, JSON.stringify(request));
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
    return { requests, sentIn, more: n >= WINDOW };
  }

  private runPending(keys: [string, string]): Promise<unknown> {
    return this.script(PENDING, PENDING_SHA, keys, MARK, WINDOW);
  }

  /** EVALSHA, and EVAL when Redis does not have the script yet (first call, restart, SCRIPT FLUSH). */
  private async script(text: string, sha: string, keys: [string, string], ...args: (string | number)[]): Promise<unknown> {
    try {
      return await this.batch.send('evalsha', sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return this.batch.send('eval', text, keys.length, ...keys, ...args);
    }
  }

  watchEnqueues(deviceId: string): EnqueueWatch {
    const watch = { hit: false };
    const set = this.watches.get(deviceId) ?? new Set();
    this.watches.set(deviceId, set);
    set.add(watch);
    return {
      enqueued: () => watch.hit,
      stop: () => {
        set.delete(watch);
        if (set.size === 0 && this.watches.get(deviceId) === set) this.watches.delete(deviceId);
      },
    };
  }

  async markSent(deviceId: string, requestIds: string[], sessionToken: string): Promise<void> {
    if (requestIds.length === 0) return;
    const [, requests] = this.keys(deviceId);
    await this.batch.send('hset', requests, ...requestIds.flatMap((id) => [MARK + id, sessionToken]));
  }

  async removeUnsent(deviceId: string, requestIds: string[]): Promise<void> {
    if (requestIds.length === 0) return;
    await this.script(REMOVE_UNSENT, REMOVE_UNSENT_SHA, this.keys(deviceId), MARK, ...requestIds);
  }

  async remove(deviceId: string, requestIds: string[]): Promise<void> {
    if (requestIds.length === 0) return;
    await this.script(REMOVE, REMOVE_SHA, this.keys(deviceId), MARK, ...requestIds);
  }
}
