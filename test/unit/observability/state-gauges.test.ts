import client from 'prom-client';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CachedReading, registerStateGauges } from '../../../src/observability/state-gauges.js';

describe('a cached reading', () => {
  it('reads once per ttl, shares a read in progress between callers, and keeps the last value when a read fails', async () => {
    let now = 0;
    let reads = 0;
    let fail = false;
    const errors: unknown[] = [];
    const reading = new CachedReading(
      async () => {
        reads += 1;
        await new Promise((r) => setTimeout(r, 5));
        if (fail) throw new Error('database gone');
        return reads;
      },
      1000,
      (err) => errors.push(err),
      () => now,
    );
    // A storm of scrapes at once: one read.
    expect(await Promise.all([reading.get(), reading.get(), reading.get()])).toEqual([1, 1, 1]);
    now = 999;
    expect(await reading.get()).toBe(1);
    expect(reads).toBe(1);
    now = 1000;
    expect(await reading.get()).toBe(2);
    now = 3000;
    fail = true;
    expect(await reading.get()).toBe(2);
    expect(errors).toHaveLength(1);
  });
});

describe('state gauges', () => {
  it('export every known state (0 when absent) and each queue state, read at scrape time', async () => {
    const registry = new client.Registry();
    let completed = 2;
    registerStateGauges(
      registry,
      {
        openTasks: async () => new Map([['QUEUED', 4]]),
        endedTasks: async () => new Map([['COMPLETED', completed]]),
        jobs: async () => new Map([['RUNNING', 1]]),
        queues: async () => new Map([['tasks', { waiting: 3, active: 1, delayed: 7, failed: 0 }]]),
      },
      {
        openTaskStates: ['QUEUED', 'NOTIFYING'],
        endedTaskStates: ['COMPLETED', 'FAILED'],
        jobStates: ['RUNNING', 'PAUSED'],
        ttlMs: 0,
        endedTtlMs: 0,
        logger: pino({ level: 'silent' }),
      },
    );
    let text = await registry.metrics();
    expect(text).toContain('dmwsi_tasks{state="QUEUED"} 4');
    expect(text).toContain('dmwsi_tasks{state="NOTIFYING"} 0');
    expect(text).toContain('dmwsi_tasks{state="FAILED"} 0');
    expect(text).toContain('dmwsi_tasks{state="COMPLETED"} 2');
    expect(text).toContain('dmwsi_jobs{state="RUNNING"} 1');
    expect(text).toContain('dmwsi_jobs{state="PAUSED"} 0');
    expect(text).toContain('dmwsi_queue_jobs{queue="tasks",state="delayed"} 7');
    completed = 5;
    text = await registry.metrics();
    expect(text).toContain('dmwsi_tasks{state="COMPLETED"} 5');
  });
});

describe('ended tasks', () => {
  it('are read again only after their own, longer ttl; open ones at every scrape', async () => {
    const registry = new client.Registry();
    let n = 1;
    registerStateGauges(
      registry,
      {
        openTasks: async () => new Map([['QUEUED', n]]),
        endedTasks: async () => new Map([['COMPLETED', n]]),
        jobs: async () => new Map(),
        queues: async () => new Map(),
      },
      { openTaskStates: ['QUEUED'], endedTaskStates: ['COMPLETED'], jobStates: [], ttlMs: 0, endedTtlMs: 60_000, logger: pino({ level: 'silent' }) },
    );
    expect(await registry.metrics()).toContain('dmwsi_tasks{state="COMPLETED"} 1');
    n = 7;
    const text = await registry.metrics();
    expect(text).toContain('dmwsi_tasks{state="QUEUED"} 7');
    expect(text).toContain('dmwsi_tasks{state="COMPLETED"} 1');
  });
});
