/**
 * Structured JSON logs (pino). Secrets never reach a log line: the code does
 * not log them, and every finished line passes log-redaction.ts on its way
 * out, which removes secret fields at any depth (pino's own `redact` paths
 * reach only as deep as they are written) and secrets embedded in strings.
 * Every line written inside a correlated piece of work carries its
 * `correlationId` (correlation.ts); a line that names one itself keeps its own.
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import { correlationId } from './correlation.js';
import { redactLogLine } from './log-redaction.js';

/** A fresh object per line: pino merges the line's own fields into what the mixin returns. */
function correlationMixin(): Record<string, unknown> {
  const id = correlationId();
  return id === undefined ? {} : { correlationId: id };
}

/** `destination`: where the lines go (default standard output). */
export function createLogger(level: string, name = 'dmwsi', destination?: DestinationStream): Logger {
  const options = { name, level, mixin: correlationMixin, hooks: { streamWrite: redactLogLine } };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
