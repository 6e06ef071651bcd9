import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ThresholdError } from '../errors.js';
import type { Exporter } from '../export/exporter.js';
import { makeThumbnail } from '../export/thumbnail.js';
import type { SegmentIndex } from '../recording/segment-index.js';
import type { ClipOffer } from './types.js';

export interface PreviewDeps {
  /** `dataDir/previews`: made mode 0700, files 0600; nothing here ever leaves the device. */
  dir: string;
  segments: SegmentIndex;
  exporter: Exporter;
  ffmpegPath: string;
  thumbnailWidth?: number;
}

/**
 * Thumbnails and preview clips of offered clips, made on the device from the buffer and
 * cached by request, clip and range. Concurrent asks for the same file share one making.
 */
export class Previews {
  readonly #making = new Map<string, Promise<string>>();

  constructor(private readonly deps: PreviewDeps) {}

  /** A JPEG of the clip's first moment of motion (after its pre-roll), or of its middle. */
  thumbnail(
    requestId: string,
    offer: ClipOffer,
    atMs: number,
    signal?: AbortSignal,
  ): Promise<string> {
    return this.#cached(requestId, offer, 'jpg', async (output) => {
      const [segment] = await this.deps.segments.overlapping(atMs, atMs + 1);
      const source = segment ?? (await this.deps.segments.overlapping(offer.start, offer.end))[0];
      if (!source) throw new PreviewError('no footage left for this clip');
      // The index's wall-clock span of a segment can exceed its stream by a frame or two;
      // a seek past the last frame makes no picture, so that case falls back to its start.
      const spanS = (source.endMs - source.startMs) / 1000;
      const offsetS = Math.min(Math.max(0, (atMs - source.startMs) / 1000), spanS - 0.5);
      const width = this.deps.thumbnailWidth ?? 320;
      const make = (atS: number) =>
        makeThumbnail(this.deps.ffmpegPath, { input: source.path, atS, output, width }, signal);
      await make(Math.max(0, offsetS)).catch((err: NodeJS.ErrnoException) =>
        err.code === 'ENOENT' ? make(0) : Promise.reject(err),
      );
      await chmod(output, 0o600);
    });
  }

  /** An MP4 of the clip: a fast cut without audio, for the owner's eyes only. */
  preview(requestId: string, offer: ClipOffer, signal?: AbortSignal): Promise<string> {
    return this.#cached(requestId, offer, 'mp4', async (output) => {
      const segments = await this.deps.segments.overlapping(offer.start, offer.end);
      await this.deps.exporter.export({
        segments,
        fromMs: offer.start,
        toMs: offer.end,
        output,
        mode: 'fast',
        audio: false,
        ...(signal ? { signal } : {}),
      });
    });
  }

  /** Removes the previews of requests not in `keep` (decided ones need none). */
  async prune(keep: ReadonlySet<string>): Promise<void> {
    const names = await readdir(this.deps.dir).catch((err: NodeJS.ErrnoException) =>
      err.code === 'ENOENT' ? [] : Promise.reject(err),
    );
    for (const name of names) {
      const requestId = name.split('.')[0] ?? '';
      if (!keep.has(requestId))
        await rm(join(this.deps.dir, name), { force: true, recursive: true });
    }
  }

  async #cached(
    requestId: string,
    offer: ClipOffer,
    ext: 'jpg' | 'mp4',
    make: (output: string) => Promise<void>,
  ): Promise<string> {
    const key = createHash('sha256')
      .update(`${requestId}/${offer.index}/${offer.start}/${offer.end}`)
      .digest('hex')
      .slice(0, 16);
    const path = join(this.deps.dir, `${requestId}.${key}.${ext}`);
    const making = this.#making.get(path);
    if (making) return making;
    const made = (async () => {
      const exists = await stat(path).then(
        (s) => s.size > 0,
        () => false,
      );
      if (!exists) {
        await mkdir(this.deps.dir, { recursive: true, mode: 0o700 });
        await make(path);
      }
      return path;
    })().finally(() => this.#making.delete(path));
    this.#making.set(path, made);
    return made;
  }
}

export class PreviewError extends ThresholdError {
  constructor(message: string) {
    super('preview_unavailable', message);
  }
}
