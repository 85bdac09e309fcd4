/**
 * The simulated device's DM management tree.
 *
 * Server-facing operations (add, replace, delete, get, copy, exec) enforce the
 * node access rights and return a DM status code; device outcomes never throw.
 * Device-facing helpers (define, read, setAccess, annotate) bypass access
 * rights: they are how the device itself builds and inspects its tree, and
 * they throw on programming errors so broken test setups fail loudly.
 */
import {
  type AccessType,
  type Annotation,
  containsPermanent,
  copyNode,
  copyValue,
  isNodeFormat,
  type NodeFormat,
  type NodeValue,
  newInterior,
  newLeaf,
  type NodeOwner,
  type TreeNode,
} from './node.js';
import { compilePattern, joinUri, matchesPattern, type ParsedUri, parseUri, type UriLimits } from './uri.js';

export type { AccessType, Annotation, NodeFormat, NodeValue } from './node.js';
export { ACCESS_TYPES, NODE_FORMATS } from './node.js';
export type { UriLimits } from './uri.js';

/** Value carried by an Add or Replace (Meta Format/Type plus Data). */
export interface NodeContent {
  /** Defaults to `chr` on Add and to the node's current format on Replace. */
  format?: string;
  /** Defaults to `text/plain` on Add (leaves) and to the current type on Replace. */
  type?: string;
  data?: NodeValue;
}

/** A node the device creates itself, with explicit rights. */
export interface NodeDefinition extends NodeContent {
  access: readonly AccessType[];
  permanent?: boolean;
  /** Auto leaves only: the children of an interior auto node (SCOMO's `<X>/Operations`). */
  children?: Readonly<Record<string, NodeDefinition>>;
}

/**
 * Rights (and device-materialised leaves) for nodes a server creates under a
 * URI pattern. Without a matching template a server-created node gets
 * `defaultAccess`.
 */
export interface NodeTemplate {
  access: readonly AccessType[];
  /** Leaves the device adds itself when a node matching the pattern is created. */
  autoLeaves?: Readonly<Record<string, NodeDefinition>>;
}

export type GetOutcome =
  | { ok: true; status: 200; format: NodeFormat; type: string | undefined; data: NodeValue }
  | { ok: false; status: number };

export interface NodeInfo {
  uri: string;
  kind: 'leaf' | 'interior';
  format: NodeFormat;
  type: string | undefined;
  /** The leaf value; undefined for interior nodes. */
  data: NodeValue | undefined;
  children: string[];
  access: AccessType[];
  permanent: boolean;
}

export interface ExecCall {
  tree: ManagementTree;
  /** Normalised URI of the executed node. */
  uri: string;
  data: NodeValue | undefined;
  correlator: string | undefined;
}

/** Returns the Exec status (200, 202, 4xx, 5xx). */
export type ExecHandler = (call: ExecCall) => number;

export interface ExecRecord {
  uri: string;
  data: NodeValue | undefined;
  correlator: string | undefined;
  status: number;
}

/** Opaque copy of the node data (handlers, templates and the exec log are not included); shares nodes with the tree. */
export interface TreeSnapshot {
  readonly root: TreeNode;
}

export interface ManagementTreeOptions {
  limits?: Partial<UriLimits>;
  /** Rights of `.`; default Get + Add so a server may create new top-level MOs. */
  rootAccess?: readonly AccessType[];
  /**
   * Rights of server-created nodes without a template. Everything but Exec:
   * the creating server owns what it adds, but arbitrary data nodes are not
   * executable.
   */
  defaultAccess?: readonly AccessType[];
}

const DEFAULT_LIMITS: Readonly<UriLimits> = { maxDepth: 16, maxTotLen: 1024, maxSegLen: 64 };
const DEFAULT_ACCESS: readonly AccessType[] = ['Add', 'Delete', 'Get', 'Replace', 'Copy'];

interface PatternEntry<T> {
  pattern: readonly string[];
  value: T;
}

