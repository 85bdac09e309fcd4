/** `dmwsi device import FILE.csv`: the device registry over the SOAP API. */
import fs from 'node:fs';
import { Command } from 'commander';
import { connect, type ConnectionOptions, withConnectionOptions } from './connection.js';
import { CliError, EXIT } from './exit-codes.js';
import { CHUNK_ROWS, importCsv } from './device-import.js';
import { printJson, printLine } from './output.js';
import { countView, outputMode } from './progress.js';
import { positiveInt } from './times.js';

interface ImportOptions extends ConnectionOptions {
  errors?: string;
  chunkRows: number;
  json?: boolean;
}

const csvCell = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** Rejected rows, written as they come: `line,reason`; the file is created on the first one. */
class RejectedRowsFile {
  private fd: number | undefined;
  constructor(readonly path: string) {}

  add(line: number, reason: string): void {
    if (this.fd === undefined) {
      this.fd = fs.openSync(this.path, 'w');
      fs.writeSync(this.fd, 'line,reason\n');
    }
    fs.writeSync(this.fd, `${line},${csvCell(reason)}\n`);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
  }
}

async function importFile(file: string, o: ImportOptions): Promise<void> {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.usage);
  }
  const api = await connect(o);
  const errors = new RejectedRowsFile(o.errors ?? `${file}.rejected.csv`);
  // The previous run's list would mislead: it is replaced, or removed when nothing is rejected.
  fs.rmSync(errors.path, { force: true });
  const input = fs.createReadStream(file);
  let read = 0;
  input.on('data', (b) => {
    read += b.length;
  });
  const view = countView(outputMode(o.json), 'import');
  let totals: Awaited<ReturnType<typeof importCsv>>;
  try {
    totals = await importCsv(
      api,
      input,
      {
        progress: (t) => view.update(read, size, `${t.rows} rows, ${t.imported} imported, ${t.rejected} rejected`),
        rejected: (line, reason) => errors.add(line, reason),
      },
      o.chunkRows,
    );
  } finally {
    view.stop();
    errors.close();
    input.destroy();
  }
  const rejectedTo = totals.rejected > 0 ? errors.path : undefined;
  if (o.json) printJson({ ...totals, ...(rejectedTo && { rejectedFile: rejectedTo }) });
  else printLine(`imported ${totals.imported} of ${totals.rows} rows${rejectedTo ? `; ${totals.rejected} rejected, listed in ${rejectedTo}` : ''}`);
  process.exitCode = totals.rejected > 0 ? EXIT.partial : EXIT.ok;
}

export function buildDeviceCommand(): Command {
  const device = new Command('device').description('the device registry of a running gateway (SOAP API)');
  withConnectionOptions(
    device
      .command('import <file.csv>')
      .description(
        'register or update devices from a CSV file (header deviceId,phoneNumber,capabilityOid,...), sent in chunks; ' +
          'exit 0 when every row was imported, 6 when some were rejected',
      )
      .option('--errors <file>', 'where rejected rows go, as line,reason (default: FILE.csv.rejected.csv)')
      .option('--chunk-rows <n>', 'rows per importDeviceInstances call', positiveInt, CHUNK_ROWS)
      .option('--json', 'print the totals as JSON'),
  ).action((file: string, o: ImportOptions) => importFile(file, o));
  withConnectionOptions(
    device.command('show <deviceId|phoneNumber>').description('a registered device (by id, or by phone number starting with +)').option('--json', 'as JSON'),
  ).action(async (id: string, o: ConnectionOptions & { json?: boolean }) => {
    const d = await (await connect(o)).getDevice(id);
    if (o.json) {
      printJson(d);
      return;
    }
    const facts: [string, string | undefined][] = [
      ['device', d.deviceId],
      ['phone', d.phoneNumber],
      ['capability', d.capabilityOid],
      ['state', d.state],
      ['last contact', d.lastContact],
      ['notify at', d.notificationUrl ?? d.smsAddress],
      ['auth', d.authType],
    ];
    for (const [k, v] of facts) if (v) printLine(`${`${k}:`.padEnd(14)}${v}`);
  });
  return device;
}
