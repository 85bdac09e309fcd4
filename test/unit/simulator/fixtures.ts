/** Builders shared by the simulator unit tests. */
import type {
  AlertCommand,
  Command,
  ContainerCommand,
  ExecCommand,
  Item,
  ItemCommand,
  Meta,
} from '../../../src/dm/codec/types.js';
import { createStandardTree, type StandardTreeOptions } from '../../../src/simulator/tree/standard-tree.js';

export const DEVICE: StandardTreeOptions = {
  devId: 'IMEI:493005100592800',
  man: 'Acme',
  mod: 'Sim-1',
  dmV: '1.2',
  lang: 'en-US',
  fwV: '1.0.0',
  swV: '2.0.0',
  hwV: 'rev-a',
  devTyp: 'phone',
  oem: 'Acme OEM',
  lrgObj: true,
  sseRoot: './SSE',
};

export function standardTree(overrides: Partial<StandardTreeOptions> = {}) {
  return createStandardTree({ ...DEVICE, ...overrides });
}

export function counter(start = 1): () => number {
  let next = start;
  return () => next++;
}

type ItemKind = ItemCommand['kind'];

export function itemCmd(kind: ItemKind, cmdId: number, items: Item[], meta?: Meta): ItemCommand {
  return { kind, cmdId, items, ...(meta && { meta }) };
}

export function target(uri: string, data?: string, meta?: Meta): Item {
  return { target: { locUri: uri }, ...(data !== undefined && { data }), ...(meta && { meta }) };
}

export const add = (cmdId: number, uri: string, data = '', meta?: Meta) =>
  itemCmd('Add', cmdId, [target(uri, data)], meta);
export const addNode = (cmdId: number, uri: string) => itemCmd('Add', cmdId, [target(uri)], { format: 'node' });
export const replace = (cmdId: number, uri: string, data: string, meta?: Meta) =>
  itemCmd('Replace', cmdId, [target(uri, data)], meta);
export const del = (cmdId: number, uri: string) => itemCmd('Delete', cmdId, [target(uri)]);
export const get = (cmdId: number, ...uris: string[]) =>
  itemCmd(
    'Get',
    cmdId,
    uris.map((u) => target(u)),
  );

export function exec(cmdId: number, uri: string, correlator?: string): ExecCommand {
  return { kind: 'Exec', cmdId, item: target(uri), ...(correlator !== undefined && { correlator }) };
}

export function alert(cmdId: number, code: number, ...texts: string[]): AlertCommand {
  return { kind: 'Alert', cmdId, data: code, items: texts.map((data) => ({ data })) };
}

export function sequence(cmdId: number, ...commands: Command[]): ContainerCommand {
  return { kind: 'Sequence', cmdId, commands };
}

export function atomic(cmdId: number, ...commands: Command[]): ContainerCommand {
  return { kind: 'Atomic', cmdId, commands };
}
