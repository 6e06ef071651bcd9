import type { MotionEvent } from '../../hal/interfaces.js';
import type { Database } from '../db/database.js';

export interface StoredMotionEvent extends MotionEvent {
  id: number;
}

/** The `motion_events` table. An event is stored when it opens, so a crash keeps it. */
export class MotionStore {
  constructor(private readonly db: Database) {}

  async open(event: MotionEvent): Promise<number> {
    const result = await this.db.run(
      'INSERT INTO motion_events (start_ms, end_ms, score, source) VALUES (?, ?, ?, ?)',
      [event.start, event.end, event.score, event.source],
    );
    return result.lastId;
  }

  async close(id: number, endMs: number, score: number): Promise<void> {
    await this.db.run('UPDATE motion_events SET end_ms = ?, score = MAX(score, ?) WHERE id = ?', [
      endMs,
      score,
      id,
    ]);
  }

  /** Events left open by a crash end where the footage they lie in ends. */
  async closeDangling(fallbackEndMs: (startMs: number) => number): Promise<number> {
    const open = await this.db.all<{ id: number; start_ms: number }>(
      'SELECT id, start_ms FROM motion_events WHERE end_ms IS NULL',
    );
    for (const row of open) {
      await this.db.run('UPDATE motion_events SET end_ms = ? WHERE id = ?', [
        Math.max(row.start_ms, fallbackEndMs(row.start_ms)),
        row.id,
      ]);
    }
    return open.length;
  }

  /** Events overlapping [fromMs, toMs], oldest first. */
  async overlapping(fromMs: number, toMs: number): Promise<StoredMotionEvent[]> {
    const rows = await this.db.all<{
      id: number;
      start_ms: number;
      end_ms: number | null;
      score: number;
      source: MotionEvent['source'];
    }>(
      `SELECT id, start_ms, end_ms, score, source FROM motion_events
       WHERE start_ms <= ? AND (end_ms IS NULL OR end_ms >= ?) ORDER BY start_ms`,
      [toMs, fromMs],
    );
    return rows.map((row) => ({
      id: row.id,
      start: row.start_ms,
      end: row.end_ms,
      score: row.score,
      source: row.source,
    }));
  }

  async count(): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM motion_events');
    return row?.n ?? 0;
  }

  /** Forgets events that ended before `beforeMs` (their footage is gone by then). */
  async prune(beforeMs: number): Promise<void> {
    await this.db.run('DELETE FROM motion_events WHERE end_ms IS NOT NULL AND end_ms < ?', [
      beforeMs,
    ]);
  }
}
