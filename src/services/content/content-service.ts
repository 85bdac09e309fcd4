/**
 * The package store as use cases: records (create, get, list, delete while no
 * open task uses one), uploads verified against their record, and the PkgURL
 * a task gives its device (the external URL, or a signed /dl link) and what
 * such a link may serve.
 */
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import { type Content, type ContentInput, PackageTooLarge, validateContentInput } from '../../domain/content.js';
import { DmwsiError, invalidArgument, notFound } from '../../domain/errors.js';
import type { Page } from '../../domain/registry.js';
import { validatePage } from '../../domain/registry-validation.js';
import { type Task, TERMINAL_TASK_STATES } from '../../domain/tasks.js';
import type { CallContext, Clock, ContentFiles, ReceivedPackage, Transactor } from '../ports.js';
import { type FirstIds, idForCall, writeFirst } from '../retried-call.js';

/** Signs download links (security/download-links.ts). */
export interface DownloadLinkIssuer {
  url(grant: { taskId: string; contentId: string; expiresAt: number }): string;
}

export interface ContentServiceDeps {
  tx: Transactor;
  files: ContentFiles;
  links: DownloadLinkIssuer;
  /** Where a retried createContent (same caller and MessageID) finds the first call's id. */
  firstIds: FirstIds;
  clock: Clock;
  /** CONTENT_MAX_BYTES. */
  maxBytes: number;
  /** How long a link lives when its task has no deadline. */
  linkTtlMs: number;
}

export type UploadOutcome =
  | { kind: 'stored'; content: Content }
  /** Size or SHA-256 differ from the record: nothing kept, the record still awaits its upload. */
  | { kind: 'mismatch'; detail: string }
  /** Past CONTENT_MAX_BYTES: nothing kept. */
  | { kind: 'too-large'; limit: number };

/** A package a download link may serve: the file and what it is. */
export interface Downloadable {
  content: Content;
  path: string;
}

/** Uploaded READY records kept for downloads (see downloadable). */
const DOWNLOADABLE_KEPT = 1024;

export class ContentService {
  private readonly ready = new Map<string, Content>();

  constructor(private readonly deps: ContentServiceDeps) {}

  async create(ctx: CallContext, input: ContentInput): Promise<string> {
    const fields = validateContentInput(input);
    if (fields.url === undefined && fields.size > this.deps.maxBytes) {
      throw invalidArgument('size', `an uploaded package may have at most ${this.deps.maxBytes} bytes (CONTENT_MAX_BYTES)`);
    }
    const now = this.deps.clock.now();
    const proposed = crypto.randomUUID();
    const contentId = await idForCall(this.deps.firstIds, ctx, proposed);
    // A retry's id may already have its record (unless the first call failed).
    if (contentId !== proposed && (await this.deps.tx.stores.contents.get(contentId))) return contentId;
    const content: Content = {
      contentId,
      ...fields,
      state: fields.url === undefined ? 'AWAITING_UPLOAD' : 'READY',
      createdBy: ctx.caller,
      createdAt: new Date(now),
    };
    await writeFirst(
      ctx,
      () =>
        this.deps.tx.run(async (s) => {
          for (const oid of content.capabilityOids) {
            if (!(await s.capabilities.get(oid))) throw invalidArgument('capabilityOids', `capability "${oid}" does not exist`);
          }
          await s.contents.insert(content);
          await s.audit.record({ ...ctx, target: content.contentId, outcome: 'ok' }, now);
        }),
      () => this.deps.tx.stores.contents.get(contentId),
    );
    return contentId;
  }

  async get(contentId: string): Promise<Content> {
    const c = await this.deps.tx.stores.contents.get(contentId);
    if (!c) throw notFound('content', contentId);
    return c;
  }

  list(page: Page): Promise<Content[]> {
    return this.deps.tx.stores.contents.list(validatePage(page));
  }

  /** Refused (InvalidState) while a task not in an end state uses the content. */
  async delete(ctx: CallContext, contentId: string): Promise<void> {
    const now = this.deps.clock.now();
    const removed = await this.deps.tx.run(async (s) => {
      const c = await s.contents.get(contentId);
      if (!c) throw notFound('content', contentId);
      const open = await s.tasks.openTasksUsing(contentId);
      if (open > 0) throw new DmwsiError('InvalidState', `content "${contentId}" is used by ${open} open task(s)`);
      await s.contents.delete(contentId);
      await s.audit.record({ ...ctx, target: contentId, outcome: 'ok' }, now);
      return c;
    });
    // After the commit: a download already streaming keeps its open file.
    if (removed.url === undefined) await this.deps.files.remove(contentId);
  }

