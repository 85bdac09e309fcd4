/**
 * What FUMO and SCOMO jobs share on a simulated device: options (failure
 * shares, install time, interrupted downloads), per-device counters, tree
 * edits that survive the device dropping and rebuilding its tree, and the
 * context a job runs in.
 */
import type { AlertCommand } from '../../dm/codec/types.js';
import type { ManagementTree, NodeDefinition } from '../tree/management-tree.js';
import type { PackageHeader } from './package.js';

/** Failures a job can be told to have, each with its result code per MO. */
export const FAILURE_KINDS = ['downloadFailed', 'outOfMemory', 'corruptPackage', 'installFailed', 'userPostponed'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export interface DeliveryOptions {
  /** Share (0..1) of jobs that fail in each way; the shares together at most 1. */
  failureShares: Partial<Record<FailureKind, number>>;
  /** Share (0..1) of downloads dropped halfway and resumed with `Range: bytes=N-`. */
  interruptedShare: number;
  /** Simulated install (and activate/deactivate/remove) time; default 1000 ms. */
  installMs: number;
  downloadTimeoutMs: number;
}

export const DEFAULT_DELIVERY: Readonly<DeliveryOptions> = Object.freeze({
  failureShares: Object.freeze({}),
  interruptedShare: 0,
  installMs: 1000,
  downloadTimeoutMs: 30_000,
});

/** One draw decides a job's fate: each kind takes its share of [0, 1). */
export function drawFailure(shares: DeliveryOptions['failureShares'], random: () => number): FailureKind | undefined {
  const r = random();
  let edge = 0;
  for (const kind of FAILURE_KINDS) {
    edge += shares[kind] ?? 0;
    if (r < edge) return kind;
  }
  return undefined;
}

export interface DeliveryResult {
  mo: 'fumo' | 'scomo';
  /** The executed node. */
  node: string;
  resultCode: number;
  correlator?: string;
  failure?: FailureKind | 'download-error' | 'invalid-package';
}

export interface DeliveryCounters {
  downloadsStarted: number;
  downloadsCompleted: number;
  downloadsFailed: number;
  downloadsResumed: number;
  bytesDownloaded: number;
  /** Every result the device reported, in order. */
  results: DeliveryResult[];
}

export function newDeliveryCounters(): DeliveryCounters {
  return {
    downloadsStarted: 0,
    downloadsCompleted: 0,
    downloadsFailed: 0,
    downloadsResumed: 0,
    bytesDownloaded: 0,
    results: [],
  };
}

/** A change the device makes to its own tree; recorded so a rebuilt tree gets it again. */
export type TreeEdit =
  | { op: 'set'; uri: string; value: string }
  | { op: 'define'; uri: string; def: NodeDefinition }
  | { op: 'delete'; uri: string }
  | { op: 'annotate'; uri: string; key: string; value: string | number | undefined };

export function applyEdits(tree: ManagementTree, edits: readonly TreeEdit[]): void {
  for (const e of edits) {
    switch (e.op) {
      case 'set':
        // A node the server deleted meanwhile (e.g. Download/<X>) stays deleted.
        if (tree.exists(e.uri)) tree.setValue(e.uri, e.value);
        break;
      case 'define':
        if (tree.exists(e.uri)) deleteNode(tree, e.uri);
        tree.define(e.uri, e.def);
        break;
      case 'delete':
        if (tree.exists(e.uri)) deleteNode(tree, e.uri);
        break;
      case 'annotate':
        if (tree.exists(e.uri)) tree.annotate(e.uri, e.key, e.value);
        break;
    }
  }
}

/** Removes a node the device owns, whatever its rights (a device deletes its own nodes). */
function deleteNode(tree: ManagementTree, uri: string): void {
  const parent = uri.slice(0, uri.lastIndexOf('/'));
  const parentAccess = tree.read(parent)?.access ?? ['Get'];
  tree.setAccess(parent, [...new Set([...parentAccess, 'Delete' as const])]);
  const visit = (u: string) => {
    const info = tree.read(u);
    if (!info) return;
    for (const child of info.children) visit(`${u}/${child}`);
    tree.setPermanent(u, false);
    tree.setAccess(u, [...new Set([...info.access, 'Delete' as const])]);
  };
  visit(uri);
  tree.delete(uri);
  tree.setAccess(parent, parentAccess);
}

/** The device services a job runs with. */
export interface DeliveryContext {
  readonly options: DeliveryOptions;
  readonly counters: DeliveryCounters;
  random(): number;
  /** Runs `fn` on the device's tree (built if needed); do not keep the tree. */
  read<T>(fn: (tree: ManagementTree) => T): T;
  edit(edits: readonly TreeEdit[]): void;
  /** Resolves after `ms` on the owner's scheduler (no per-device timer loop). */
  wait(ms: number): Promise<void>;
  /** Queues the Generic Alert and opens a session to deliver it (retried until delivered). */
  report(alert: AlertCommand, result: DeliveryResult): void;
  /** The DevDetail/FwV leaf. */
  readonly fwVUri: string;
}

export function headerAnnotation(header: PackageHeader): string {
  return JSON.stringify(header);
}

export function parseHeaderAnnotation(value: unknown): PackageHeader | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return JSON.parse(value) as PackageHeader;
  } catch {
    return undefined;
  }
}