export class ManagementTree {
  readonly limits: Readonly<UriLimits>;
  private root: TreeNode;
  /** Nodes with this owner are this tree's alone and changed in place; any other node is copied first (see node.ts). */
  private owner: NodeOwner = {};
  private readonly defaultAccess: readonly AccessType[];
  private readonly templates: PatternEntry<NodeTemplate>[] = [];
  private readonly handlers: PatternEntry<ExecHandler>[] = [];
  private readonly execLog: ExecRecord[] = [];

  constructor(opts: ManagementTreeOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.root = newInterior(this.owner, opts.rootAccess ?? ['Get', 'Add'], true);
    this.defaultAccess = opts.defaultAccess ?? DEFAULT_ACCESS;
  }

  /** Validates and normalises a URI against this tree's limits. */
  parse(uri: string): ParsedUri {
    return parseUri(uri, this.limits);
  }

  // ---- server-facing operations -------------------------------------------

  add(uri: string, content: NodeContent = {}): number {
    const p = this.parse(uri);
    if (!p.ok) return p.status;
    const format = content.format ?? 'chr';
    if (!isNodeFormat(format)) return 415;
    const { node: ancestor, depth } = this.locate(p.segments);
    if (depth === p.segments.length) return 418;
    // A leaf cannot hold children, so an Add "through" it is not allowed here.
    if (!ancestor.children || !ancestor.access.has('Add')) return 405;
    let parent = this.own(p.segments, depth)!;
    for (let i = depth; i < p.segments.length; i++) {
      const segs = p.segments.slice(0, i + 1);
      const template = this.findTemplate(segs);
      const access = template?.access ?? this.defaultAccess;
      const last = i === p.segments.length - 1;
      const node =
        last && format !== 'node'
          ? newLeaf(this.owner, format, content.type ?? 'text/plain', content.data ?? '', access)
          : newInterior(this.owner, access, false, last ? content.type : undefined);
      parent.children?.set(segs[i]!, node);
      if (template?.autoLeaves) this.materialise(node, template.autoLeaves);
      parent = node;
    }
    return 200;
  }

  replace(uri: string, content: NodeContent): number {
    const p = this.parse(uri);
    if (!p.ok) return p.status;
    const found = this.find(p.segments);
    if (!found) return 404;
    if (found.children || !found.access.has('Replace')) return 405;
    const format = content.format ?? found.format;
    if (!isNodeFormat(format)) return 415;
    if (format === 'node') return 405;
    const node = this.own(p.segments)!;
    node.format = format;
    node.type = content.type ?? node.type;
    node.value = copyValue(content.data ?? '');
    return 200;
  }

  delete(uri: string): number {
    const p = this.parse(uri);
    if (!p.ok) return p.status;
    if (p.segments.length === 0) return 405;
    const parent = this.find(p.segments.slice(0, -1));
    const name = p.segments[p.segments.length - 1]!;
    const node = parent?.children?.get(name);
    if (!parent || !node) return 404;
    if (!node.access.has('Delete') || containsPermanent(node)) return 405;
    this.own(p.segments, p.segments.length - 1)!.children?.delete(name);
    return 200;
  }

  get(uri: string): GetOutcome {
    const p = this.parse(uri);
    if (!p.ok) return { ok: false, status: p.status };
    const node = this.find(p.segments);
    if (!node) return { ok: false, status: 404 };
    // ./Inbox is Add-only in the standard tree, so its 405 comes from here too.
    if (!node.access.has('Get')) return { ok: false, status: 405 };
    if (node.children) {
      return { ok: true, status: 200, format: 'node', type: node.type, data: [...node.children.keys()].join('/') };
    }
    return { ok: true, status: 200, format: node.format, type: node.type, data: node.value ?? '' };
  }

  /**
   * Leaf to leaf only. The source needs Copy rights (the DDF meaning of Copy);
   * an existing target is overwritten and needs Replace, a missing one is
   * created like an Add.
   */
  copy(sourceUri: string, targetUri: string): number {
    const sp = this.parse(sourceUri);
    if (!sp.ok) return sp.status;
    const tp = this.parse(targetUri);
    if (!tp.ok) return tp.status;
    const source = this.find(sp.segments);
    if (!source) return 404;
    if (source.children || !source.access.has('Copy')) return 405;
    const content = { format: source.format, type: source.type, data: source.value ?? '' };
    const target = this.find(tp.segments);
    if (!target) return this.add(tp.uri, content);
    if (target.children) return 405;
    return this.replace(tp.uri, content);
  }

