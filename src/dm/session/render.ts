/**
 * Server command specs → SyncML commands (notes §1 element shapes). CmdIDs
 * come from the caller's counter, in document order (a container before its
 * children).
 */
import type {
  AlertCommand,
  Command,
  ContainerCommand,
  ExecCommand,
  Item,
  ItemCommand,
  ItemData,
  Meta,
  SyncMlEncoding,
} from '../codec/types.js';
import {
  type DataEncoding,
  encodeUiOptions,
  type NodeWriteSpec,
  type ServerCommandSpec,
} from './server-commands.js';

export type CmdIdCounter = () => number;

/**
 * A value as it goes on the wire: text, or bytes for WBXML. In XML, binary
 * data goes as its base64 text (the codec would write a Buffer that way
 * anyway), so chunking and Meta Size work on that text.
 */
export type Payload = { kind: 'text'; value: string } | { kind: 'bytes'; value: Buffer };

export function payloadOf(spec: { data?: string; dataEncoding?: DataEncoding }, encoding: SyncMlEncoding): Payload {
  const data = spec.data ?? '';
  if (spec.dataEncoding === 'base64' && encoding === 'wbxml') return { kind: 'bytes', value: Buffer.from(data, 'base64') };
  return { kind: 'text', value: data };
}

/** Meta Size of a payload: UTF-8 bytes of text, or the bytes. */
export function payloadSize(p: Payload): number {
  return p.kind === 'text' ? Buffer.byteLength(p.value, 'utf8') : p.value.length;
}

export function payloadLength(p: Payload): number {
  return p.value.length;
}

/** The part [from, to) as item data; text boundaries never split a surrogate pair. */
export function payloadSlice(p: Payload, from: number, to: number): ItemData {
  return p.kind === 'text' ? p.value.slice(from, to) : p.value.subarray(from, to);
}

/** Moves a text cut point back off a low surrogate so a pair stays whole. */
export function safeCut(p: Payload, at: number): number {
  if (p.kind !== 'text' || at <= 0 || at >= p.value.length) return at;
  const code = p.value.charCodeAt(at);
  return code >= 0xdc00 && code <= 0xdfff ? at - 1 : at;
}

/** Meta Format/Type of a spec, or undefined when it gives neither. */
function specMeta(spec: { format?: string; type?: string }): Meta | undefined {
  const meta: Meta = {};
  if (spec.format !== undefined) meta.format = spec.format;
  if (spec.type !== undefined) meta.type = spec.type;
  return Object.keys(meta).length > 0 ? meta : undefined;
}

/** One command from one spec, or from several packed Add/Replace specs (same verb and Meta). */
export function renderCommand(specs: ServerCommandSpec[], encoding: SyncMlEncoding, nextId: CmdIdCounter): Command {
  const first = specs[0]!;
  const cmdId = nextId();
  switch (first.verb) {
    case 'Add':
    case 'Replace': {
      // Meta in each Item, as the specification's examples write it: common
      // clients read only Item Meta and fail on a Format missing there.
      const items = (specs as NodeWriteSpec[]).map((s): Item => {
        const item: Item = { target: { locUri: s.uri } };
        const meta = specMeta(s);
        if (meta) item.meta = meta;
        if (s.data !== undefined) {
          const p = payloadOf(s, encoding);
          item.data = p.value;
        }
        return item;
      });
      return { kind: first.verb, cmdId, items };
    }
    case 'Get':
    case 'Delete':
      return { kind: first.verb, cmdId, items: [{ target: { locUri: first.uri } }] };
    case 'Copy':
      return {
        kind: 'Copy',
        cmdId,
        items: [{ target: { locUri: first.uri }, source: { locUri: first.sourceUri } }],
      };
    case 'Exec': {
      const item: Item = { target: { locUri: first.uri } };
      if (first.data !== undefined) item.data = first.data;
      const cmd: ExecCommand = { kind: 'Exec', cmdId, item };
      const meta = specMeta(first);
      if (meta) cmd.meta = meta;
      if (first.correlator !== undefined) cmd.correlator = first.correlator;
      return cmd;
    }
    case 'Alert': {
      const items: Item[] = [{ data: encodeUiOptions(first.options) }, { data: first.text }];
      if (first.code === 1103 || first.code === 1104) {
        for (const choice of first.choices ?? []) items.push({ data: choice });
      }
      const cmd: AlertCommand = { kind: 'Alert', cmdId, data: first.code, items };
      return cmd;
    }
  }
}

export function renderContainer(
  kind: 'Sequence' | 'Atomic',
  groups: ServerCommandSpec[][],
  encoding: SyncMlEncoding,
  nextId: CmdIdCounter,
): ContainerCommand {
  const cmdId = nextId();
  return { kind, cmdId, commands: groups.map((g) => renderCommand(g, encoding, nextId)) };
}

/** One Large Object chunk: Item Meta Format/Type on every chunk, Size on the first, MoreData on all but the last. */
export function renderChunk(
  spec: NodeWriteSpec,
  payload: Payload,
  from: number,
  to: number,
  cmdId: number,
): ItemCommand {
  const item: Item = { target: { locUri: spec.uri }, data: payloadSlice(payload, from, to) };
  const meta: Meta = { ...specMeta(spec) };
  if (from === 0) meta.size = payloadSize(payload);
  if (Object.keys(meta).length > 0) item.meta = meta;
  if (to < payloadLength(payload)) item.moreData = true;
  return { kind: spec.verb, cmdId, items: [item] };
}

/** Consecutive Add/Replace specs that may share one command: same verb, Format, Type and encoding, no Large Object. */
export function packable(a: ServerCommandSpec, b: ServerCommandSpec): boolean {
  if ((a.verb !== 'Add' && a.verb !== 'Replace') || b.verb !== a.verb) return false;
  const x = a as NodeWriteSpec;
  const y = b as NodeWriteSpec;
  return x.format === y.format && x.type === y.type && (x.dataEncoding ?? 'text') === (y.dataEncoding ?? 'text');
}
