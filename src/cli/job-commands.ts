/** `dmwsi job create|watch|show|pause|restart|cancel`: bulk jobs over the SOAP API. */
import fs from 'node:fs';
import { Command, Option } from 'commander';
import { connect, type ConnectionOptions, withConnectionOptions } from './connection.js';
import { CliError, EXIT } from './exit-codes.js';
import type { CommandDefinition, DeploymentOptions, GatewayApi, OperationDefinition } from './gateway-api.js';
import { exitCodeOfJob, watchJob } from './job-watch.js';
import { note, printJson, printLine } from './output.js';
import { jobLine, jobView, outputMode } from './progress.js';
import { table } from './table.js';
import { positiveInt, timeArgument } from './times.js';

const OPERATIONS = [
  'QUERY',
  'UPDATE',
  'DELETE',
  'EXEC',
  'SCHEDULED_EXEC',
  'CUSTOM',
  'FIRMWARE_UPDATE',
  'SOFTWARE_INSTALL',
  'SOFTWARE_ACTIVATE',
  'SOFTWARE_DEACTIVATE',
  'SOFTWARE_REMOVE',
  'SOFTWARE_INVENTORY',
] as const;

/** The DM verb of each --uri, for the operations that take commands. */
const VERB_OF: Partial<Record<(typeof OPERATIONS)[number], string>> = { QUERY: 'Get', UPDATE: 'Replace', DELETE: 'Delete', EXEC: 'Exec' };

interface CreateOptions extends ConnectionOptions {
  operation?: (typeof OPERATIONS)[number];
  operationFile?: string;
  uri: string[];
  value?: string;
  format?: string;
  targetUri?: string;
  atTime?: string;
  contentId?: string;
  componentId?: string;
  target: string[];
  targets?: string;
  notificationsPerSecond?: number;
  firstWaveSize?: number;
  waveSize?: number;
  maxConcurrentSessions?: number;
  errorThresholdPercent?: number;
  startAt?: string;
  deadline?: string;
  maxConcurrentDownloads?: number;
  waveIntervalSeconds?: number;
  watch?: boolean;
  interval: number;
  outage: number;
  json?: boolean;
}

