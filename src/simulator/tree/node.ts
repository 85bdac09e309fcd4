/**
 * Node model of the simulated management tree (internal to `tree/`).
 *
 * Nodes are plain mutable records so that a deep clone (Atomic snapshot) is a
 * straightforward recursive copy; the public API lives in management-tree.ts.
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

export interface TreeNode {
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
   * a deleted MO takes its armed schedule with it.
   */
  annotations: Map<string, Annotation>;
}

export function isNodeFormat(value: string): value is NodeFormat {
  return (NODE_FORMATS as readonly string[]).includes(value);
}

export function newInterior(access: Iterable<AccessType>, permanent = false, type?: string): TreeNode {
  return {
    format: 'node',
    type,
    access: new Set(access),
    permanent,
    value: undefined,
    children: new Map(),
    annotations: new Map(),
  };
}

export function newLeaf(
  format: NodeFormat,
  type: string | undefined,
  value: NodeValue,
  access: Iterable<AccessType>,
  permanent = false,
): TreeNode {
  return {
    format,
    type,
    access: new Set(access),
    permanent,
    value: copyValue(value),
    children: undefined,
    annotations: new Map(),
  };
}

/** Buffers are copied so no caller can mutate a stored value (or a snapshot) in place. */
export function copyValue(value: NodeValue): NodeValue {
  return typeof value === 'string' ? value : Buffer.from(value);
}

export function cloneNode(node: TreeNode): TreeNode {
  let children: Map<string, TreeNode> | undefined;
  if (node.children) {
    children = new Map();
    for (const [name, child] of node.children) children.set(name, cloneNode(child));
  }
  return {
    format: node.format,
    type: node.type,
    // Shared: an access set is only ever replaced (setAccess), never changed in place.
    access: node.access,
    permanent: node.permanent,
    value: node.value === undefined ? undefined : copyValue(node.value),
    children,
    annotations: new Map(node.annotations),
  };
}

export function containsPermanent(node: TreeNode): boolean {
  if (node.permanent) return true;
  for (const child of node.children?.values() ?? []) {
    if (containsPermanent(child)) return true;
  }
  return false;
}
