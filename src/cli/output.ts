/** Where command results go: standard output, as text or (--json) one JSON document. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Progress and notes: standard error, so standard output holds only results. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}