  /**
   * Runs the newest handler whose pattern matches; a node with Exec rights but
   * no handler succeeds with 200. Every Exec that passes the access check is
   * recorded so tests can count executions of arbitrary targets.
   */
  exec(uri: string, data?: NodeValue, correlator?: string): number {
    const p = this.parse(uri);
    if (!p.ok) return p.status;
    const node = this.find(p.segments);
    if (!node) return 404;
    if (!node.access.has('Exec')) return 405;
    const handler = this.findLast(this.handlers, p.segments);
    const status = handler ? handler({ tree: this, uri: p.uri, data, correlator }) : 200;
    this.execLog.push({ uri: p.uri, data, correlator, status });
    return status;
  }

  // ---- configuration -------------------------------------------------------

  /** Registers an Exec handler for a URI or pattern; returns an unregister function. */
  onExec(pattern: string, handler: ExecHandler): () => void {
    const entry = { pattern: compilePattern(pattern), value: handler };
    this.handlers.push(entry);
    return () => {
      const i = this.handlers.indexOf(entry);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  /** Makes Exec on the matching nodes fail with `status` (e.g. 500). */
  failExec(pattern: string, status: number): () => void {
    return this.onExec(pattern, () => status);
  }

  defineTemplate(pattern: string, template: NodeTemplate): void {
    this.templates.push({ pattern: compilePattern(pattern), value: template });
  }

  get executions(): readonly ExecRecord[] {
    return [...this.execLog];
  }

  /** How many recorded Execs targeted `uri` (normalised before comparing). */
  execCount(uri: string): number {
    const p = this.parse(uri);
    return p.ok ? this.execLog.filter((r) => r.uri === p.uri).length : 0;
  }

  // ---- device-facing helpers ----------------------------------------------

  /**
   * A copy of the nodes, limits and templates, without the Exec handlers and
   * the exec log: a device's tree from a prebuilt one (building ~45 nodes
   * through `define` for every session was ~15% of a simulated fleet's CPU).
   * The nodes are shared until either tree changes them, so a session copies
   * only the few paths it writes (the device's own leaves, what a server adds)
   * instead of the whole tree.
   */
  clone(): ManagementTree {
    const copy = new ManagementTree({ limits: this.limits, defaultAccess: this.defaultAccess });
    copy.root = this.root;
    this.owner = {};
    copy.templates.push(...this.templates);
    return copy;
  }

  /** Sets a leaf's value as the device itself would (no access check); its format and type stay. */
  setValue(uri: string, data: NodeValue): void {
    const node = this.mustOwn(uri);
    if (node.children) throw new Error(`${uri} is an interior node`);
    node.value = copyValue(data);
  }

  /** Creates a node as the device would; missing parents become Get-only interior nodes. */
  define(uri: string, def: NodeDefinition): void {
    const p = parseUri(uri);
    if (!p.ok || p.segments.length === 0) throw new Error(`cannot define ${uri}`);
    const format = def.format ?? 'chr';
    if (!isNodeFormat(format)) throw new Error(`unknown format ${format} for ${uri}`);
    const { depth } = this.locate(p.segments);
    if (depth === p.segments.length) throw new Error(`${uri} already exists`);
    let parent = this.own(p.segments, depth)!;
    for (let i = depth; i < p.segments.length; i++) {
      const seg = p.segments[i]!;
      const last = i === p.segments.length - 1;
      if (!parent.children) throw new Error(`${joinUri(p.segments.slice(0, i))} is a leaf`);
      const node = !last
        ? newInterior(this.owner, ['Get'])
        : format === 'node'
          ? newInterior(this.owner, def.access, def.permanent, def.type)
          : newLeaf(this.owner, format, def.type ?? 'text/plain', def.data ?? '', def.access, def.permanent);
      parent.children.set(seg, node);
      parent = node;
    }
  }

  exists(uri: string): boolean {
    const p = parseUri(uri);
    return p.ok && this.find(p.segments) !== undefined;
  }

  /** Reads a node ignoring access rights. */
  read(uri: string): NodeInfo | undefined {
    const p = parseUri(uri);
    if (!p.ok) return undefined;
    const node = this.find(p.segments);
    if (!node) return undefined;
    return {
      uri: p.uri,
      kind: node.children ? 'interior' : 'leaf',
      format: node.format,
      type: node.type,
      data: node.value,
      children: [...(node.children?.keys() ?? [])],
      access: [...node.access],
      permanent: node.permanent,
    };
  }

  setAccess(uri: string, access: readonly AccessType[]): void {
    this.mustOwn(uri).access = new Set(access);
  }

  setPermanent(uri: string, permanent: boolean): void {
    this.mustOwn(uri).permanent = permanent;
  }

  /** Sets (or with `undefined` removes) a device-private annotation. */
  annotate(uri: string, key: string, value: Annotation | undefined): void {
    const node = this.mustOwn(uri);
    if (value === undefined) {
      node.annotations?.delete(key);
      return;
    }
    node.annotations ??= new Map();
    node.annotations.set(key, value);
  }

  annotation(uri: string, key: string): Annotation | undefined {
    const p = parseUri(uri);
    return p.ok ? this.find(p.segments)?.annotations?.get(key) : undefined;
  }

  // ---- Atomic support -------------------------------------------------------

  /** O(1): the snapshot keeps the current nodes, which from now on this tree copies before changing. */
  snapshot(): TreeSnapshot {
    this.owner = {};
    return { root: this.root };
  }

  /**
   * The snapshot's nodes belong to the owner token retired when it was taken,
   * so they are copied before any change and it can be restored more than once.
   */
  restore(snapshot: TreeSnapshot): void {
    this.root = snapshot.root;
  }

  // ---- internals -------------------------------------------------------------

  private find(segments: readonly string[]): TreeNode | undefined {
    const { node, depth } = this.locate(segments);
    return depth === segments.length ? node : undefined;
  }

  /** Deepest existing node on the path and how many segments it consumed. */
  private locate(segments: readonly string[]): { node: TreeNode; depth: number } {
    let node = this.root;
    let depth = 0;
    for (const seg of segments) {
      const child = node.children?.get(seg);
      if (!child) break;
      node = child;
      depth++;
    }
    return { node, depth };
  }

  /**
   * The node at `segments[0..depth)` made this tree's own for a change: it and
   * every node above it that is still shared are copied and linked in place of
   * the shared ones. Undefined when the path does not exist.
   */
  private own(segments: readonly string[], depth = segments.length): TreeNode | undefined {
    if (this.root.owner !== this.owner) this.root = copyNode(this.root, this.owner);
    let node = this.root;
    for (let i = 0; i < depth; i++) {
      const seg = segments[i]!;
      let child = node.children?.get(seg);
      if (!child) return undefined;
      if (child.owner !== this.owner) {
        child = copyNode(child, this.owner);
        node.children!.set(seg, child);
      }
      node = child;
    }
    return node;
  }

  private mustOwn(uri: string): TreeNode {
    const p = parseUri(uri);
    const node = p.ok ? this.own(p.segments) : undefined;
    if (!node) throw new Error(`no node at ${uri}`);
    return node;
  }

  private findTemplate(segments: readonly string[]): NodeTemplate | undefined {
    return this.findLast(this.templates, segments);
  }

  /** Newest registration wins, so a test's override beats a component's default. */
  private findLast<T>(entries: readonly PatternEntry<T>[], segments: readonly string[]): T | undefined {
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!;
      if (matchesPattern(entry.pattern, segments)) return entry.value;
    }
    return undefined;
  }

  private materialise(node: TreeNode, leaves: Readonly<Record<string, NodeDefinition>>): void {
    for (const [name, def] of Object.entries(leaves)) {
      const format = def.format ?? 'chr';
      if (!isNodeFormat(format)) throw new Error(`unknown format ${format} for auto leaf ${name}`);
      const child =
        format === 'node'
          ? newInterior(this.owner, def.access, def.permanent, def.type)
          : newLeaf(this.owner, format, def.type ?? 'text/plain', def.data ?? '', def.access, def.permanent);
      node.children?.set(name, child);
      if (format === 'node' && def.children) this.materialise(child, def.children);
    }
  }
}
