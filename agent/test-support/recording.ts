import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Database } from '../db/database.js';
import { agentPaths } from '../db/open.js';
import { SegmentIndex, type SegmentRow } from '../recording/segment-index.js';

const run = promisify(execFile);

/** A recording config for a test: an RTSP camera, data in `dataDir`, fast stall detection. */
export function recordingConfig(
  dataDir: string,
  url: string,
  overrides: Record<string, unknown> = {},
) {
  return {
    dataDir,
    device: { location: { lat: 52.37, lon: 4.89 } },
    camera: { source: 'rtsp', url },
    recording: { segmentSeconds: 2, stallSeconds: 6 },
    retention: { minFreeBytes: 0 },
    log: { level: 'debug' },
    ...overrides,
  };
}

/** Opens the agent's database beside a running agent (WAL allows a second reader). */
export async function withDatabase<T>(
  dataDir: string,
  fn: (db: Database) => Promise<T>,
): Promise<T> {
  // Fail while the agent has not created it: a test must never create it first.
  await access(agentPaths(dataDir).database);
  const db = await Database.open(agentPaths(dataDir).database);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export function indexedSegments(dataDir: string): Promise<SegmentRow[]> {
  return withDatabase(dataDir, (db) => new SegmentIndex(db, agentPaths(dataDir).segments).all());
}

export function motionEvents(dataDir: string) {
  return withDatabase(dataDir, (db) =>
    db.all<{ start_ms: number; end_ms: number | null; score: number }>(
      'SELECT start_ms, end_ms, score FROM motion_events ORDER BY start_ms',
    ),
  );
}

/** Container duration in seconds per ffprobe. */
export async function probeDuration(path: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'format=duration',
    '-of',
    'csv=p=0',
    path,
  ]);
  return Number(stdout.trim());
}

export const segmentsDir = (dataDir: string) => join(dataDir, 'segments');
