/**
 * `dmwsi device import FILE.csv`: streams the file and sends it to
 * importDeviceInstances in chunks of CHUNK_ROWS rows, each with the header
 * row in front, so a file of a million rows is never read whole nor sent in
 * one SOAP call. The gateway numbers rejected rows by their line in the
 * chunk; each is mapped back to its line in the file.
 */
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { CliError, EXIT } from './exit-codes.js';
import type { GatewayApi } from './gateway-api.js';

export const CHUNK_ROWS = 5_000;

export interface ImportTotals {
  rows: number;
  imported: number;
  rejected: number;
}

export interface ImportHooks {
  /** After each chunk. */
  progress?(totals: ImportTotals): void;
  /** Each rejected row: its line in the file (the header is line 1) and why. */
  rejected?(line: number, reason: string): void;
}

interface Chunk {
  text: string;
  rows: number;
  /** Lines in text so far. */
  lineCount: number;
  /** Per row in chunk order: [its last line in the chunk, its last line in the file]. */
  lines: [number, number][];
}

/** The gateway's reason starts with its own label ("csv line 7: ..."), which names the chunk's line: dropped. */
const CHUNK_LABEL = /^csv line \d{1,9}: /;

/** The file line of a row the gateway reported by chunk line (the first row ending at or after it). */
function fileLine(chunk: Chunk, chunkLine: number): number {
  let lo = 0;
  let hi = chunk.lines.length - 1;
  if (hi < 0) return chunkLine;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (chunk.lines[mid]![0] < chunkLine) lo = mid + 1;
    else hi = mid;
  }
  return chunk.lines[lo]![1];
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

export async function importCsv(api: GatewayApi, input: Readable, hooks: ImportHooks = {}, chunkRows = CHUNK_ROWS): Promise<ImportTotals> {
  const totals: ImportTotals = { rows: 0, imported: 0, rejected: 0 };
  const reject = (line: number, reason: string) => {
    totals.rejected++;
    hooks.rejected?.(line, reason);
  };
  // The same reading as the gateway's (bom, empty lines skipped), keeping each row's raw text.
  const parser = input.pipe(
    parse({
      bom: true,
      raw: true,
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        totals.rows++;
        reject((err as { lines?: number } | undefined)?.lines ?? 0, err?.message ?? 'malformed CSV');
      },
    }),
  );
  let header: string | undefined;
  let eol = '\n';
  let chunk: Chunk | undefined;
  const send = async (c: Chunk) => {
    const result = await api.importCsv(c.text);
    totals.imported += result.imported;
    for (const r of result.rejected) reject(fileLine(c, r.row), r.reason.replace(CHUNK_LABEL, ''));
    hooks.progress?.({ ...totals });
  };
  for await (const rec of parser as AsyncIterable<{ raw: string; info: { lines: number } }>) {
    // Empty lines before a row are part of its raw text: not sent, so chunk lines stay countable.
    let raw = rec.raw.replace(/^(?:\r?\n)+/, '');
    if (header === undefined) {
      header = raw.endsWith('\n') ? raw : raw + eol;
      eol = header.endsWith('\r\n') ? '\r\n' : '\n';
      continue;
    }
    if (!raw.endsWith('\n')) raw += eol;
    chunk ??= { text: header, rows: 0, lineCount: countNewlines(header), lines: [] };
    chunk.text += raw;
    chunk.rows++;
    chunk.lineCount += countNewlines(raw);
    chunk.lines.push([chunk.lineCount, rec.info.lines]);
    totals.rows++;
    if (chunk.rows >= chunkRows) {
      await send(chunk);
      chunk = undefined;
    }
  }
  if (header === undefined) throw new CliError('the file has no header row', EXIT.invalid);
  if (chunk) await send(chunk);
  return totals;
}
