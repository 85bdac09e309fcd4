/**
 * The last-resort handlers `dmwsi serve` installs, called as Node calls them
 * (the handlers registered on `process`), with a real pino logger over a
 * destination that writes only when flushed, some time later, as a pino
 * transport does: "exits once the log is written" is checked on what had
 * been written when exit was asked for.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { installProcessGuards } from '../../../src/main/process-guards.js';

type Handler = (...args: unknown[]) => void;
interface Line {
  level: number;
  msg: string;
  err?: { message: string };
}

/** Buffers lines; a flush writes them 50 ms later (a transport's worker, a slow pipe). */
class SlowDestination {
  private buffered: string[] = [];
  readonly written: Line[] = [];

  write(line: string): void {
    this.buffered.push(line);
  }

  flush(done: (err?: Error) => void): void {
    setTimeout(() => {
      for (const l of this.buffered.splice(0)) this.written.push(JSON.parse(l) as Line);
      done();
    }, 50);
  }

  /** Everything logged, written or not. */
  all(): Line[] {
    return [...this.written, ...this.buffered.map((l) => JSON.parse(l) as Line)];
  }
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Installs the guards; returns the handlers they put on `process`. */
function install(exit: (code: number) => void) {
  const dest = new SlowDestination();
  const logger = pino({ level: 'info' }, dest);
  const before = {
    rejection: new Set(process.listeners('unhandledRejection')),
    exception: new Set(process.listeners('uncaughtException')),
  };
  const uninstall = installProcessGuards(logger, { exit });
  cleanups.push(uninstall);
  const added = (listeners: Handler[], known: Set<unknown>) => {
    const mine = listeners.filter((l) => !known.has(l));
    expect(mine).toHaveLength(1);
    return mine[0]!;
  };
  return {
    dest,
    logger,
    uninstall,
    onRejection: added(process.listeners('unhandledRejection') as Handler[], before.rejection),
    onException: added(process.listeners('uncaughtException') as Handler[], before.exception),
  };
}

describe('dmwsi serve process guards', () => {
  it('logs an unhandled rejection at error level and keeps the process running', async () => {
    const exits: number[] = [];
    const g = install((code) => exits.push(code));
    g.onRejection(new Error('a job path forgot to await'), Promise.resolve());
    await new Promise((r) => setTimeout(r, 150));
    expect(exits).toEqual([]);
    expect(g.dest.all()).toEqual([
      expect.objectContaining({ level: 50, err: expect.objectContaining({ message: 'a job path forgot to await' }) }),
    ]);
  });

  it('logs an uncaught exception at fatal level and exits 1 only once the log is written', async () => {
    let exited: { code: number; written: Line[] } | undefined;
    const g = install((code) => {
      exited = { code, written: [...g.dest.written] };
    });
    g.logger.info('a line logged before the crash');
    g.onException(new Error('state is broken'), 'uncaughtException');
    expect(exited).toBeUndefined();
    await expect.poll(() => exited, { timeout: 5_000 }).toBeDefined();
    expect(exited!.code).toBe(1);
    expect(exited!.written).toEqual([
      expect.objectContaining({ level: 30, msg: 'a line logged before the crash' }),
      expect.objectContaining({ level: 60, msg: 'uncaught exception; exiting', err: expect.objectContaining({ message: 'state is broken' }) }),
    ]);
  });

  it('exits once, even when a second exception comes while the log flushes', async () => {
    const exits: number[] = [];
    const g = install((code) => exits.push(code));
    g.onException(new Error('first'), 'uncaughtException');
    g.onException(new Error('second'), 'uncaughtException');
    await expect.poll(() => exits.length, { timeout: 5_000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 150));
    expect(exits).toEqual([1]);
    expect(g.dest.all().map((l) => l.err?.message)).toEqual(['first', 'second']);
  });

  it('removes its handlers when asked', () => {
    const g = install(() => undefined);
    g.uninstall();
    expect(process.listeners('uncaughtException')).not.toContain(g.onException);
    expect(process.listeners('unhandledRejection')).not.toContain(g.onRejection);
  });
});
