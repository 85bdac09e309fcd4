/**
 * Assembly of a node value that a server sends as a Large Object: chunks with
 * MoreData, the first carrying Meta Size (notes §1). The state lives in a
 * caller-owned object because the chunks span several messages.
 */
import { dataSize, joinChunks } from '../../dm/codec/index.js';
import type { ItemData } from '../../dm/codec/types.js';
import type { NodeContent } from './management-tree.js';

export interface LargeObjectAssembly {
  pending: PendingObject | undefined;
}

export interface PendingObject {
  kind: 'Add' | 'Replace';
  /** As the server wrote it; the 1225 alert echoes it. */
  targetUri: string;
  sourceUri: string | undefined;
  format: string | undefined;
  type: string | undefined;
  /** Meta Size of the first chunk; without it the size is not checked (lenient). */
  size: number | undefined;
  chunks: ItemData[];
}

export interface Chunk {
  kind: 'Add' | 'Replace';
  targetUri: string;
  sourceUri: string | undefined;
  /** Item Meta merged over command Meta. */
  format: string | undefined;
  type: string | undefined;
  size: number | undefined;
  data: ItemData | undefined;
  moreData: boolean;
}

export type ChunkOutcome =
  | { state: 'buffered' }
  | { state: 'size-mismatch' }
  | { state: 'complete'; kind: 'Add' | 'Replace'; content: NodeContent };

export function createLargeObjectAssembly(): LargeObjectAssembly {
  return { pending: undefined };
}

/**
 * Appends a chunk that belongs to the pending object (or starts one). The
 * caller has already ended any pending object this chunk does not continue.
 */
export function takeChunk(assembly: LargeObjectAssembly, chunk: Chunk): ChunkOutcome {
  const data = chunk.data ?? '';
  const pending = assembly.pending;
  if (!pending) {
    // Only a MoreData item starts an object, so the first chunk is never the last.
    assembly.pending = {
      kind: chunk.kind,
      targetUri: chunk.targetUri,
      sourceUri: chunk.sourceUri,
      format: chunk.format,
      type: chunk.type,
      size: chunk.size,
      chunks: [data],
    };
    return { state: 'buffered' };
  }
  pending.chunks.push(data);
  if (chunk.moreData) return { state: 'buffered' };
  assembly.pending = undefined;
  // The codec joins chunks as it settles one Item (Format, carrier); Size counts the bytes as carried.
  const value = joinChunks(pending.chunks, pending.format);
  if (pending.size !== undefined && dataSize(value) !== pending.size) return { state: 'size-mismatch' };
  return { state: 'complete', kind: pending.kind, content: { format: pending.format, type: pending.type, data: value } };
}