  /**
   * Takes an upload for an AWAITING_UPLOAD record: streams it in, compares
   * size and SHA-256, keeps it only when both match. Of concurrent uploads
   * for one record, the first verified one wins; the others get InvalidState.
   */
  async upload(ctx: CallContext, contentId: string, body: Readable, declaredLength?: number): Promise<UploadOutcome> {
    const record = await this.deps.tx.stores.contents.get(contentId);
    if (!record) throw notFound('content', contentId);
    if (record.url !== undefined) throw new DmwsiError('InvalidState', `content "${contentId}" is an external URL: nothing to upload`);
    if (record.state !== 'AWAITING_UPLOAD') throw new DmwsiError('InvalidState', `content "${contentId}" is already uploaded`);
    const outcome = await this.receive(record, body, declaredLength);
    await this.deps.tx.stores.audit.record(
      { ...ctx, target: contentId, outcome: outcome.kind === 'stored' ? 'ok' : outcome.kind, ...(outcome.kind === 'mismatch' && { detail: outcome.detail }) },
      this.deps.clock.now(),
    );
    return outcome;
  }

  private async receive(record: Content, body: Readable, declaredLength: number | undefined): Promise<UploadOutcome> {
    const { maxBytes } = this.deps;
    if (declaredLength !== undefined && declaredLength > maxBytes) return { kind: 'too-large', limit: maxBytes };
    if (declaredLength !== undefined && declaredLength !== record.size) {
      return { kind: 'mismatch', detail: `${declaredLength} bytes announced, the record says ${record.size}` };
    }
    // Reading stops one byte past the record's size: a longer body is refused without reading it all.
    const limit = Math.min(maxBytes, record.size);
    let received: ReceivedPackage;
    try {
      received = await this.deps.files.receive(record.contentId, body, limit);
    } catch (err) {
      if (!(err instanceof PackageTooLarge)) throw err;
      if (limit === maxBytes && record.size > maxBytes) return { kind: 'too-large', limit: maxBytes };
      return { kind: 'mismatch', detail: `more than the record's ${record.size} bytes` };
    }
    if (received.size !== record.size || received.sha256 !== record.sha256) {
      await received.discard();
      return {
        kind: 'mismatch',
        detail:
          received.size !== record.size
            ? `${received.size} bytes received, the record says ${record.size}`
            : `SHA-256 ${received.sha256} differs from the record's`,
      };
    }
    await received.keep();
    if (!(await this.deps.tx.stores.contents.markReady(record.contentId, this.deps.clock.now()))) {
      // Deleted meanwhile (its file goes too), or another upload won (same verified bytes: keep them).
      const now = await this.deps.tx.stores.contents.get(record.contentId);
      if (!now) {
        await this.deps.files.remove(record.contentId);
        throw notFound('content', record.contentId);
      }
      throw new DmwsiError('InvalidState', `content "${record.contentId}" is already uploaded`);
    }
    return { kind: 'stored', content: { ...record, state: 'READY' } };
  }

  /**
   * The PkgURL for a task delivering this content: an external record's URL,
   * or a signed link to /dl valid until the task's deadline.
   */
  pkgUrlFor(task: Task, content: Content): string {
    if (content.url !== undefined) return content.url;
    if (content.state !== 'READY') throw new DmwsiError('InvalidState', `content "${content.contentId}" has not been uploaded`);
    const expiresAt = task.deadline?.getTime() ?? this.deps.clock.now() + this.deps.linkTtlMs;
    return this.deps.links.url({ taskId: task.taskId, contentId: content.contentId, expiresAt });
  }

  /**
   * The bytes of an uploaded READY package of at most `limit` bytes (inline
   * FUMO delivery). A larger one is never loaded (ContentFiles.readAtMost).
   */
  async bytesOf(content: Content, limit: number): Promise<Buffer> {
    if (content.url !== undefined || content.state !== 'READY') {
      throw new DmwsiError('InvalidState', `content "${content.contentId}" is not an uploaded package`);
    }
    const bytes = await this.deps.files.readAtMost(content.contentId, limit);
    if (!bytes) throw new DmwsiError('InvalidState', `content "${content.contentId}" is over ${limit} bytes`);
    return bytes;
  }

  /**
   * What a verified link may serve: the task must still be open and deliver
   * this content, which must be an uploaded, READY package. undefined: serve
   * nothing (a cancelled task's link stops working).
   */
  async downloadable(taskId: string, contentId: string): Promise<Downloadable | undefined> {
    const task = await this.deps.tx.stores.tasks.get(taskId);
    if (!task || task.contentId !== contentId || TERMINAL_TASK_STATES.has(task.status)) return undefined;
    // A READY upload never changes, and cannot be deleted while this open task uses it: a record
    // read once serves every download of it (devices of a rollout fetch the same few packages).
    let content = this.ready.get(contentId);
    if (!content) {
      content = await this.deps.tx.stores.contents.get(contentId);
      if (content?.state !== 'READY' || content.url !== undefined) return undefined;
      if (this.ready.size >= DOWNLOADABLE_KEPT) this.ready.delete(this.ready.keys().next().value!);
      this.ready.set(contentId, content);
    }
    return { content, path: this.deps.files.pathOf(contentId) };
  }
}