interface WatchOptions extends ConnectionOptions {
  interval: number;
  outage: number;
  timeout?: number;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.usage);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not JSON`, EXIT.usage);
  }
}

/**
 * The operation from --operation-file (an OperationDefinition as JSON; `commands` may be a plain
 * list) or from --operation and its options. The gateway validates it; this only shapes it.
 */
export function operationOf(o: CreateOptions): OperationDefinition {
  if (o.operationFile) {
    const raw = readJsonFile(o.operationFile) as OperationDefinition & { commands?: unknown };
    if (!raw || typeof raw !== 'object' || typeof raw.name !== 'string') throw new CliError(`${o.operationFile}: expected an object with a name`, EXIT.usage);
    const commands = raw.commands;
    return Array.isArray(commands) ? { ...raw, commands: { command: commands as CommandDefinition[] } } : raw;
  }
  if (!o.operation) throw new CliError('give --operation NAME or --operation-file FILE.json', EXIT.usage);
  const op: OperationDefinition = { name: o.operation };
  const verb = VERB_OF[o.operation];
  if (o.uri.length > 0) {
    if (!verb) throw new CliError(`--uri does not apply to ${o.operation}; use --operation-file for CUSTOM, --target-uri for SCHEDULED_EXEC`, EXIT.usage);
    op.commands = {
      command: o.uri.map((uri) => ({
        verb,
        uri,
        ...(o.value !== undefined && { value: o.value }),
        ...(o.format !== undefined && { format: o.format }),
      })),
    };
  }
  if (o.targetUri !== undefined) op.targetUri = o.targetUri;
  if (o.atTime !== undefined) op.atTime = o.atTime;
  if (o.contentId !== undefined) op.contentId = o.contentId;
  if (o.componentId !== undefined) op.componentId = o.componentId;
  return op;
}

/**
 * --target values and --targets FILE: one device id or phone number a line ('#' starts a comment);
 * a file whose first line is the import CSV header gives the first column of each row.
 */
export function targetsOf(o: CreateOptions): string[] {
  const out = [...o.target];
  if (o.targets) {
    let text: string;
    try {
      text = fs.readFileSync(o.targets, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${o.targets}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.usage);
    }
    const lines = text.split(/\r?\n/).map((l) => l.trim());
    const csv = lines[0]?.startsWith('deviceId,') === true;
    for (const line of csv ? lines.slice(1) : lines) {
      if (line === '' || line.startsWith('#')) continue;
      out.push(csv ? line.slice(0, line.indexOf(',') < 0 ? undefined : line.indexOf(',')) : line);
    }
  }
  if (out.length === 0) throw new CliError('give the devices with --target ID (repeatable) or --targets FILE', EXIT.usage);
  return out;
}

function deploymentOptions(o: CreateOptions): DeploymentOptions {
  const keys = [
    'notificationsPerSecond',
    'firstWaveSize',
    'waveSize',
    'maxConcurrentSessions',
    'errorThresholdPercent',
    'startAt',
    'deadline',
    'maxConcurrentDownloads',
    'waveIntervalSeconds',
  ] as const;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out as DeploymentOptions;
}

async function watchToEnd(o: { json?: boolean; interval: number; timeout?: number; outage: number }, api: GatewayApi, jobId: string) {
  const mode = outputMode(o.json);
  const view = jobView(mode);
  // Ctrl-C while bars are drawn: put the cursor back before leaving (the job itself goes on).
  const interrupted = () => {
    view.stop();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  const job = await watchJob(api, jobId, view, {
    intervalMs: o.interval,
    ...(o.timeout !== undefined && { timeoutMs: o.timeout * 1000 }),
    outageMs: o.outage * 1000,
    onOutage: (m) => note(`dmwsi: ${m}`),
  }).finally(() => process.removeListener('SIGINT', interrupted));
  // Bars went to standard error; the result line is for standard output (lines and JSON are already there).
  if (mode === 'bars') printLine(jobLine(job));
  process.exitCode = exitCodeOfJob(job);
}

/** The gateway creates the job with the targets it knows; the others are named in the job's history. */
async function warnOfRejectedTargets(api: GatewayApi, jobId: string, given: number): Promise<void> {
  const job = await api.getJob(jobId);
  if (job.total >= given) return;
  const history = await api.getJobHistory(jobId, 0, 20);
  const why = history.find((h) => h.event === 'targets-rejected')?.detail;
  note(`dmwsi: ${given - job.total} of ${given} targets not taken${why ? `: ${why}` : ''}`);
}

export function buildJobCommand(): Command {
  const job = new Command('job').description('create and follow bulk jobs on a running gateway (SOAP API)');

  withConnectionOptions(
    job
      .command('create')
      .description('create a bulk job (createDeployments); prints its id')
      .addOption(new Option('--operation <name>', 'the operation').choices(OPERATIONS))
      .option('--operation-file <file.json>', 'the whole OperationDefinition as JSON (commands may be a list)')
      .option('--uri <uri>', 'a node the operation acts on (repeatable): Get for QUERY, Replace for UPDATE, Delete, Exec', collect, [])
      .option('--value <value>', 'the value of each --uri (UPDATE)')
      .option('--format <format>', 'the format of --value (chr, int, bool, b64, ...)')
      .option('--target-uri <uri>', 'SCHEDULED_EXEC: the node to execute')
      .option('--at-time <time>', 'SCHEDULED_EXEC: when (ISO date-time, or +30s, +5m from now)', (v) => timeArgument(v))
      .option('--content-id <id>', 'FIRMWARE_UPDATE, SOFTWARE_INSTALL: the package')
      .option('--component-id <id>', 'SOFTWARE_ACTIVATE/DEACTIVATE/REMOVE: the component')
      .option('--target <id>', 'a device id or phone number (repeatable)', collect, [])
      .option('--targets <file>', 'device ids or phone numbers, one a line (or the import CSV)')
      .option('--notifications-per-second <n>', 'notification rate', positiveInt)
      .option('--first-wave-size <n>', 'devices in the first wave', positiveInt)
      .option('--wave-size <n>', 'devices in each later wave', positiveInt)
      .option('--max-concurrent-sessions <n>', 'DM sessions of this job at once', positiveInt)
      .option('--error-threshold-percent <n>', 'pause when a wave fails beyond this share', positiveInt)
      .option('--start-at <time>', 'start later (ISO date-time, or +5m)', (v) => timeArgument(v))
      .option('--deadline <time>', 'tasks not done by then expire (ISO date-time, or +1h)', (v) => timeArgument(v))
      .option('--max-concurrent-downloads <n>', 'package downloads at once', positiveInt)
      .option('--wave-interval-seconds <n>', 'SCHEDULED_EXEC: seconds between the waves\' AtTimes', positiveInt)
      .option('--watch', 'then watch it to its end (exit code as job watch)')
      .option('--interval <ms>', 'with --watch: milliseconds between polls', positiveInt, 1000)
      .option('--outage <s>', 'with --watch: how long the gateway may be unreachable before giving up (exit 5)', positiveInt, 60)
      .option('--json', 'print {"jobId": ...} (and with --watch, JSON lines)'),
  ).action(async (o: CreateOptions) => {
    const operation = operationOf(o);
    const targets = targetsOf(o);
    const api = await connect(o);
    const jobId = await api.createDeployments(operation, targets, deploymentOptions(o));
    // One line: with --watch, JSON lines follow.
    if (o.json) printLine(JSON.stringify({ jobId }));
    else printLine(jobId);
    await warnOfRejectedTargets(api, jobId, targets.length);
    if (o.watch) await watchToEnd(o, api, jobId);
  });

  withConnectionOptions(
    job
      .command('watch <jobId>')
      .description('draw live progress per task state until the job ends; exit 0 if COMPLETED, 6 if it ended otherwise')
      .option('--interval <ms>', 'milliseconds between polls', positiveInt, 1000)
      .option('--outage <s>', 'how long the gateway may be unreachable or failing (a restart) before giving up (exit 5)', positiveInt, 60)
      .option('--timeout <s>', 'stop watching after this many seconds (exit 6 if the job has not ended)', positiveInt)
      .option('--json', 'JSON lines: the JobData at each change'),
  ).action(async (jobId: string, o: WatchOptions) => {
    await watchToEnd(o, await connect(o), jobId);
  });

  withConnectionOptions(
    job
      .command('list')
      .description('jobs, newest first')
      .option('--status <status>', 'only jobs in this state (RUNNING, PAUSED, COMPLETED, ...)')
      .option('--limit <n>', 'at most this many', positiveInt, 20)
      .option('--json', 'the JobData list as JSON'),
  ).action(async (o: ConnectionOptions & { status?: string; limit: number; json?: boolean }) => {
    const jobs = await (await connect(o)).getJobs(o.status, 0, o.limit);
    if (o.json) {
      printJson(jobs);
      return;
    }
    printLine(
      table(
        ['job', 'status', 'operation', 'created', 'by', 'total', 'completed', 'failed', 'missed'],
        jobs.map((j) => [j.jobId, j.status, j.operationName, j.createdAt, j.createdBy, j.total, j.completed, j.failed, j.missed]),
      ),
    );
  });

  withConnectionOptions(
    job.command('show <jobId>').description("a job's state and counters").option('--json', 'the JobData as JSON'),
  ).action(async (jobId: string, o: ConnectionOptions & { json?: boolean }) => {
    const data = await (await connect(o)).getJob(jobId);
    if (o.json) printJson(data);
    else printLine(jobLine(data));
  });

  const control = [
    ['pause', 'pauseJob', 'pause a running job (no new tasks start)'],
    ['restart', 'restartJob', 'resume a paused job'],
    ['cancel', 'cancelJob', 'cancel a job and its open tasks'],
  ] as const;
  for (const [name, operation, description] of control) {
    withConnectionOptions(
      job.command(`${name} <jobId>`).description(description).option('--json', 'the JobData afterwards as JSON'),
    ).action(async (jobId: string, o: ConnectionOptions & { json?: boolean }) => {
      const api = await connect(o);
      await api.jobCommand(operation, jobId);
      const data = await api.getJob(jobId);
      if (o.json) printJson(data);
      else printLine(jobLine(data));
    });
  }
  return job;
}
