import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Storage } from '../../hal/interfaces.js';
import type { Database } from '../db/database.js';
import { parseSegmentFileName, segmentFileName } from './ffmpeg-args.js';
import type { NewSegment } from './segment-index.js';

/**
 * The segment files and their rows together, in the crash-safe order of the design:
 *
 *  - adding: file written (ffmpeg) → fsync file → fsync directory → insert row;
 *  - removing: mark the row → unlink → fsync directory → delete the row.
 *
 * So a row always names a durable file, and a file without a row is an orphan that
 * `reconcile` may remove. What is deliberately not recovered: a segment ffmpeg closed
 * but that was not yet indexed when the agent died (it is an orphan at the next start).
 */
export class SegmentStore {
  constructor(
    private readonly db: Database,
    private readonly storage: Storage,
    readonly dir: string,
    /** Duration of a segment file in seconds; used to recover closed, unindexed ones. */
    private readonly probeSeconds: (path: string) => Promise<number | null> = async () => null,
  ) {}

  /** Makes a closed segment durable and indexes it; returns its row id. */
  async add(segment: Omit<NewSegment, 'bytes' | 'sha256'>): Promise<{ id: number; bytes: number }> {
    const path = join(this.dir, segment.file);
    const { bytes, sha256 } = await hashFile(path);
    await this.storage.fsyncFile(path);
    await this.storage.fsyncDir(this.dir);
    const result = await this.db.run(
      `INSERT INTO segments (run_id, seq, file, start_ms, end_ms, pts_start, pts_end, bytes, sha256)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        segment.runId,
        segment.seq,
        segment.file,
        segment.startMs,
        segment.endMs,
        segment.ptsStart,
        segment.ptsEnd,
        bytes,
        sha256,
      ],
    );
    return { id: result.lastId, bytes };
  }

  /** Removes segments (never pinned ones: the caller selected them under that rule). */
  async remove(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const files = await this.db.transaction(async (tx) => {
      const names: string[] = [];
      for (const id of ids) {
        const row = await tx.get<{ file: string }>(
          'SELECT file FROM segments WHERE id = ? AND id NOT IN (SELECT segment_id FROM pins)',
          [id],
        );
        if (!row) continue;
        await tx.run('UPDATE segments SET deleting = 1 WHERE id = ?', [id]);
        names.push(row.file);
      }
      return names;
    });
    await this.#unlinkAll(files);
    await this.db.run('DELETE FROM segments WHERE deleting = 1');
  }

  /**
   * Brings the directory and the index into agreement at start-up: finishes interrupted
   * deletions, removes orphan files, and drops rows whose file is gone — unless more
   * than half of the indexed files are missing (an unmounted card), when it deletes
   * nothing and says so.
   */
  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      orphansRemoved: 0,
      missingDropped: 0,
      suspectedUnmounted: false,
    };
    const marked = await this.db.all<{ file: string }>(
      'SELECT file FROM segments WHERE deleting = 1',
    );
    await this.#unlinkAll(marked.map((row) => row.file));
    await this.db.run('DELETE FROM segments WHERE deleting = 1');

    const rows = await this.db.all<{ id: number; file: string }>('SELECT id, file FROM segments');
    const names = new Set(await readdir(this.dir));
    const missing = rows.filter((row) => !names.has(row.file));
    if (missing.length > 0 && missing.length * 2 > rows.length) {
      report.suspectedUnmounted = true;
      report.missingCount = missing.length;
      return report;
    }
    const indexed = new Set(rows.map((row) => row.file));
    const orphans = [...names].filter(
      (name) =>
        !indexed.has(name) && (parseSegmentFileName(name) !== null || name.endsWith('.tmp')),
    );
    const recovered = await this.#recoverClosed(orphans, names);
    await this.#unlinkAll(orphans.filter((name) => !recovered.has(name)));
    report.orphansRemoved = orphans.length - recovered.size;
    report.recovered = recovered.size;
    if (missing.length > 0) {
      await this.db.transaction(async (tx) => {
        for (const row of missing) {
          await tx.run('DELETE FROM pins WHERE segment_id = ?', [row.id]);
          await tx.run('DELETE FROM segments WHERE id = ?', [row.id]);
        }
      });
      report.missingDropped = missing.length;
    }
    return report;
  }

  /**
   * A segment ffmpeg had closed (a later one of its run exists) but that was not yet
   * indexed when the agent died is indexed now, placed right after its predecessor. The
   * last file of a run was still being written: it is not recovered.
   */
  async #recoverClosed(
    orphans: readonly string[],
    names: ReadonlySet<string>,
  ): Promise<Set<string>> {
    const recovered = new Set<string>();
    const sorted = orphans
      .map((file) => ({ file, id: parseSegmentFileName(file) }))
      .filter(
        (entry): entry is { file: string; id: { runId: number; seq: number } } => entry.id !== null,
      )
      .sort((a, b) => a.id.runId - b.id.runId || a.id.seq - b.id.seq);
    for (const { file, id } of sorted) {
      if (!names.has(segmentFileName(id.runId, id.seq + 1))) continue;
      const prev = await this.db.get<{ end_ms: number; pts_end: number }>(
        'SELECT end_ms, pts_end FROM segments WHERE run_id = ? AND seq = ? AND deleting = 0',
        [id.runId, id.seq - 1],
      );
      const seconds = prev && (await this.probeSeconds(join(this.dir, file)));
      if (!prev || !seconds) continue;
      await this.add({
        runId: id.runId,
        seq: id.seq,
        file,
        startMs: prev.end_ms,
        endMs: prev.end_ms + Math.round(seconds * 1000),
        ptsStart: prev.pts_end,
        ptsEnd: prev.pts_end + seconds,
      });
      recovered.add(file);
    }
    return recovered;
  }

  async #unlinkAll(files: readonly string[]): Promise<void> {
    if (files.length === 0) return;
    for (const file of files) {
      await unlink(join(this.dir, file)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    await this.storage.fsyncDir(this.dir);
  }
}

export interface ReconcileReport {
  orphansRemoved: number;
  /** Closed segments found unindexed after a crash, indexed at start-up. */
  recovered?: number;
  missingDropped: number;
  suspectedUnmounted: boolean;
  missingCount?: number;
}

export async function hashFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  const info = await stat(path);
  if (info.size !== bytes) throw new Error(`segment ${path} changed while hashing`);
  return { bytes, sha256: hash.digest('hex') };
}
