/**
 * The `dmwsi` command: serve (all roles or one), manage API users, run
 * migrations, write the WSDL files, run a simulated device fleet, run the
 * demo; and, against a running gateway over its SOAP API, import devices,
 * create and follow jobs, and show tasks (src/cli/). Exit codes:
 * src/cli/exit-codes.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type Role } from '../config/config.js';
import { buildDeviceCommand } from '../cli/device-commands.js';
import { CliError, EXIT, EXIT_CODES_HELP, type ExitCode, exitCodeOfFault } from '../cli/exit-codes.js';
import { buildJobCommand } from '../cli/job-commands.js';
import { buildTaskCommand } from '../cli/task-commands.js';
import { buildUserCommand } from '../cli/user-commands.js';
import { DmwsiError } from '../domain/errors.js';
import { buildSimulateCommand } from '../simulator/cli.js';
import { buildDemoCommand } from './demo-command.js';
import { ensureRedis, RedisUnavailableError } from './redis-launcher.js';

// The gateway's modules (express, BullMQ, TypeORM, ...) load only for the commands that need them:
// a remote command such as `dmwsi job watch` starts in a fraction of the time.

/** `role`: from --role; when not given, DMWSI_ROLE (via the configuration) decides. */
async function serve(role: Role | undefined): Promise<void> {
  const config = loadConfig(process.env, role ? { role } : {}, 'serve');
  const [{ createLogger }, { installProcessGuards }, { startGateway }] = await Promise.all([
    import('../observability/logger.js'),
    import('./process-guards.js'),
    import('./gateway.js'),
  ]);
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

async function migrate(): Promise<void> {
  const config = loadConfig();
  const { openDatabase } = await import('../persistence/data-source.js');
  const ds = await openDatabase({ url: config.databaseUrl, schema: config.databaseSchema });
  console.log(`database is up to date (${ds.options.type})`);
  await ds.destroy();
}

async function writeWsdl(outDir: string): Promise<void> {
  const [{ SERVICES }, { PLACEHOLDER_BASE, renderWsdl, wsdlFileName }] = await Promise.all([
    import('../wsi/contract/schema.js'),
    import('../wsi/contract/wsdl-generator.js'),
  ]);
  fs.mkdirSync(outDir, { recursive: true });
  for (const s of SERVICES) {
    const file = path.join(outDir, wsdlFileName(s));
    fs.writeFileSync(file, renderWsdl(s, PLACEHOLDER_BASE + s.path));
    console.log(`wrote ${file}`);
  }
}

export function buildProgram(): Command {
  const program = new Command('dmwsi')
    .description('OMA DM WSI gateway')
    .showHelpAfterError()
    .addHelpText('after', `\n${EXIT_CODES_HELP}`);
  program
    .command('serve')
    .description('run the gateway (SOAP API, DM endpoint, workers)')
    .addOption(
      new Option('--role <role>', 'which part to run (default: DMWSI_ROLE, else all)').choices(['all', 'api', 'dm', 'worker']),
    )
    .action((o: { role?: Role }) => serve(o.role));
  program.addCommand(buildUserCommand());
  program.command('migrate').description('bring the database schema up to date').action(migrate);
  program.addCommand(buildSimulateCommand());
  program.addCommand(buildDeviceCommand());
  program.addCommand(buildJobCommand());
  program.addCommand(buildTaskCommand());
  program.addCommand(buildDemoCommand());
  program
    .command('wsdl')
    .description('write the WSDL files generated from the contract')
    .option('--out <dir>', 'output folder', 'wsdl')
    .action((o: { out: string }) => writeWsdl(o.out));
  return program;
}

/** One line and an exit code for every failure a user can cause or meet; never a stack trace. */
function exitCodeOf(err: unknown): { code: ExitCode; message: string } {
  if (err instanceof CliError) return { code: err.exitCode, message: err.message };
  if (err instanceof DmwsiError) return { code: exitCodeOfFault(err.code), message: err.message };
  if (err instanceof ConfigError) return { code: EXIT.usage, message: err.message };
  if (err instanceof RedisUnavailableError) return { code: EXIT.server, message: err.message };
  return { code: EXIT.server, message: `unexpected error: ${(err as Error)?.message ?? String(err)} (DMWSI_DEBUG=1 shows where)` };
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const { code, message } = exitCodeOf(err);
    console.error(`dmwsi: ${message}`);
    if (process.env.DMWSI_DEBUG === '1') console.error(err);
    process.exit(code);
  }
}
