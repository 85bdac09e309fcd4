/**
 * Bulk import of device instances from records and/or CSV text. Streams the
 * CSV, validates each row, and writes batches of BATCH_SIZE rows, one
 * transaction per batch, so a 100,000-row import never holds one giant
 * transaction. Idempotent by deviceId: a known device is updated, and its
 * generated secrets and nonces are kept.
 */
import { Readable } from 'node:stream';
import { setImmediate as nextTurnOfLoop } from 'node:timers/promises';
import { type CsvError, parse } from 'csv-parse';
import { DmwsiError, invalidArgument } from '../domain/errors.js';
import type { DeviceAuthType, DeviceInstanceInput, ImportRejection, ImportResult } from '../domain/registry.js';
import { deviceInstanceProblems, normalizeDeviceInput } from '../domain/registry-validation.js';
import { type DeviceSecretSource, mergeDevice, newDeviceRecord } from './device-record.js';
import type { DeviceRecord, Transactor } from './ports.js';

export const BATCH_SIZE = 1000;
const CSV_CHUNK = 64 * 1024;

/** The contract's CSV columns; smsAddress and authType are accepted as extras. */
const REQUIRED_COLUMNS = ['deviceId', 'phoneNumber', 'capabilityOid'] as const;
const KNOWN_COLUMNS = new Set([
  'deviceId',
  'phoneNumber',
  'capabilityOid',
  'notificationUrl',
  'clientUsername',
  'clientPassword',
  'serverPassword',
  'smsAddress',
  'authType',
]);

export interface ImportSource {
  records?: DeviceInstanceInput[];
  csv?: string;
}

interface PendingRow {
  row: number;
  label: string;
  input: DeviceInstanceInput;
}

export interface ImporterDeps {
  tx: Transactor;
  secrets: DeviceSecretSource;
}

class ImportRun {
  imported = 0;
  readonly rejected: ImportRejection[] = [];
  private readonly ids = new Map<string, string>();
  private readonly phones = new Map<string, string>();
  private batch: PendingRow[] = [];
  private writing: Promise<void> | undefined;

  constructor(
    private readonly deps: ImporterDeps,
    private readonly capabilities: Set<string>,
    private readonly now: number,
  ) {}

  reject(row: number, label: string, reason: string): void {
    this.rejected.push({ row, reason: `${label}: ${reason}` });
  }

  async add(row: number, label: string, raw: DeviceInstanceInput): Promise<void> {
    const problem = deviceInstanceProblems(raw)[0];
    if (problem) return this.reject(row, label, `${problem.field} ${problem.message}`);
    const input = normalizeDeviceInput(raw);
    if (!this.capabilities.has(input.capabilityOid)) {
      return this.reject(row, label, `capabilityOid "${input.capabilityOid}" does not exist`);
    }
    const dupId = this.ids.get(input.deviceId);
    if (dupId) return this.reject(row, label, `deviceId repeats ${dupId}`);
    const dupPhone = this.phones.get(input.phoneNumber);
    if (dupPhone) return this.reject(row, label, `phoneNumber repeats ${dupPhone}`);
    this.ids.set(input.deviceId, label);
    this.phones.set(input.phoneNumber, label);
    this.batch.push({ row, label, input });
    if (this.batch.length >= BATCH_SIZE) await this.flush();
  }

  /**
   * Hands the batch to the database and returns while it is written, so the
   * next batch is parsed and sealed meanwhile (on PostgreSQL the two overlap:
   * the gateway's CPU and the database's). One write at a time: the next one
   * starts only once this one has committed, so each batch sees the ones before.
   */
  async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    // Parsing, sealing and a SQLite batch run without ever reaching the event loop (promises and
    // stream ticks only): without this turn a 100,000-row call held every other request (lookups,
    // DM sessions) for its whole length. One turn per 1,000 rows costs nothing measurable.
    await nextTurnOfLoop();
    await this.written();
    this.writing = this.writeOrSplit(batch);
    // Awaited at the next flush or at the end; marked handled meanwhile (a failure is thrown there).
    this.writing.catch(() => undefined);
  }

  /** Waits for the batch being written (its failure is thrown here). */
  async written(): Promise<void> {
    const writing = this.writing;
    this.writing = undefined;
    if (writing) await writing;
  }

  private async writeOrSplit(batch: PendingRow[]): Promise<void> {
    try {
      this.imported += await this.write(batch);
    } catch (err) {
      if (!isClash(err)) throw err;
      // A phone number moving between devices inside one batch can clash in a
      // single statement; row by row, each clash is reported on its own row.
      for (const one of batch) {
        try {
          this.imported += await this.write([one]);
        } catch (e) {
          if (!isClash(e)) throw e;
          this.reject(one.row, one.label, `phoneNumber ${one.input.phoneNumber} belongs to another device`);
        }
      }
    }
  }

  /** Writes one batch in one transaction; returns how many rows were written. */
  private write(batch: PendingRow[]): Promise<number> {
    return this.deps.tx.run(async (s) => {
      const existing = await s.devices.getMany(batch.map((b) => b.input.deviceId));
      const owners = await s.devices.ownersOfPhones(batch.map((b) => b.input.phoneNumber));
      const records: DeviceRecord[] = [];
      for (const { row, label, input } of batch) {
        const owner = owners.get(input.phoneNumber);
        if (owner !== undefined && owner !== input.deviceId) {
          this.reject(row, label, `phoneNumber ${input.phoneNumber} belongs to device ${owner}`);
          continue;
        }
        const current = existing.get(input.deviceId);
        records.push(current ? mergeDevice(current, input, this.now) : newDeviceRecord(input, this.now, this.deps.secrets));
      }
      await s.devices.upsertMany(records);
      return records.length;
    });
  }
}

