/**
 * Package bytes on disk under CONTENT_DIR, one file per content id. An upload
 * streams through a SHA-256 and a byte count into a temporary file of its own
 * (never whole in memory); only a verified one is linked to its final name,
 * so a reader never sees a partial or wrong package.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PackageTooLarge } from '../domain/content.js';
import type { ContentFiles, ReceivedPackage } from '../services/ports.js';

export class FsContentFiles implements ContentFiles {
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** The final file of a content id (ids are gateway-made UUIDs: no path tricks). */
  pathOf(contentId: string): string {
    return path.join(this.dir, contentId);
  }

  async receive(contentId: string, source: Readable, limit: number): Promise<ReceivedPackage> {
    const temp = path.join(this.dir, `.upload-${contentId}-${crypto.randomUUID()}`);
    const hash = crypto.createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > limit) return done(new PackageTooLarge(limit));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const discard = () => fs.promises.rm(temp, { force: true });
    try {
      await pipeline(source, meter, fs.createWriteStream(temp, { flags: 'wx', mode: 0o640 }));
    } catch (err) {
      await discard();
      throw err;
    }
    const final = this.pathOf(contentId);
    return {
      size,
      sha256: hash.digest('hex'),
      discard,
      keep: async () => {
        // link, not rename: it never replaces a package already in place (a concurrent upload
        // of the same record that won), and both held the same verified bytes anyway.
        try {
          await fs.promises.link(temp, final);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
            await discard();
            throw err;
          }
        }
        await discard();
      },
    };
  }

  async readAtMost(contentId: string, limit: number): Promise<Buffer | undefined> {
    const file = this.pathOf(contentId);
    const { size } = await fs.promises.stat(file);
    return size > limit ? undefined : fs.promises.readFile(file);
  }

  async remove(contentId: string): Promise<void> {
    await fs.promises.rm(this.pathOf(contentId), { force: true });
  }
}
