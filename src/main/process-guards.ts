/**
 * Last-resort handlers of `dmwsi serve`.
 *
 * An unhandled promise rejection is a bug in one request's or job's path,
 * not a broken process: it is logged and the gateway keeps serving (Node's
 * default would kill the process, and every request in flight with it).
 *
 * An uncaught exception leaves the process in an unknown state, so it exits
 * non-zero, once the log line saying why is written: the gateway runs under
 * a supervisor, everything it has accepted is durable (database, Redis with
 * append-only persistence), and a restarted worker re-queues what was left
 * behind. No graceful close is tried on the way out: it would run on that
 * unknown state.
 */
import type { Logger } from 'pino';

export interface ProcessGuardOptions {
  /** Ends the process; process.exit unless a test watches it. */
  exit?: (code: number) => void;
  /** Exit after this long even when the log cannot be flushed (a full pipe, a dead collector). */
  flushTimeoutMs?: number;
}

/** Installs both handlers on `process`; returns a function that removes them. */
export function installProcessGuards(logger: Logger, opts: ProcessGuardOptions = {}): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let exiting = false;
  const onRejection = (reason: unknown) => {
    logger.error({ err: reason }, 'unhandled promise rejection; still serving');
  };
  const onException = (err: unknown, origin: string) => {
    logger.fatal({ err, origin }, exiting ? 'uncaught exception while exiting' : 'uncaught exception; exiting');
    if (exiting) return;
    exiting = true;
    let exited = false;
    const once = () => {
      if (exited) return;
      exited = true;
      exit(1);
    };
    // Not unref'd: the process must end even when nothing else keeps it alive to do so.
    const timer = setTimeout(once, opts.flushTimeoutMs ?? 2_000);
    logger.flush(() => {
      clearTimeout(timer);
      once();
    });
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
