/**
 * Every Redis key the gateway uses, in one place, each with a hash tag (the
 * part in braces, which alone decides a key's Redis Cluster slot):
 *
 * | keys                                   | tag           | why                                       |
 * |----------------------------------------|---------------|-------------------------------------------|
 * | BullMQ queue `{P}:tasks:*`             | `{P}`         | BullMQ's scripts touch many queue keys     |
 * | device requests `P:dm:queue:{dev}:*`   | `{dev}`       | ENQUEUE/PENDING/REMOVE(_UNSENT) scripts   |
 * | session binding, lock `P:dm:*:{dev}`   | `{dev}`       | one device's keys on one slot              |
 * | DM session state `P:dm:session:{tok}`  | `{tok}`       | single-key; spread over the cluster        |
 * | open DM sessions `P:dm:{open}`         | `{open}`      | one sorted set, single-key scripts         |
 * | API sessions, replay claims `P:user:{…}` | the token/key | single-key                              |
 * | broker cache `P:broker:{key}…`         | the key       | single-key (TAKE_TOKENS included)          |
 * | DM 2.0 uploads `P:dm2:up:{dev}:…`       | `{dev}`       | single-key; one device's values on one slot  |
 *
 * P is QUEUE_PREFIX (no braces allowed in it, so it never decides a slot).
 * Keys of different tags are never in one script, MULTI or pipeline that
 * Redis must run on one node: the DM message path's pipeline (RedisTurnBatch)
 * is split per node by ioredis on a cluster.
 */

/** `prefix:kind:{id}` followed by `rest`: the id decides the key's cluster slot. */
export function taggedKey(prefix: string, kind: string, id: string, rest = ''): string {
  return `${prefix}:${kind}:{${id}}${rest}`;
}

/** BullMQ's key prefix: the whole queue on one slot, as BullMQ needs on a cluster. */
export function bullPrefix(queuePrefix: string): string {
  return `{${queuePrefix}}`;
}

/** Why QUEUE_PREFIX cannot be used, or undefined. */
export function queuePrefixProblem(prefix: string): string | undefined {
  if (prefix === '') return 'must not be empty';
  if (/[{}]/.test(prefix)) return 'must not contain { or } (the gateway adds the Redis Cluster hash tags itself)';
  return undefined;
}
