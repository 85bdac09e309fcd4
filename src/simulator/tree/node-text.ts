import { dataText } from '../../dm/codec/index.js';
import type { ManagementTree } from './management-tree.js';

/** A leaf's value as text (the codec settled its Format); undefined for an interior or absent node. */
export function nodeText(tree: ManagementTree, uri: string): string | undefined {
  const node = tree.read(uri);
  if (node?.kind !== 'leaf' || node.data === undefined) return undefined;
  return dataText(node.data);
}
