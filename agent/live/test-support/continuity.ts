import type { Database } from '../../db/database.js';

/**
 * What a test asks of the recording while live view runs: how many recorder runs there
 * were (a restart is a new run), and the largest gap between consecutive segments.
 */
export interface Continuity {
  runs: number;
  segments: number;
  /** Wall-clock ms between a segment's end and the next one's start, at most. */
  maxGapMs: number;
  /** The last segment's end. */
  lastEndMs: number;
}

export async function continuity(db: Database, sinceMs = 0): Promise<Continuity> {
  const runs = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM recorder_runs');
  const rows = await db.all<{ start_ms: number; end_ms: number }>(
    'SELECT start_ms, end_ms FROM segments WHERE end_ms >= ? ORDER BY start_ms',
    [sinceMs],
  );
  let maxGapMs = 0;
  for (let i = 1; i < rows.length; i++) {
    const gap = (rows[i]?.start_ms ?? 0) - (rows[i - 1]?.end_ms ?? 0);
    maxGapMs = Math.max(maxGapMs, gap);
  }
  return {
    runs: runs?.n ?? 0,
    segments: rows.length,
    maxGapMs,
    lastEndMs: rows.at(-1)?.end_ms ?? 0,
  };
}
