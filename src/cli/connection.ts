/**
 * Where the remote commands find the gateway and who they sign in as:
 * --url / DMWSI_URL, --user / DMWSI_USER, and the password from DMWSI_PASSWORD,
 * standard input (--password-stdin) or a prompt on a terminal. Never from the
 * command line alone: it would show in `ps` and shell history.
 */
import type { Command } from 'commander';
import { CliError, EXIT } from './exit-codes.js';
import { GatewayApi } from './gateway-api.js';
import { GatewayClient } from './soap-client.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface ConnectionOptions {
  url?: string;
  user?: string;
  passwordStdin?: boolean;
}

/** Adds --url, --user and --password-stdin to a remote command. */
export function withConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', `gateway base URL (default: DMWSI_URL, else ${DEFAULT_URL})`)
    .option('--user <name>', 'API user (default: DMWSI_USER, else admin); the password comes from DMWSI_PASSWORD, --password-stdin or a prompt')
    .option('--password-stdin', 'read the password from standard input');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let typed = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new CliError('interrupted', EXIT.usage));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function password(opts: ConnectionOptions, env: NodeJS.ProcessEnv, user: string): Promise<string> {
  if (opts.passwordStdin) return readStdin();
  if (env.DMWSI_PASSWORD) return env.DMWSI_PASSWORD;
  if (process.stdin.isTTY) return promptHidden(`password for ${user}: `);
  throw new CliError('no password: set DMWSI_PASSWORD, pass --password-stdin, or run in a terminal to be asked', EXIT.usage);
}

function gatewayUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.protocol === 'http:' || u.protocol === 'https:') return raw.replace(/\/+$/, '');
  } catch {
    // fall through
  }
  throw new CliError(`--url must be an http(s) URL, got "${raw}"`, EXIT.usage);
}

export async function connect(opts: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): Promise<GatewayApi> {
  const url = gatewayUrl(opts.url ?? env.DMWSI_URL ?? DEFAULT_URL);
  const username = opts.user ?? env.DMWSI_USER ?? 'admin';
  return new GatewayApi(new GatewayClient({ url, username, password: await password(opts, env, username) }));
}
