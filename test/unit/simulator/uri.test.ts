import { describe, expect, it } from 'vitest';
import { compilePattern, matchesPattern, parseUri } from '../../../src/simulator/tree/uri.js';

const limits = { maxDepth: 3, maxTotLen: 20, maxSegLen: 5 };

describe('device URI parsing', () => {
  it('keeps full device URIs and adds ./ to relative ones', () => {
    expect(parseUri('./A/B')).toEqual({ ok: true, uri: './A/B', segments: ['A', 'B'] });
    expect(parseUri('A/B')).toEqual({ ok: true, uri: './A/B', segments: ['A', 'B'] });
  });

  it('reads . and ./ as the root', () => {
    expect(parseUri('.')).toEqual({ ok: true, uri: '.', segments: [] });
    expect(parseUri('./')).toEqual({ ok: true, uri: '.', segments: [] });
  });

  it.each(['', './A/../B', '..', './A//B', './A/', '/A', './A/./B'])('answers 400 for the malformed URI %j', (uri) => {
    expect(parseUri(uri)).toEqual({ ok: false, status: 400 });
  });

  it('answers 406 for ?list= and ?prop= addressing', () => {
    expect(parseUri('./A?list=Struct')).toEqual({ ok: false, status: 406 });
    expect(parseUri('./A?prop=ACL')).toEqual({ ok: false, status: 406 });
  });

  it('answers 414 when a segment is longer than MaxSegLen', () => {
    expect(parseUri('./ABCDEF', limits)).toEqual({ ok: false, status: 414 });
    expect(parseUri('./ABCDE', limits).ok).toBe(true);
  });

  it('answers 414 when the URI is longer than MaxTotLen', () => {
    const totLen = { maxDepth: 0, maxTotLen: 10, maxSegLen: 0 };
    expect(parseUri('./ABCD/EFG', totLen).ok).toBe(true);
    expect(parseUri('./ABCD/EFGH', totLen)).toEqual({ ok: false, status: 414 });
  });

  it('answers 414 when the URI is deeper than MaxDepth', () => {
    expect(parseUri('./A/B/C', limits).ok).toBe(true);
    expect(parseUri('./A/B/C/D', limits)).toEqual({ ok: false, status: 414 });
  });

  it('treats 0 limits as unlimited', () => {
    expect(parseUri(`./${'x'.repeat(500)}`, { maxDepth: 0, maxTotLen: 0, maxSegLen: 0 }).ok).toBe(true);
  });

  it('matches a * pattern segment against exactly one segment', () => {
    const pattern = compilePattern('./SSE/*/Go');
    expect(matchesPattern(pattern, ['SSE', 'job1', 'Go'])).toBe(true);
    expect(matchesPattern(pattern, ['SSE', 'a', 'b', 'Go'])).toBe(false);
    expect(matchesPattern(pattern, ['SSE', 'job1', 'AtTime'])).toBe(false);
  });

  it('throws on a malformed pattern, which is a programming error', () => {
    expect(() => compilePattern('./A//B')).toThrow();
  });
});

// Parsed URIs are cached by their text (the syntax only): these pin what a cache must not change.
describe('device URI parsing, URIs seen before', () => {
  it("applies each call's limits to a URI parsed before under others", () => {
    const tight = { maxDepth: 2, maxTotLen: 0, maxSegLen: 4 };
    const totLen = { maxDepth: 0, maxTotLen: 12, maxSegLen: 0 };
    expect(parseUri('./Cache/Limits/ABCDEF')).toEqual({
      ok: true,
      uri: './Cache/Limits/ABCDEF',
      segments: ['Cache', 'Limits', 'ABCDEF'],
    });
    expect(parseUri('./Cache/Limits/ABCDEF', tight)).toEqual({ ok: false, status: 414 });
    expect(parseUri('./Cache/Limits/ABCDEF', totLen)).toEqual({ ok: false, status: 414 });
    expect(parseUri('./Cache/Limits/ABCDEF', { maxDepth: 3, maxTotLen: 21, maxSegLen: 6 }).ok).toBe(true);
    expect(parseUri('./Cache/Limits/ABCDEF').ok).toBe(true);
  });

  it('gives the same answer for the relative and the full form, each time', () => {
    for (let i = 0; i < 3; i++) {
      expect(parseUri('Cache/Rel')).toEqual({ ok: true, uri: './Cache/Rel', segments: ['Cache', 'Rel'] });
      expect(parseUri('./Cache/Rel')).toEqual({ ok: true, uri: './Cache/Rel', segments: ['Cache', 'Rel'] });
      expect(parseUri('./Cache//Rel')).toEqual({ ok: false, status: 400 });
    }
  });

  it('keeps the URIs in use while a stream of one-off URIs (a fleet’s SSE node names) passes through', () => {
    const hot = parseUri('./Cache/Hot');
    for (let i = 0; i < 50_000; i++) {
      expect(parseUri(`./SSE/once-${i}/Go`).ok).toBe(true);
      if (i % 1000 === 0) expect(parseUri('./Cache/Hot')).toBe(hot);
    }
    expect(parseUri('./Cache/Hot')).toBe(hot);
  });

  it('hands out results no caller can change for the next one', () => {
    const first = parseUri('./Cache/Frozen');
    if (!first.ok) throw new Error('expected a valid URI');
    expect(() => (first.segments as string[]).push('More')).toThrow(TypeError);
    expect(() => {
      (first as { uri: string }).uri = './Other';
    }).toThrow(TypeError);
    expect(parseUri('./Cache/Frozen')).toEqual({ ok: true, uri: './Cache/Frozen', segments: ['Cache', 'Frozen'] });
  });

  it('still parses correctly once many distinct URIs went by', () => {
    for (let i = 0; i < 10_000; i++) expect(parseUri(`./Cache/Many/N${i}`).ok).toBe(true);
    expect(parseUri('./Cache/Many/N7')).toEqual({ ok: true, uri: './Cache/Many/N7', segments: ['Cache', 'Many', 'N7'] });
    const shallow = { maxDepth: 2, maxTotLen: 0, maxSegLen: 0 };
    expect(parseUri('./Cache/Many/N9999', shallow)).toEqual({ ok: false, status: 414 });
  });
});
