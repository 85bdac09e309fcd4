/** createContent, getContent, getContents, deleteContent (IBulkOperationsManagerServices): messages to the content service and back. */
import type { Content } from '../../domain/content.js';
import type { ContentService } from '../../services/content/content-service.js';
import { callContext, type OperationHandlers } from './types.js';

interface ContentXml {
  name: string;
  version: string;
  kind: string;
  sha256: string;
  size: number;
  url?: string;
  capabilityOids?: { oid?: string[] };
}

export function contentXml(c: Content): Record<string, unknown> {
  return {
    contentId: c.contentId,
    name: c.name,
    version: c.version,
    kind: c.kind,
    sha256: c.sha256,
    size: c.size,
    ...(c.url !== undefined ? { url: c.url } : {}),
    ...(c.capabilityOids.length ? { capabilityOids: { oid: c.capabilityOids } } : {}),
    state: c.state,
    createdAt: c.createdAt,
  };
}

export function contentHandlers(content: ContentService): OperationHandlers {
  return {
    createContent: async (ctx, a) => {
      const x = a.content as ContentXml;
      return {
        contentId: await content.create(callContext(ctx), {
          name: x.name,
          version: x.version,
          kind: x.kind,
          sha256: x.sha256,
          size: x.size,
          ...(x.url !== undefined ? { url: x.url } : {}),
          capabilityOids: x.capabilityOids?.oid ?? [],
        }),
      };
    },
    getContent: async (_ctx, a) => ({ content: contentXml(await content.get(a.contentId as string)) }),
    getContents: async (_ctx, a) => ({
      content: (await content.list({ offset: a.offset as number, limit: a.limit as number })).map(contentXml),
    }),
    deleteContent: async (ctx, a) => {
      await content.delete(callContext(ctx), a.contentId as string);
      return {};
    },
  };
}
