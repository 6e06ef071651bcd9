import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FileStore } from '@tus/file-store';
import { ERRORS, Upload } from '@tus/utils';
import { z } from 'zod';
import { syncDirectory } from '../../agent/seal/atomic-output.js';
import { type UploadMetadata, wireMetadataSchema } from '../../agent/upload/metadata.js';

/**
 * The receiver's uploads on disk: @tus/file-store's `<id>` (the bytes) and `<id>.json`
 * (its info, with the metadata), plus our `<id>.done` tombstone once the upload has been
 * handled (delivered, quarantined or found a duplicate) and its bytes removed.
 *
 * The tombstone keeps answering HEAD with offset = length, so a device that crashed before
 * it learned that its last PATCH landed sees the upload complete, rather than a 404 that
 * would make it send every byte again.
 */

/** Upload ids are ours: 16 random bytes in hex. Anything else in a URL is refused. */
export const UPLOAD_ID = /^[0-9a-f]{32}$/;

export function newUploadId(): string {
  return randomBytes(16).toString('hex');
}

const tombstoneSchema = z.strictObject({
  state: z.enum(['delivered', 'quarantined', 'duplicate']),
  size: z.number().int().min(0),
  at: z.string(),
});
export type Tombstone = z.infer<typeof tombstoneSchema>;

/** A complete upload, not yet handled. */
export interface CompletedUpload {
  readonly id: string;
  readonly path: string;
  readonly size: number;
  readonly metadata: UploadMetadata;
}

export class ReceiverStore extends FileStore {
  constructor(readonly uploadsDir: string) {
    // Before FileStore's own (asynchronous, mode 0777) attempt: the directory is ours.
    mkdirSync(uploadsDir, { recursive: true, mode: 0o700 });
    super({ directory: uploadsDir });
  }

  dataPath(id: string): string {
    if (!UPLOAD_ID.test(id)) throw ERRORS.FILE_NOT_FOUND;
    return join(this.uploadsDir, id);
  }

  override async getUpload(id: string): Promise<Upload> {
    const tombstone = await this.tombstone(id);
    if (tombstone) return new Upload({ id, size: tombstone.size, offset: tombstone.size });
    return super.getUpload(id);
  }

  override async write(
    readable: Parameters<FileStore['write']>[0],
    id: string,
    offset: number,
  ): Promise<number> {
    if (await this.tombstone(id)) throw ERRORS.FILE_NO_LONGER_EXISTS;
    return super.write(readable, id, offset);
  }

  async tombstone(id: string): Promise<Tombstone | undefined> {
    let text: string;
    try {
      text = await readFile(`${this.dataPath(id)}.done`, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = tombstoneSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Marks an upload handled: the tombstone is made durable first, then the bytes and the
   * info go (a crash in between is finished by `completed()` on the next start).
   */
  async retire(id: string, state: Tombstone['state'], size: number): Promise<void> {
    const path = `${this.dataPath(id)}.done`;
    const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      const tombstone: Tombstone = { state, size, at: new Date().toISOString() };
      await handle.writeFile(JSON.stringify(tombstone));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await syncDirectory(this.uploadsDir);
    await this.removeBytes(id);
  }

  /** Removes an upload's bytes and info (they may have been moved already). */
  private async removeBytes(id: string): Promise<void> {
    await rm(this.dataPath(id), { force: true });
    await rm(`${this.dataPath(id)}.json`, { force: true });
  }

  /**
   * Every complete upload not handled yet, oldest first. Leftovers of a crash inside
   * `retire` are cleaned up on the way.
   */
  async completed(): Promise<CompletedUpload[]> {
    const found: { upload: CompletedUpload; mtimeMs: number }[] = [];
    for (const name of await readdir(this.uploadsDir)) {
      const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : '';
      if (!UPLOAD_ID.test(id)) continue;
      if (await this.tombstone(id)) {
        await this.removeBytes(id);
        continue;
      }
      const info = await this.configstore.get(id);
      const metadata = wireMetadataSchema.safeParse(info?.metadata);
      const size = info?.size;
      if (!metadata.success || typeof size !== 'number') continue;
      const path = this.dataPath(id);
      const bytes = await stat(path).catch(() => undefined);
      if (!bytes || bytes.size !== size) continue;
      found.push({ upload: { id, path, size, metadata: metadata.data }, mtimeMs: bytes.mtimeMs });
    }
    return found.sort((a, b) => a.mtimeMs - b.mtimeMs).map((entry) => entry.upload);
  }
}
