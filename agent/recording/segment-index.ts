import { join } from 'node:path';
import type { Database } from '../db/database.js';

/** A closed, durable segment as the index knows it. Times are wall-clock ms UTC. */
export interface SegmentRow {
  id: number;
  runId: number;
  path: string;
  startMs: number;
  endMs: number;
  /** Stream time of the segment's first and last+1 packet, seconds (continuous per run). */
  ptsStart: number;
  ptsEnd: number;
  bytes: number;
  sha256: string;
}

export interface NewSegment {
  runId: number;
  seq: number;
  file: string;
  startMs: number;
  endMs: number;
  ptsStart: number;
  ptsEnd: number;
  bytes: number;
  sha256: string;
}

interface DbSegment {
  id: number;
  run_id: number;
  file: string;
  start_ms: number;
  end_ms: number;
  pts_start: number;
  pts_end: number;
  bytes: number;
  sha256: string;
}

const COLUMNS = 'id, run_id, file, start_ms, end_ms, pts_start, pts_end, bytes, sha256';

/** The `segments` table: queries over the footage index. Owns no files. */
export class SegmentIndex {
  constructor(
    private readonly db: Database,
    private readonly segmentsDir: string,
  ) {}

  /** Segments with start < `toMs` and end > `fromMs`, oldest first. */
  async overlapping(fromMs: number, toMs: number): Promise<SegmentRow[]> {
    const rows = await this.db.all<DbSegment>(
      `SELECT ${COLUMNS} FROM segments
       WHERE start_ms < ? AND end_ms > ? AND deleting = 0 ORDER BY start_ms, id`,
      [toMs, fromMs],
    );
    return rows.map((row) => this.#toRow(row));
  }

  /** Start of the oldest retained footage, or null when there is none. */
  async oldestStart(): Promise<number | null> {
    const row = await this.db.get<{ start: number | null }>(
      'SELECT MIN(start_ms) AS start FROM segments WHERE deleting = 0',
    );
    return row?.start ?? null;
  }

  async all(): Promise<SegmentRow[]> {
    const rows = await this.db.all<DbSegment>(
      `SELECT ${COLUMNS} FROM segments WHERE deleting = 0 ORDER BY start_ms, id`,
    );
    return rows.map((row) => this.#toRow(row));
  }

  async summary(): Promise<{
    count: number;
    bytes: number;
    oldest: number | null;
    newest: number | null;
    pinnedBytes: number;
  }> {
    const row = await this.db.get<{
      count: number;
      bytes: number | null;
      oldest: number | null;
      newest: number | null;
    }>(
      `SELECT COUNT(*) AS count, SUM(bytes) AS bytes, MIN(start_ms) AS oldest, MAX(end_ms) AS newest
       FROM segments WHERE deleting = 0`,
    );
    const pinned = await this.db.get<{ bytes: number | null }>(
      `SELECT SUM(bytes) AS bytes FROM segments
       WHERE deleting = 0 AND id IN (SELECT segment_id FROM pins)`,
    );
    return {
      count: row?.count ?? 0,
      bytes: row?.bytes ?? 0,
      oldest: row?.oldest ?? null,
      newest: row?.newest ?? null,
      pinnedBytes: pinned?.bytes ?? 0,
    };
  }

  #toRow(row: DbSegment): SegmentRow {
    return {
      id: row.id,
      runId: row.run_id,
      path: join(this.segmentsDir, row.file),
      startMs: row.start_ms,
      endMs: row.end_ms,
      ptsStart: row.pts_start,
      ptsEnd: row.pts_end,
      bytes: row.bytes,
      sha256: row.sha256,
    };
  }
}