const isClash = (err: unknown): boolean => err instanceof DmwsiError && err.code === 'AlreadyExists';

function csvRecord(header: string[], fields: string[]): DeviceInstanceInput {
  const v: Record<string, string> = {};
  header.forEach((name, i) => {
    const f = fields[i];
    if (f !== undefined && f !== '') v[name] = f;
  });
  return {
    deviceId: v.deviceId ?? '',
    phoneNumber: v.phoneNumber ?? '',
    capabilityOid: v.capabilityOid ?? '',
    ...(v.notificationUrl ? { notificationUrl: v.notificationUrl } : {}),
    ...(v.smsAddress ? { smsAddress: v.smsAddress } : {}),
    ...(v.clientUsername ? { clientUsername: v.clientUsername } : {}),
    ...(v.clientPassword ? { clientPassword: v.clientPassword } : {}),
    ...(v.serverPassword ? { serverPassword: v.serverPassword } : {}),
    ...(v.authType ? { authType: v.authType as DeviceAuthType } : {}),
  };
}

function checkHeader(header: string[]): void {
  for (const c of REQUIRED_COLUMNS) {
    if (!header.includes(c)) throw invalidArgument('csv', `header row lacks the column ${c}`);
  }
  for (const c of header) {
    if (!KNOWN_COLUMNS.has(c)) throw invalidArgument('csv', `unknown column "${c.slice(0, 64)}" in the header row`);
  }
  if (new Set(header).size !== header.length) throw invalidArgument('csv', 'a column repeats in the header row');
}

function* chunks(text: string): Generator<string> {
  for (let i = 0; i < text.length; i += CSV_CHUNK) yield text.slice(i, i + CSV_CHUNK);
}

export class DeviceImporter {
  constructor(private readonly deps: ImporterDeps) {}

  async run(source: ImportSource, now: number): Promise<ImportResult> {
    const run = new ImportRun(this.deps, await this.deps.tx.stores.capabilities.allOids(), now);
    const csv = source.csv ? this.csvRows(source.csv, run) : undefined;
    // Read the header before writing anything, so a bad header rejects the whole call.
    const header = csv ? await csv.next() : undefined;
    const columns = header && !header.done ? header.value.fields : undefined;
    if (csv && !columns) throw invalidArgument('csv', 'has no header row');
    if (columns) checkHeader(columns);

    const records = source.records ?? [];
    for (let i = 0; i < records.length; i++) await run.add(i + 1, `record ${i + 1}`, records[i]!);
    if (csv && columns) {
      for (let r = await csv.next(); !r.done; r = await csv.next()) {
        const { line, fields } = r.value;
        if (fields.length !== columns.length) {
          run.reject(line, `csv line ${line}`, `has ${fields.length} fields, the header has ${columns.length}`);
          continue;
        }
        await run.add(line, `csv line ${line}`, csvRecord(columns, fields));
      }
    }
    await run.flush();
    await run.written();
    run.rejected.sort((a, b) => a.row - b.row);
    return { imported: run.imported, rejected: run.rejected };
  }

  private async *csvRows(text: string, run: ImportRun): AsyncGenerator<{ line: number; fields: string[] }> {
    const parser = Readable.from(chunks(text)).pipe(
      parse({
        bom: true,
        trim: true,
        skip_empty_lines: true,
        relax_column_count: true,
        skip_records_with_error: true,
        info: true,
        on_skip: (err: CsvError | undefined) => {
          const line = (err as { lines?: number } | undefined)?.lines ?? 0;
          run.reject(line, `csv line ${line}`, err?.message ?? 'malformed CSV');
          return undefined;
        },
      }),
    );
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      yield { line: rec.info.lines, fields: rec.record };
    }
  }
}
