/** Content records (see domain/content.ts). */
import type { EntityManager } from 'typeorm';
import type { Content, ContentKind, ContentState } from '../domain/content.js';
import type { Page } from '../domain/registry.js';
import type { ContentStore } from '../services/ports.js';
import { ContentEntity, type ContentRow } from './entities.js';

function toContent(r: ContentRow): Content {
  return {
    contentId: r.contentId,
    name: r.name,
    version: r.version,
    kind: r.kind as ContentKind,
    sha256: r.sha256,
    size: Number(r.size),
    ...(r.url !== null ? { url: r.url } : {}),
    capabilityOids: JSON.parse(r.capabilityOids) as string[],
    state: r.state as ContentState,
    createdBy: r.createdBy,
    createdAt: new Date(Number(r.createdAt)),
  };
}

export class TypeormContentStore implements ContentStore {
  constructor(private readonly em: EntityManager) {}

  private get repo() {
    return this.em.getRepository(ContentEntity);
  }

  async insert(c: Content): Promise<void> {
    const at = c.createdAt.getTime();
    await this.repo.insert({
      contentId: c.contentId,
      name: c.name,
      version: c.version,
      kind: c.kind,
      sha256: c.sha256,
      size: c.size,
      url: c.url ?? null,
      capabilityOids: JSON.stringify(c.capabilityOids),
      state: c.state,
      createdBy: c.createdBy,
      createdAt: at,
      updatedAt: at,
    });
  }

  async get(contentId: string): Promise<Content | undefined> {
    const r = await this.repo.findOneBy({ contentId });
    return r ? toContent(r) : undefined;
  }

  async list(page: Page): Promise<Content[]> {
    const rows = await this.repo.find({ order: { createdAt: 'ASC', contentId: 'ASC' }, skip: page.offset, take: page.limit });
    return rows.map(toContent);
  }

  async markReady(contentId: string, at: number): Promise<boolean> {
    const r = await this.repo.update({ contentId, state: 'AWAITING_UPLOAD' }, { state: 'READY', updatedAt: at });
    return (r.affected ?? 0) > 0;
  }

  async delete(contentId: string): Promise<boolean> {
    const r = await this.repo.delete({ contentId });
    return (r.affected ?? 0) > 0;
  }
}
