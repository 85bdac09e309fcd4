import { describe, expect, it } from 'vitest';
import { ManagementTree } from '../../../src/simulator/tree/management-tree.js';

function tree() {
  const t = new ManagementTree({ limits: { maxDepth: 6, maxTotLen: 64, maxSegLen: 12 } });
  t.define('./Fixed', { format: 'node', access: ['Get'], permanent: true });
  t.define('./Fixed/Leaf', { data: 'v', access: ['Get'], permanent: true });
  t.define('./Open', { format: 'node', access: ['Get', 'Add', 'Delete', 'Replace'] });
  t.define('./Closed', { format: 'node', access: ['Get'] });
  t.define('./Dev', { format: 'node', access: ['Get'] });
  t.define('./Dev/Reboot', { data: '', access: ['Exec'] });
  t.define('./Dev/Secret', { data: 's3cret', access: ['Replace'] });
  return t;
}

describe('ManagementTree add', () => {
  it('adds a leaf with format chr and type text/plain by default', () => {
    const t = tree();
    expect(t.add('./Open/Name', { data: 'x' })).toBe(200);
    expect(t.get('./Open/Name')).toEqual({ ok: true, status: 200, format: 'chr', type: 'text/plain', data: 'x' });
  });

  it('answers 418 when the node already exists', () => {
    const t = tree();
    t.add('./Open/Name', { data: 'x' });
    expect(t.add('./Open/Name', { data: 'y' })).toBe(418);
    expect(t.add('.', { format: 'node' })).toBe(418);
  });

  it('creates missing interior parents implicitly', () => {
    const t = tree();
    expect(t.add('./Open/A/B/C', { format: 'int', data: '7' })).toBe(200);
    expect(t.read('./Open/A/B')?.kind).toBe('interior');
    expect(t.get('./Open/A/B/C')).toMatchObject({ ok: true, format: 'int', data: '7' });
  });

  it('answers 405 when the parent does not allow Add', () => {
    const t = tree();
    expect(t.add('./Closed/X', { data: 'x' })).toBe(405);
    expect(t.add('./Closed/X/Y', { data: 'x' })).toBe(405);
    expect(t.exists('./Closed/X')).toBe(false);
  });

  it('answers 405 when adding below a leaf', () => {
    const t = tree();
    t.add('./Open/Leaf', { data: 'x' });
    expect(t.add('./Open/Leaf/Child', { data: 'y' })).toBe(405);
  });

  it('creates an interior node for format node, keeping its type', () => {
    const t = tree();
    expect(t.add('./Open/MO', { format: 'node', type: 'urn:oma:mo:test:1.0' })).toBe(200);
    expect(t.get('./Open/MO')).toEqual({ ok: true, status: 200, format: 'node', type: 'urn:oma:mo:test:1.0', data: '' });
  });

  it('answers 415 for an unknown format', () => {
    expect(tree().add('./Open/X', { format: 'jpeg', data: 'x' })).toBe(415);
  });

  it('answers 400 for a malformed URI and 414 for a too long one', () => {
    const t = tree();
    expect(t.add('./Open/../X', { data: 'x' })).toBe(400);
    expect(t.add('./Open/ThisSegmentIsTooLong', { data: 'x' })).toBe(414);
  });

  it('accepts a URI without ./ and stores it normalised', () => {
    const t = tree();
    expect(t.add('Open/Rel', { data: 'r' })).toBe(200);
    expect(t.read('./Open/Rel')?.uri).toBe('./Open/Rel');
  });

  it('stores binary data as a Buffer copy', () => {
    const t = tree();
    const bytes = Buffer.from([1, 2, 3]);
    t.add('./Open/Bin', { format: 'bin', type: 'application/octet-stream', data: bytes });
    bytes[0] = 9;
    expect(t.get('./Open/Bin')).toMatchObject({ format: 'bin', data: Buffer.from([1, 2, 3]) });
  });

  it('gives server-created nodes the template rights of a matching pattern', () => {
    const t = tree();
    t.defineTemplate('./Open/*', { access: ['Get'], autoLeaves: { Run: { access: ['Exec'] } } });
    t.add('./Open/Job', { format: 'node' });
    expect(t.read('./Open/Job')?.access).toEqual(['Get']);
    expect(t.read('./Open/Job/Run')?.access).toEqual(['Exec']);
  });
});

