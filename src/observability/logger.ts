/**
 * Structured JSON logs (pino). Secrets never reach a log line: the code does
 * not log them, and every finished line passes log-redaction.ts on its way
 * out, which removes secret fields at any depth (pino's own `redact` paths
 * reach only as deep as they are written) and secrets embedded in strings.
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import { redactLogLine } from './log-redaction.js';

/** `destination`: where the lines go (default standard output). */
export function createLogger(level: string, name = 'dmwsi', destination?: DestinationStream): Logger {
  const options = { name, level, hooks: { streamWrite: redactLogLine } };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
