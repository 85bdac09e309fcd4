import { describe, expect, it } from 'vitest';
import { formatCodecBench, runCodecBench } from '../../../../bench/codec.js';

describe('codec benchmark', () => {
  it('runs and reports positive µs figures and ~3 KB XML messages', async () => {
    const r = await runCodecBench({ iterations: 50, warmup: 5 });
    expect(r.iterations).toBe(50);
    expect(r.cases).toHaveLength(3);
    for (const c of r.cases) {
      for (const v of [c.decodeXmlUs, c.encodeXmlUs, c.decodeWbxmlUs, c.encodeWbxmlUs]) {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThan(0);
      }
      expect(c.xmlBytes).toBeGreaterThan(2000);
      expect(c.xmlBytes).toBeLessThan(4000);
      expect(c.wbxmlBytes).toBeLessThan(c.xmlBytes);
    }
    expect(formatCodecBench(r)).toContain('µs/message');
  });
});