describe('ManagementTree replace', () => {
  it('replaces a leaf value and keeps its format when none is given', () => {
    const t = tree();
    t.add('./Open/N', { format: 'int', data: '1' });
    expect(t.replace('./Open/N', { data: '2' })).toBe(200);
    expect(t.get('./Open/N')).toMatchObject({ format: 'int', data: '2' });
  });

  it('answers 404 and never creates a missing node', () => {
    const t = tree();
    expect(t.replace('./Open/Missing', { data: 'x' })).toBe(404);
    expect(t.exists('./Open/Missing')).toBe(false);
  });

  it('answers 405 when Replace is not allowed', () => {
    expect(tree().replace('./Fixed/Leaf', { data: 'x' })).toBe(405);
  });

  it('answers 405 for an interior node', () => {
    expect(tree().replace('./Open', { data: 'x' })).toBe(405);
  });

  it('answers 415 for an unknown format and 405 for turning a leaf into a node', () => {
    const t = tree();
    t.add('./Open/N', { data: '1' });
    expect(t.replace('./Open/N', { format: 'jpeg', data: 'x' })).toBe(415);
    expect(t.replace('./Open/N', { format: 'node' })).toBe(405);
    expect(t.read('./Open/N')?.data).toBe('1');
  });

  it('replaces a write-only secret', () => {
    const t = tree();
    expect(t.replace('./Dev/Secret', { data: 'new' })).toBe(200);
    expect(t.read('./Dev/Secret')?.data).toBe('new');
  });
});

describe('ManagementTree delete', () => {
  it('removes the whole subtree', () => {
    const t = tree();
    t.add('./Open/A/B/C', { data: 'x' });
    expect(t.delete('./Open/A')).toBe(200);
    expect(t.exists('./Open/A/B/C')).toBe(false);
    expect(t.exists('./Open/A')).toBe(false);
  });

  it('answers 405 for a permanent node and for the root', () => {
    const t = tree();
    t.setAccess('./Fixed', ['Get', 'Delete']);
    expect(t.delete('./Fixed')).toBe(405);
    expect(t.delete('.')).toBe(405);
    expect(t.exists('./Fixed/Leaf')).toBe(true);
  });

  it('answers 405 when the subtree holds a permanent node', () => {
    const t = tree();
    t.add('./Open/P/Keep', { data: 'x' });
    t.setPermanent('./Open/P/Keep', true);
    expect(t.delete('./Open/P')).toBe(405);
    expect(t.exists('./Open/P/Keep')).toBe(true);
  });

  it('answers 404 for a missing node', () => {
    expect(tree().delete('./Open/Nope')).toBe(404);
  });

  it('answers 405 when Delete is not allowed', () => {
    expect(tree().delete('./Closed')).toBe(405);
  });
});

describe('ManagementTree get', () => {
  it('lists an interior node as child names joined by / with format node', () => {
    const t = tree();
    t.add('./Open/A', { data: '1' });
    t.add('./Open/B', { format: 'node' });
    expect(t.get('./Open')).toEqual({ ok: true, status: 200, format: 'node', type: undefined, data: 'A/B' });
  });

  it('lists the root', () => {
    expect(tree().get('.')).toMatchObject({ ok: true, data: 'Fixed/Open/Closed/Dev' });
  });

  it('answers 404 for a missing node and 405 when Get is not allowed', () => {
    const t = tree();
    expect(t.get('./Open/Nope')).toEqual({ ok: false, status: 404 });
    expect(t.get('./Dev/Secret')).toEqual({ ok: false, status: 405 });
  });

  it('answers 404 for a path running through a leaf', () => {
    expect(tree().get('./Fixed/Leaf/Deeper')).toEqual({ ok: false, status: 404 });
  });
});

describe('ManagementTree copy', () => {
  it('copies a leaf into a new leaf with format and type', () => {
    const t = tree();
    t.add('./Open/Src', { format: 'xml', type: 'text/xml', data: '<a/>' });
    expect(t.copy('./Open/Src', './Open/Dst')).toBe(200);
    expect(t.get('./Open/Dst')).toMatchObject({ format: 'xml', type: 'text/xml', data: '<a/>' });
  });

  it('overwrites an existing target leaf', () => {
    const t = tree();
    t.add('./Open/Src', { data: 'new' });
    t.add('./Open/Dst', { data: 'old' });
    expect(t.copy('./Open/Src', './Open/Dst')).toBe(200);
    expect(t.read('./Open/Dst')?.data).toBe('new');
  });

  it('answers 404 when the source is missing', () => {
    expect(tree().copy('./Open/Nope', './Open/Dst')).toBe(404);
  });

  it('answers 405 for an interior source or target', () => {
    const t = tree();
    t.add('./Open/Src', { data: 'x' });
    t.add('./Open/Dir', { format: 'node' });
    expect(t.copy('./Open/Dir', './Open/Dst')).toBe(405);
    expect(t.copy('./Open/Src', './Open/Dir')).toBe(405);
  });

  it('answers 405 when the source does not allow Copy', () => {
    expect(tree().copy('./Fixed/Leaf', './Open/Dst')).toBe(405);
  });
});

