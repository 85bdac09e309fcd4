import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { acceptedCorrelationId, correlationId, withCorrelation } from '../../../src/observability/correlation.js';
import { createLogger } from '../../../src/observability/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: createLogger('debug', 'test', sink), lines };
}

describe('correlation ids', () => {
  it('takes a well-formed X-Correlation-Id and refuses anything else', () => {
    expect(acceptedCorrelationId('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe('0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(acceptedCorrelationId('01J9ZQ7W3N8D2V5K6X1C4B7M0P')).toBe('01J9ZQ7W3N8D2V5K6X1C4B7M0P');
    expect(acceptedCorrelationId('trace:abc.def_1-2')).toBe('trace:abc.def_1-2');
    for (const bad of [undefined, '', 'short', 'x'.repeat(65), 'has space in it', 'quote"d-value', 'line\nbreak-value', ['a-b-c-d-e-f', 'g-h-i-j-k-l']]) {
      expect(acceptedCorrelationId(bad as string | string[] | undefined)).toBeUndefined();
    }
  });

  it('follows the async work it was set for, and never the work of another id or of none', async () => {
    expect(correlationId()).toBeUndefined();
    const seen = await withCorrelation('outer-0001', async () => {
      await new Promise((r) => setTimeout(r, 1));
      const inner = await withCorrelation('inner-0002', async () => correlationId());
      const none = await withCorrelation(undefined, async () => correlationId());
      return { here: correlationId(), inner, none };
    });
    expect(seen).toEqual({ here: 'outer-0001', inner: 'inner-0002', none: undefined });
    expect(correlationId()).toBeUndefined();
  });

  it('puts the id on every log line written inside the work; a line naming its own keeps it, once', () => {
    const { logger, lines } = capture();
    logger.info('outside');
    withCorrelation('work-00000001', () => {
      logger.info({ taskId: 't1' }, 'inside');
      logger.child({ component: 'x' }).debug('child inside');
      logger.info({ correlationId: 'other-0000002' }, 'names its own');
    });
    expect(lines.map((l) => [l.msg, l.correlationId])).toEqual([
      ['outside', undefined],
      ['inside', 'work-00000001'],
      ['child inside', 'work-00000001'],
      ['names its own', 'other-0000002'],
    ]);
    // Written once, not twice: the line's own field replaced the mixin's.
    expect(lines.every((l) => Object.keys(l).filter((k) => k === 'correlationId').length <= 1)).toBe(true);
  });
});
