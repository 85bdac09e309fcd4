/**
 * Content: firmware images and software components devices are told to
 * download. A record is created first (what the package is, its size and
 * SHA-256); an uploaded package becomes READY when bytes matching both have
 * arrived, an external one (a CDN URL) is READY at once.
 */
import { invalidArgument } from './errors.js';

export const CONTENT_KINDS = ['firmware', 'software'] as const;
export type ContentKind = (typeof CONTENT_KINDS)[number];

export const CONTENT_STATES = ['AWAITING_UPLOAD', 'READY'] as const;
export type ContentState = (typeof CONTENT_STATES)[number];

export interface Content {
  contentId: string;
  name: string;
  version: string;
  kind: ContentKind;
  /** Lower-case hex SHA-256 of the package bytes. */
  sha256: string;
  size: number;
  /** External location (served by someone else); absent for uploaded packages. */
  url?: string;
  /** The capabilities (make/model/firmware) it applies to; empty: not restricted. */
  capabilityOids: string[];
  state: ContentState;
  createdBy: string;
  createdAt: Date;
}

/** What a caller gives to create a record. */
export interface ContentInput {
  name: string;
  version: string;
  kind: string;
  sha256: string;
  size: number;
  url?: string;
  capabilityOids?: string[];
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** Checks a new record's fields; throws InvalidArgument naming the first wrong field. */
export function validateContentInput(input: ContentInput): Omit<Content, 'contentId' | 'state' | 'createdBy' | 'createdAt'> {
  const bad = invalidArgument;
  if (!input.name?.trim()) throw bad('name', 'name is required');
  if (!input.version?.trim()) throw bad('version', 'version is required');
  if (!(CONTENT_KINDS as readonly string[]).includes(input.kind)) {
    throw bad('kind', `kind must be one of ${CONTENT_KINDS.join(', ')}`);
  }
  if (!SHA256_HEX.test(input.sha256 ?? '')) throw bad('sha256', 'sha256 must be 64 hex digits');
  if (!Number.isSafeInteger(input.size) || input.size < 1) throw bad('size', 'size must be a positive whole number of bytes');
  if (input.url !== undefined) {
    let u: URL;
    try {
      u = new URL(input.url);
    } catch {
      throw bad('url', 'url is not an absolute URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('url', 'url must use http or https');
  }
  const oids = [...new Set(input.capabilityOids ?? [])];
  return {
    name: input.name.trim(),
    version: input.version.trim(),
    kind: input.kind as ContentKind,
    sha256: input.sha256.toLowerCase(),
    size: input.size,
    ...(input.url !== undefined ? { url: input.url } : {}),
    capabilityOids: oids,
  };
}

/** An upload went past the bytes it may carry (the record's size or CONTENT_MAX_BYTES). */
export class PackageTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`package larger than ${limit} bytes`);
    this.name = 'PackageTooLarge';
  }
}