describe('ManagementTree exec', () => {
  it('answers 200 and records the exec for a node without a handler', () => {
    const t = tree();
    expect(t.exec('./Dev/Reboot', 'now', 'c-1')).toBe(200);
    expect(t.executions).toEqual([{ uri: './Dev/Reboot', data: 'now', correlator: 'c-1', status: 200 }]);
    expect(t.execCount('Dev/Reboot')).toBe(1);
  });

  it('answers 405 when Exec is not allowed and 404 for a missing node', () => {
    const t = tree();
    expect(t.exec('./Fixed/Leaf')).toBe(405);
    expect(t.exec('./Dev/Nope')).toBe(404);
    expect(t.executions).toHaveLength(0);
  });

  it('delegates to a handler registered for a pattern', () => {
    const t = tree();
    const seen: string[] = [];
    t.onExec('./Dev/*', ({ uri }) => {
      seen.push(uri);
      return 202;
    });
    expect(t.exec('./Dev/Reboot')).toBe(202);
    expect(seen).toEqual(['./Dev/Reboot']);
  });

  it('lets a test make a target fail with a given status, and undo it', () => {
    const t = tree();
    const undo = t.failExec('./Dev/Reboot', 500);
    expect(t.exec('./Dev/Reboot')).toBe(500);
    undo();
    expect(t.exec('./Dev/Reboot')).toBe(200);
    expect(t.executions.map((e) => e.status)).toEqual([500, 200]);
  });

  it('prefers the newest matching handler', () => {
    const t = tree();
    t.onExec('./Dev/*', () => 202);
    t.failExec('./Dev/Reboot', 503);
    expect(t.exec('./Dev/Reboot')).toBe(503);
  });
});

describe('ManagementTree snapshot and restore', () => {
  it('restores the tree as it was, any number of times', () => {
    const t = tree();
    t.add('./Open/Keep', { data: 'k' });
    const snap = t.snapshot();
    t.add('./Open/New', { data: 'n' });
    t.replace('./Open/Keep', { data: 'changed' });
    t.delete('./Open/Keep');
    t.restore(snap);
    expect(t.read('./Open/Keep')?.data).toBe('k');
    expect(t.exists('./Open/New')).toBe(false);
    t.delete('./Open/Keep');
    t.restore(snap);
    expect(t.exists('./Open/Keep')).toBe(true);
  });

  it('is not changed by any kind of change made after it, at any depth', () => {
    const t = tree();
    t.define('./Open/A', { format: 'node', access: ['Get', 'Add', 'Delete', 'Replace'] });
    t.define('./Open/A/B', { data: 'b', access: ['Get', 'Replace', 'Delete'] });
    t.annotate('./Open/A/B', 'k', 1);
    const snap = t.snapshot();
    t.replace('./Open/A/B', { data: 'changed' });
    t.setAccess('./Open/A/B', ['Get']);
    t.setPermanent('./Open/A/B', true);
    t.annotate('./Open/A/B', 'k', 2);
    t.setValue('./Fixed/Leaf', 'changed');
    t.define('./Open/A/C', { data: 'c', access: ['Get'] });
    t.restore(snap);
    expect(t.read('./Open/A/B')).toMatchObject({ data: 'b', access: ['Get', 'Replace', 'Delete'], permanent: false });
    expect(t.annotation('./Open/A/B', 'k')).toBe(1);
    expect(t.read('./Fixed/Leaf')?.data).toBe('v');
    expect(t.exists('./Open/A/C')).toBe(false);
    // A change after the restore does not reach the snapshot either.
    t.delete('./Open/A/B');
    t.annotate('./Open/A', 'k', 3);
    t.restore(snap);
    expect(t.read('./Open/A/B')?.data).toBe('b');
    expect(t.annotation('./Open/A', 'k')).toBeUndefined();
  });

  it('takes annotations along with their nodes', () => {
    const t = tree();
    t.annotate('./Open', 'k', 1);
    const snap = t.snapshot();
    t.annotate('./Open', 'k', 2);
    t.restore(snap);
    expect(t.annotation('./Open', 'k')).toBe(1);
  });
});

