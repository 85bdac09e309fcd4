/** Structured JSON logs (pino). Secrets never reach a log line: redact the fields that could carry them. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string, name = 'dmwsi'): Logger {
  return pino({
    name,
    level,
    redact: ['*.password', '*.clientPassword', '*.serverPassword', 'password', 'req.headers.authorization'],
  });
}

export type { Logger };
