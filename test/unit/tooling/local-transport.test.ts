/** The benches' --transport: which URL a co-located PostgreSQL is reached by. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeTransport, parseTransport, postgresOverSocket } from '../../../bench/support/local-transport.js';

const socketDir = ['/var/run/postgresql', '/tmp'].find((d) => fs.existsSync(`${d}/.s.PGSQL.5432`));

describe('bench transport', () => {
  it('keeps a URL naming another host as it is', () => {
    expect(postgresOverSocket('postgres://u:p@db.example:5432/test')).toBe('postgres://u:p@db.example:5432/test');
  });

  it('keeps a local URL whose port has no socket', () => {
    expect(postgresOverSocket('postgres://postgres@127.0.0.1:1/test')).toBe('postgres://postgres@127.0.0.1:1/test');
  });

  it.skipIf(socketDir === undefined)('names the server’s socket directory for a local URL', () => {
    const url = postgresOverSocket('postgres://postgres@127.0.0.1:5432/test?sslmode=disable');
    expect(url).toBe(`postgres://postgres@${encodeURIComponent(socketDir!)}:5432/test?sslmode=disable`);
    expect(describeTransport('redis://localhost?path=%2Ftmp%2Fr.sock', url)).toBe('Redis over a Unix socket, PostgreSQL over a Unix socket');
  });

  it('says which transport', () => {
    expect(describeTransport('redis://127.0.0.1:6379', 'postgres://postgres@127.0.0.1:5432/test')).toBe('Redis over TCP, PostgreSQL over TCP');
    expect(describeTransport('redis://127.0.0.1:6379', undefined)).toBe('Redis over TCP');
    expect(() => parseTransport('udp')).toThrow(/unix or tcp/);
  });
});