describe('ManagementTree clone', () => {
  it('copies nodes, limits and templates but not Exec handlers; the copies change apart', () => {
    const t = tree();
    t.defineTemplate('./Open/*', { access: ['Get'], autoLeaves: { Auto: { data: 'a', access: ['Get'] } } });
    let ran = 0;
    t.onExec('./Dev/Reboot', () => {
      ran++;
      return 202;
    });
    const c = t.clone();
    expect(c.limits).toEqual(t.limits);
    expect(c.add('./Open/X', { format: 'node' })).toBe(200);
    expect(c.read('./Open/X/Auto')?.data).toBe('a');
    expect(t.exists('./Open/X')).toBe(false);
    expect(c.exec('./Dev/Reboot')).toBe(200);
    expect(ran).toBe(0);
    c.setValue('./Fixed/Leaf', 'mine');
    expect(c.read('./Fixed/Leaf')).toMatchObject({ data: 'mine', access: ['Get'], permanent: true });
    expect(t.read('./Fixed/Leaf')?.data).toBe('v');
    expect(() => c.setValue('./Open', 'x')).toThrow(/interior/);
    expect(c.add('./Open/A/B/C/D/E/F', {})).toBe(414);
  });

  it('keeps a clone and its source apart at any depth, whichever of them changes', () => {
    const t = tree();
    t.define('./Open/A', { format: 'node', access: ['Get', 'Add', 'Delete', 'Replace'] });
    t.define('./Open/A/B', { data: 'b', access: ['Get', 'Replace', 'Delete'] });
    t.annotate('./Open/A/B', 'k', 1);
    const c = t.clone();
    // The clone changes: the source stays.
    expect(c.replace('./Open/A/B', { data: 'c1' })).toBe(200);
    c.annotate('./Open/A/B', 'k', 2);
    c.setAccess('./Open/A', ['Get']);
    c.define('./Open/A/New', { data: 'n', access: ['Get'] });
    expect(t.read('./Open/A/B')?.data).toBe('b');
    expect(t.annotation('./Open/A/B', 'k')).toBe(1);
    expect(t.read('./Open/A')?.access).toEqual(['Get', 'Add', 'Delete', 'Replace']);
    expect(t.exists('./Open/A/New')).toBe(false);
    // The source changes: the clone stays.
    expect(t.replace('./Open/A/B', { data: 't1' })).toBe(200);
    t.setPermanent('./Open/A/B', true);
    t.setValue('./Fixed/Leaf', 'source');
    expect(t.add('./Open/A/Other', { data: 'o' })).toBe(200);
    expect(c.read('./Open/A/B')).toMatchObject({ data: 'c1', permanent: false });
    expect(c.read('./Fixed/Leaf')?.data).toBe('v');
    expect(c.exists('./Open/A/Other')).toBe(false);
    // Deleting in one leaves the other's node.
    expect(c.delete('./Open/A/B')).toBe(200);
    expect(t.read('./Open/A/B')?.data).toBe('t1');
    expect(t.delete('./Open/A/Other')).toBe(200);
    expect(c.read('./Open/A')?.children).toEqual(['New']);
    // A second clone of the source starts from the source as it is now.
    const d = t.clone();
    expect(d.read('./Open/A/B')?.data).toBe('t1');
    expect(d.read('./Open/A')?.children).toEqual(['B']);
  });

  it('reads every change back through the same URI: Add, Replace, Delete, Add again', () => {
    const c = tree().clone();
    for (let round = 0; round < 2; round++) {
      expect(c.get('./Open/Again')).toEqual({ ok: false, status: 404 });
      expect(c.add('./Open/Again', { data: 'first' })).toBe(200);
      expect(c.get('./Open/Again')).toMatchObject({ ok: true, data: 'first' });
      expect(c.replace('./Open/Again', { data: 'second' })).toBe(200);
      expect(c.get('./Open/Again')).toMatchObject({ ok: true, data: 'second' });
      expect(c.read('./Open')?.children).toEqual(['Again']);
      expect(c.delete('./Open/Again')).toBe(200);
      expect(c.exists('./Open/Again')).toBe(false);
    }
  });
});
