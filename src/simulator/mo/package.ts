/**
 * The simulated package format. Real handsets verify a vendor signature inside
 * the package; a simulated one carries what the device needs in a header:
 *
 *   bytes 0..7   magic `DMSIMPKG`
 *   bytes 8..11  header length H (uint32, big-endian)
 *   bytes 12..   H bytes of UTF-8 JSON {kind, name, version, size, sha256}
 *   then         `size` payload bytes, whose SHA-256 (hex) is `sha256`
 *
 * The device learns the new firmware version (FwV) or component name and
 * version from the header, and verifies integrity by hashing the payload as
 * it streams in (nothing but the header is kept).
 */
import { createHash, type Hash } from 'node:crypto';

export const PACKAGE_MAGIC = Buffer.from('DMSIMPKG', 'latin1');
const PREFIX = PACKAGE_MAGIC.length + 4;
/** A header longer than this is not a simulated package. */
const MAX_HEADER = 16 * 1024;

export type PackageKind = 'firmware' | 'component';

export interface PackageHeader {
  kind: PackageKind;
  /** Firmware: the model or image name; component: the component id. */
  name: string;
  /** Firmware: the new FwV; component: the component Version. */
  version: string;
  /** Payload bytes. */
  size: number;
  /** SHA-256 of the payload, lowercase hex. */
  sha256: string;
}

export interface SimulatedPackageSpec {
  kind: PackageKind;
  name: string;
  version: string;
  /** Payload size in bytes (default 1024). */
  size?: number;
}

/** A package whose deterministic payload (a repeating pattern) the header describes. */
export function makeSimulatedPackage(spec: SimulatedPackageSpec): Buffer {
  const size = spec.size ?? 1024;
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
  const header: PackageHeader = {
    kind: spec.kind,
    name: spec.name,
    version: spec.version,
    size,
    sha256: createHash('sha256').update(payload).digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([PACKAGE_MAGIC, len, json, payload]);
}

export type VerifyResult =
  | { ok: true; header: PackageHeader }
  | { ok: false; reason: 'not-a-package' | 'truncated' | 'too-long' | 'hash-mismatch'; header?: PackageHeader };

/**
 * Verifies a package fed in chunks, in order, holding only the header bytes
 * and a running hash. `corrupt` flips the first payload byte before hashing
 * (the simulator's "corrupt package" share): the real mismatch path then runs.
 */
export class PackageVerifier {
  private prefix: Buffer[] = [];
  private prefixLen = 0;
  private header: PackageHeader | undefined;
  private bad: 'not-a-package' | 'too-long' | undefined;
  private hash: Hash | undefined;
  private payloadSeen = 0;
  private corruptNext: boolean;

  constructor(opts: { corrupt?: boolean } = {}) {
    this.corruptNext = opts.corrupt ?? false;
  }

  /** Bytes consumed so far (the offset a Range resume starts at). */
  get received(): number {
    return this.header ? this.headerEnd + this.payloadSeen : this.prefixLen;
  }

  private headerEnd = 0;

  /** Total package bytes, once the header is in. */
  get expected(): number | undefined {
    return this.header ? this.headerEnd + this.header.size : undefined;
  }

  update(chunk: Buffer): void {
    if (this.bad) return;
    if (!this.header) {
      this.prefix.push(chunk);
      this.prefixLen += chunk.length;
      const all = Buffer.concat(this.prefix);
      this.prefix = [all];
      if (all.length < PREFIX) return;
      if (!all.subarray(0, PACKAGE_MAGIC.length).equals(PACKAGE_MAGIC)) {
        this.bad = 'not-a-package';
        return;
      }
      const h = all.readUInt32BE(PACKAGE_MAGIC.length);
      if (h > MAX_HEADER) {
        this.bad = 'not-a-package';
        return;
      }
      if (all.length < PREFIX + h) return;
      const header = parseHeader(all.subarray(PREFIX, PREFIX + h));
      if (!header) {
        this.bad = 'not-a-package';
        return;
      }
      this.header = header;
      this.headerEnd = PREFIX + h;
      this.prefix = [];
      this.hash = createHash('sha256');
      chunk = all.subarray(PREFIX + h);
    }
    if (chunk.length === 0) return;
    if (this.payloadSeen + chunk.length > (this.header?.size ?? 0)) {
      this.bad = 'too-long';
      return;
    }
    if (this.corruptNext) {
      this.corruptNext = false;
      chunk = Buffer.from(chunk);
      chunk[0] = (chunk[0] ?? 0) ^ 0xff;
    }
    this.hash?.update(chunk);
    this.payloadSeen += chunk.length;
  }

  finish(): VerifyResult {
    if (this.bad) return { ok: false, reason: this.bad, ...(this.header && { header: this.header }) };
    const header = this.header;
    if (!header || !this.hash) return { ok: false, reason: 'truncated' };
    if (this.payloadSeen < header.size) return { ok: false, reason: 'truncated', header };
    const digest = this.hash.digest('hex');
    return digest === header.sha256 ? { ok: true, header } : { ok: false, reason: 'hash-mismatch', header };
  }
}

/** Verifies a whole package held in memory (direct delivery via PkgData). */
export function verifyPackage(bytes: Buffer, opts: { corrupt?: boolean } = {}): VerifyResult {
  const v = new PackageVerifier(opts);
  v.update(bytes);
  return v.finish();
}

function parseHeader(json: Buffer): PackageHeader | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.kind !== 'firmware' && v.kind !== 'component') return undefined;
  if (typeof v.name !== 'string' || typeof v.version !== 'string' || typeof v.sha256 !== 'string') return undefined;
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) return undefined;
  return { kind: v.kind, name: v.name, version: v.version, size: v.size, sha256: v.sha256.toLowerCase() };
}
