import { describe, expect, it } from 'vitest';
import type { Command, Item, ItemCommand, Meta } from '../../../src/dm/codec/types.js';
import {
  createLargeObjectAssembly,
  type LargeObjectAssembly,
  processCommands,
} from '../../../src/simulator/command-processor.js';
import type { ManagementTree } from '../../../src/simulator/tree/management-tree.js';
import { add, counter, get, standardTree } from './fixtures.js';

function chunk(
  kind: 'Add' | 'Replace',
  cmdId: number,
  uri: string,
  data: string | Buffer,
  moreData: boolean,
  meta?: Meta,
): ItemCommand {
  const item: Item = { target: { locUri: uri }, source: { locUri: 'srv://obj' }, data };
  if (moreData) item.moreData = true;
  if (meta) item.meta = meta;
  return { kind, cmdId, items: [item] };
}

function message(tree: ManagementTree, assembly: LargeObjectAssembly | undefined, msgId: number, commands: Command[]) {
  return processCommands(tree, commands, {
    msgId,
    nextCmdId: counter(),
    ...(assembly && { largeObject: assembly }),
  });
}

function setup() {
  const tree = standardTree();
  tree.define('./Vendor', { format: 'node', access: ['Get', 'Add', 'Replace', 'Delete'] });
  return { tree, assembly: createLargeObjectAssembly() };
}

describe('Large Object assembly', () => {
  it('buffers chunks with 213 across messages and commits on the last with 200', () => {
    const { tree, assembly } = setup();
    const meta = { format: 'xml', type: 'application/xml', size: 13 };
    const m1 = message(tree, assembly, 1, [chunk('Add', 1, './Vendor/Doc', '<a>ab', true, meta)]);
    expect(m1.statuses.map((s) => [s.cmd, s.data, s.targetRefs])).toEqual([['Add', 213, ['./Vendor/Doc']]]);
    expect(tree.exists('./Vendor/Doc')).toBe(false);
    expect(assembly.pending?.targetUri).toBe('./Vendor/Doc');

    const m2 = message(tree, assembly, 2, [chunk('Add', 1, './Vendor/Doc', 'cd', true)]);
    expect(m2.statuses[0]?.data).toBe(213);
    const m3 = message(tree, assembly, 3, [chunk('Add', 1, './Vendor/Doc', 'ef</a>', false)]);
    expect(m3.statuses[0]?.data).toBe(200);
    expect(assembly.pending).toBeUndefined();
    expect(tree.get('./Vendor/Doc')).toMatchObject({ format: 'xml', type: 'application/xml', data: '<a>abcdef</a>' });
  });

  it('answers 424 and stores nothing when the assembled size differs from Meta Size', () => {
    const { tree, assembly } = setup();
    message(tree, assembly, 1, [chunk('Add', 1, './Vendor/Doc', 'abc', true, { size: 10 })]);
    const last = message(tree, assembly, 2, [chunk('Add', 1, './Vendor/Doc', 'def', false)]);
    expect(last.statuses[0]?.data).toBe(424);
    expect(tree.exists('./Vendor/Doc')).toBe(false);
    expect(assembly.pending).toBeUndefined();
  });

  it('counts Size in UTF-8 bytes', () => {
    const { tree, assembly } = setup();
    message(tree, assembly, 1, [chunk('Add', 1, './Vendor/T', 'é', true, { size: 4 })]);
    expect(message(tree, assembly, 2, [chunk('Add', 1, './Vendor/T', 'é', false)]).statuses[0]?.data).toBe(200);
  });

  it('assembles opaque Buffer chunks of a Replace', () => {
    const { tree, assembly } = setup();
    tree.define('./Vendor/Bin', { format: 'bin', data: Buffer.alloc(0), access: ['Get', 'Replace'] });
    const meta = { format: 'bin', type: 'application/octet-stream', size: 5 };
    message(tree, assembly, 1, [chunk('Replace', 1, './Vendor/Bin', Buffer.from([1, 2, 3]), true, meta)]);
    const out = message(tree, assembly, 2, [chunk('Replace', 1, './Vendor/Bin', Buffer.from([4, 5]), false)]);
    expect(out.statuses[0]?.data).toBe(200);
    expect(tree.read('./Vendor/Bin')?.data).toEqual(Buffer.from([1, 2, 3, 4, 5]));
  });

  it('matches a continuation written without ./', () => {
    const { tree, assembly } = setup();
    message(tree, assembly, 1, [chunk('Add', 1, './Vendor/Doc', 'ab', true, { size: 4 })]);
    const out = message(tree, assembly, 2, [chunk('Add', 1, 'Vendor/Doc', 'cd', false)]);
    expect(out.statuses[0]?.data).toBe(200);
    expect(out.outgoingAlerts).toEqual([]);
  });

  it('alerts 1225 and drops the buffer when a new command arrives before the last chunk', () => {
    const { tree, assembly } = setup();
    message(tree, assembly, 1, [chunk('Add', 1, './Vendor/Doc', 'abc', true, { size: 6 })]);
    const out = message(tree, assembly, 2, [get(1, './DevInfo/Man')]);
    expect(out.outgoingAlerts).toEqual([
      {
        kind: 'Alert',
        cmdId: 3,
        data: 1225,
        items: [{ target: { locUri: './Vendor/Doc' }, source: { locUri: 'srv://obj' } }],
      },
    ]);
    expect(out.statuses.map((s) => [s.cmd, s.data])).toEqual([['Get', 200]]);
    expect(assembly.pending).toBeUndefined();
    expect(tree.exists('./Vendor/Doc')).toBe(false);
  });

  it('alerts 1225 when a chunk for another node interrupts, and starts the new object', () => {
    const { tree, assembly } = setup();
    message(tree, assembly, 1, [chunk('Add', 1, './Vendor/One', 'abc', true, { size: 6 })]);
    const out = message(tree, assembly, 2, [chunk('Add', 1, './Vendor/Two', 'xy', true, { size: 4 })]);
    expect(out.outgoingAlerts.map((a) => [a.data, a.items[0]?.target?.locUri])).toEqual([[1225, './Vendor/One']]);
    expect(out.statuses[0]?.data).toBe(213);
    expect(assembly.pending?.targetUri).toBe('./Vendor/Two');
  });

  it('does not let a 1222 from the server interrupt the object', () => {
    const { tree, assembly } = setup();
    message(tree, assembly, 1, [chunk('Add', 1, './Vendor/Doc', 'ab', true, { size: 4 })]);
    const out = message(tree, assembly, 2, [
      { kind: 'Alert', cmdId: 1, data: 1222, items: [] },
      chunk('Add', 2, './Vendor/Doc', 'cd', false),
    ]);
    expect(out.outgoingAlerts).toEqual([]);
    expect(out.statuses.map((s) => s.data)).toEqual([200, 200]);
  });

  it('answers an ordinary Add normally while nothing is pending', () => {
    const { tree, assembly } = setup();
    expect(message(tree, assembly, 1, [add(1, './Vendor/A', 'a')]).statuses[0]?.data).toBe(200);
  });

  it('answers 406 to a chunk when the caller keeps no assembly', () => {
    const { tree } = setup();
    const out = message(tree, undefined, 1, [chunk('Add', 1, './Vendor/Doc', 'ab', true, { size: 4 })]);
    expect(out.statuses[0]?.data).toBe(406);
  });
});
