/**
 * How the benches' gateway processes reach Redis and PostgreSQL on this one box (`--transport`):
 * `unix` (the default) over Unix sockets, as a co-located server is normally reached (psql's own
 * default on Debian); `tcp` over loopback TCP, as before. On this 2-core VM a loopback TCP write
 * costs both sides the peer's TCP receive path: a trivial pg query measured ~85 µs of client CPU
 * over TCP against ~56 µs over the socket, and a split rollout's dm processes spent ~16% of their
 * CPU in pg's socket writes. The figures name the transport; the README gives both.
 */
import fs from 'node:fs';

export type LocalTransport = 'unix' | 'tcp';

export function parseTransport(raw: string): LocalTransport {
  if (raw !== 'unix' && raw !== 'tcp') throw new Error(`--transport: unix or tcp, not ${raw}`);
  return raw;
}

/** Where Debian's PostgreSQL puts its sockets (unix_socket_directories). */
const PG_SOCKET_DIRS = ['/var/run/postgresql', '/tmp'];

/**
 * The same database over the server's Unix socket when the URL names this box (127.0.0.1,
 * localhost, ::1) and the socket for its port exists; otherwise the URL as given.
 */
export function postgresOverSocket(url: string): string {
  const u = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return url;
  const port = u.port || '5432';
  const dir = PG_SOCKET_DIRS.find((d) => fs.existsSync(`${d}/.s.PGSQL.${port}`));
  if (dir === undefined) return url;
  const auth = u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : '';
  return `${u.protocol}//${auth}${encodeURIComponent(dir)}:${port}${u.pathname}${u.search}`;
}

/** How a figure names the transport actually used. */
export function describeTransport(redisUrl: string, postgresUrl: string | undefined): string {
  const redis = /[?&]path=/.test(redisUrl) ? 'Redis over a Unix socket' : 'Redis over TCP';
  if (postgresUrl === undefined) return redis;
  return `${redis}, PostgreSQL over ${/^postgres(ql)?:\/\/[^/]*%2F/i.test(postgresUrl) ? 'a Unix socket' : 'TCP'}`;
}
