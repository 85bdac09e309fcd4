/**
 * The `dmwsi` command: serve (all roles or one), add API users, run
 * migrations, write the WSDL files, run a simulated device fleet.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type Role } from '../config/config.js';
import { isRole } from '../domain/roles.js';
import { DmwsiError } from '../domain/errors.js';
import { createLogger } from '../observability/logger.js';
import { openDatabase } from '../persistence/data-source.js';
import { TypeormTransactor } from '../persistence/transactor.js';
import { hashPassword, verifyPassword } from '../security/password-hash.js';
import { loadSecretKey, SecretBox } from '../security/secret-box.js';
import { CallerAuthService } from '../services/caller-auth.js';
import { systemClock } from '../services/ports.js';
import { buildSimulateCommand } from '../simulator/cli.js';
import { SERVICES } from '../wsi/contract/schema.js';
import { PLACEHOLDER_BASE, renderWsdl, wsdlFileName } from '../wsi/contract/wsdl-generator.js';
import { startGateway } from './gateway.js';
import { installProcessGuards } from './process-guards.js';
import { ensureRedis } from './redis-launcher.js';

async function readPassword(fromStdin: boolean): Promise<string> {
  if (!fromStdin && process.env.DMWSI_NEW_USER_PASSWORD) return process.env.DMWSI_NEW_USER_PASSWORD;
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** `role`: from --role; when not given, DMWSI_ROLE (via the configuration) decides. */
async function serve(role: Role | undefined): Promise<void> {
  const config = loadConfig(process.env, role ? { role } : {}, 'serve');
  const logger = createLogger(config.logLevel);
  installProcessGuards(logger);
  // In production the configuration insists on REDIS_URL, so ensureRedis only
  // hands it back: a private redis-server is for development machines.
  const redis = await ensureRedis(config.redisUrl, {
    mode: 'default',
    dataDir: path.join(config.dataDir, 'redis'),
    log: (m) => logger.info(m),
  });
  const gateway = await startGateway({ ...config, redisUrl: redis.url }, { logger }).catch(async (err: unknown) => {
    await redis.stop();
    throw err;
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await gateway.close();
    await redis.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

async function addUser(username: string, role: string, fromStdin: boolean): Promise<void> {
  if (!isRole(role)) throw new DmwsiError('InvalidArgument', 'role must be admin, bulk, care or readonly');
  const config = loadConfig();
  const password = await readPassword(fromStdin);
  const ds = await openDatabase({ url: config.databaseUrl, schema: config.databaseSchema });
  try {
    const sealer = new SecretBox(loadSecretKey(config.secretKey, config.dataDir));
    const auth = new CallerAuthService({
      tx: new TypeormTransactor(ds, sealer),
      sessions: {
        put: async () => undefined,
        get: async () => undefined,
        delete: async () => undefined,
        claimOnce: async () => true,
      },
      sealer,
      hasher: { hash: hashPassword, verify: verifyPassword },
      clock: systemClock,
      sessionTtlSeconds: config.userSessionTtlSeconds,
      maxSkewSeconds: config.wsSecurityMaxSkewSeconds,
    });
    await auth.createUser(username, password, role);
    console.log(`user ${username} saved with role ${role}`);
  } finally {
    await ds.destroy();
  }
}

async function migrate(): Promise<void> {
  const config = loadConfig();
  const ds = await openDatabase({ url: config.databaseUrl, schema: config.databaseSchema });
  console.log(`database is up to date (${ds.options.type})`);
  await ds.destroy();
}

function writeWsdl(outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  for (const s of SERVICES) {
    const file = path.join(outDir, wsdlFileName(s));
    fs.writeFileSync(file, renderWsdl(s, PLACEHOLDER_BASE + s.path));
    console.log(`wrote ${file}`);
  }
}

export function buildProgram(): Command {
  const program = new Command('dmwsi').description('OMA DM WSI gateway').showHelpAfterError();
  program
    .command('serve')
    .description('run the gateway (SOAP API, DM endpoint, workers)')
    .addOption(
      new Option('--role <role>', 'which part to run (default: DMWSI_ROLE, else all)').choices(['all', 'api', 'dm', 'worker']),
    )
    .action((o: { role?: Role }) => serve(o.role));
  const user = program.command('user').description('manage API users');
  user
    .command('add <username>')
    .description('create or replace an API user; the password comes from DMWSI_NEW_USER_PASSWORD or standard input')
    .addOption(new Option('--role <role>', 'the role').choices(['admin', 'bulk', 'care', 'readonly']).makeOptionMandatory())
    .option('--password-stdin', 'read the password from standard input even when DMWSI_NEW_USER_PASSWORD is set')
    .action((name: string, o: { role: string; passwordStdin?: boolean }) => addUser(name, o.role, Boolean(o.passwordStdin)));
  program.command('migrate').description('bring the database schema up to date').action(migrate);
  program.addCommand(buildSimulateCommand());
  program
    .command('wsdl')
    .description('write the WSDL files generated from the contract')
    .option('--out <dir>', 'output folder', 'wsdl')
    .action((o: { out: string }) => writeWsdl(o.out));
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof DmwsiError || (err as Error).name === 'RedisUnavailableError') {
      console.error(`dmwsi: ${(err as Error).message}`);
      process.exit(2);
    }
    throw err;
  }
}
