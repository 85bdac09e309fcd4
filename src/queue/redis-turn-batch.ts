/**
 * One Redis pipeline per event-loop turn for the commands of the DM message
 * path, on a shared connection.
 */
import { isCluster, type RedisConnection } from './redis.js';

type Arg = string | number;

/**
 * The DM stores' Redis commands, sent as one pipeline per event-loop turn:
 * every command issued while the loop handles a batch of ready sockets goes
 * out in one socket write (flushed from setImmediate, right after the poll
 * phase), instead of one write each. In the DM bench (64 sessions in flight)
 * the synchronous socket write of each Redis command (~30 µs: a loopback TCP
 * send that wakes Redis) was the largest single cost of the gateway, ~23% of
 * its busy CPU; batched, a flush carried 27-42 commands (~10 messages'
 * worth) and gateway CPU per message fell ~14% (0.47 -> 0.40 ms), Redis's
 * by half (0.07 -> 0.04 ms). Commands keep their order; each caller gets its
 * own reply or error, as with a direct command. Used by the DM session store,
 * the device request queue and the broker's release of a device's
 * notification gate (at every DM session end); the shared connection's
 * other users keep ioredis's own auto-pipelining.
 *
 * On a Redis Cluster one pipeline may only carry keys of one node, and the
 * turn's commands are for many devices (many slots): there each command goes
 * to the connection on its own, and ioredis's auto-pipelining (on for the
 * shared connection, see gateway.ts) sends the turn's commands as one
 * pipeline per node, in order per node.
 */
export class RedisTurnBatch {
  private queued: { command: string; args: Arg[]; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly perNode: boolean,
  ) {}

  send(command: string, ...args: Arg[]): Promise<unknown> {
    if (this.perNode) return this.redis.call(command, args);
    return new Promise((resolve, reject) => {
      this.queued.push({ command, args, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 1) {
      const only = batch[0]!;
      this.redis.call(only.command, only.args).then(only.resolve, only.reject);
      return;
    }
    this.redis
      .pipeline(batch.map((c) => [c.command, ...c.args]))
      .exec()
      .then(
        (results) => {
          for (const [i, c] of batch.entries()) {
            const [err, reply] = results?.[i] ?? [new Error('Redis pipeline gave no reply'), undefined];
            if (err) c.reject(err);
            else c.resolve(reply);
          }
        },
        (err: unknown) => {
          for (const c of batch) c.reject(err);
        },
      );
  }
}

const batches = new WeakMap<RedisConnection, RedisTurnBatch>();

/** The one batch of a connection, shared by the DM stores built on it. */
export function turnBatchOf(redis: RedisConnection): RedisTurnBatch {
  let batch = batches.get(redis);
  if (batch === undefined) {
    batch = new RedisTurnBatch(redis, isCluster(redis));
    batches.set(redis, batch);
  }
  return batch;
}
