/**
 * Node model of the simulated management tree (internal to `tree/`).
 *
 * Nodes are plain records shared between trees (a device's tree and the
 * template it was cloned from, a tree and its Atomic snapshots) and copied on
 * write: a tree changes a node in place only when the node's `owner` is the
 * tree's current owner token, and copies it (and the path above it) first
 * otherwise. The public API lives in management-tree.ts.
 */

export const NODE_FORMATS = [
  'b64',
  'bin',
  'bool',
  'chr',
  'int',
  'node',
  'null',
  'xml',
  'date',
  'time',
  'float',
] as const;
export type NodeFormat = (typeof NODE_FORMATS)[number];

/** Access types of a DDF node (the SSE MO table uses the same names). */
export const ACCESS_TYPES = ['Add', 'Delete', 'Exec', 'Get', 'Replace', 'Copy'] as const;
export type AccessType = (typeof ACCESS_TYPES)[number];

export type NodeValue = string | Buffer;

/** Device-private bookkeeping attached to a node (never visible to a server). */
export type Annotation = string | number | boolean;

/**
 * Identity of the one tree generation that may change a node in place. A tree
 * takes a new token whenever its nodes become shared (clone, snapshot,
 * restore), so nodes made before that are never changed in place again.
 */
export type NodeOwner = object;

export interface TreeNode {
  owner: NodeOwner;
  format: NodeFormat;
  /** MIME type for leaves; the MO identifier (DDF type) for interior nodes. */
  type: string | undefined;
  access: ReadonlySet<AccessType>;
  /** Permanent nodes cannot be deleted (405). */
  permanent: boolean;
  /** Leaf value; undefined on interior nodes. */
  value: NodeValue | undefined;
  /** Children of an interior node; undefined on leaves. */
  children: Map<string, TreeNode> | undefined;
  /**
   * Annotations die with the node, which is exactly what the SSE client needs:
   * a deleted MO takes its armed schedule with it. Undefined until the first
   * one: few nodes carry any, and a device's tree is rebuilt every session.
   */
  annotations: Map<string, Annotation> | undefined;
}

export function isNodeFormat(value: string): value is NodeFormat {
  return (NODE_FORMATS as readonly string[]).includes(value);
}

export function newInterior(
  owner: NodeOwner,
  access: Iterable<AccessType>,
  permanent = false,
  type?: string,
): TreeNode {
  return {
    owner,
    format: 'node',
    type,
    access: new Set(access),
    permanent,
    value: undefined,
    children: new Map(),
    annotations: undefined,
  };
}

export function newLeaf(
  owner: NodeOwner,
  format: NodeFormat,
  type: string | undefined,
  value: NodeValue,
  access: Iterable<AccessType>,
  permanent = false,
): TreeNode {
  return {
    owner,
    format,
    type,
    access: new Set(access),
    permanent,
    value: copyValue(value),
    children: undefined,
    annotations: undefined,
  };
}

/**
 * Buffers are copied on the way in so no caller can change a stored value in
 * place; a stored value is never changed in place either (it is replaced),
 * which is what lets trees and snapshots share it.
 */
export function copyValue(value: NodeValue): NodeValue {
  return typeof value === 'string' ? value : Buffer.from(value);
}

/**
 * A copy of one node for `owner` to change: its own children and annotations
 * maps, the children themselves still shared (copied in turn when written).
 */
export function copyNode(node: TreeNode, owner: NodeOwner): TreeNode {
  return {
    owner,
    format: node.format,
    type: node.type,
    // Shared: an access set is only ever replaced (setAccess), never changed in place.
    access: node.access,
    permanent: node.permanent,
    value: node.value,
    children: node.children && new Map(node.children),
    annotations: node.annotations && new Map(node.annotations),
  };
}

export function containsPermanent(node: TreeNode): boolean {
  if (node.permanent) return true;
  for (const child of node.children?.values() ?? []) {
    if (containsPermanent(child)) return true;
  }
  return false;
}
