/**
 * REDIS_URL, read in one place: a single Redis (`redis://`, `rediss://`,
 * handed to ioredis as is) or a Redis Cluster named by some of its nodes
 * (`redis+cluster://[user[:password]@]host:port,host:port`, or
 * `rediss+cluster://` for TLS). The configuration validates with it and
 * connectRedis connects with it.
 */

export interface ClusterNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: ClusterNode[]; username?: string; password?: string; tls: boolean };

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\/(.*)$/i;

/** The target REDIS_URL names, or why it names none (a message without the password). */
export function parseRedisUrl(raw: string): RedisTarget | { problem: string } {
  const cluster = CLUSTER_SCHEME.exec(raw);
  if (!cluster) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { problem: `is not a valid URL: "${raw.replace(/\/\/[^@/]*@/, '//')}"` };
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      return { problem: `must use redis://, rediss://, redis+cluster:// or rediss+cluster://, got "${url.protocol}"` };
    }
    return { kind: 'single', url: raw };
  }
  const tls = cluster[1]!.toLowerCase() === 'rediss';
  let rest = cluster[2]!.replace(/\/.*$/, '');
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const credentials = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = credentials.indexOf(':');
    username = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials) || undefined;
    password = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) : undefined;
  }
  const nodes: ClusterNode[] = [];
  for (const part of rest.split(',')) {
    // host:port, or [v6]:port
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(part.trim());
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) {
      return { problem: `redis+cluster:// lists nodes as host:port,host:port; "${part}" is not host:port` };
    }
    nodes.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return { kind: 'cluster', nodes, username, password, tls };
}
