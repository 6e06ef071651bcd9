import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hal/emulated/clock.js';
import { EmulatedStorage } from '../../hal/emulated/storage.js';
import { LinuxStorage } from '../../hal/linux/storage.js';
import { Database } from '../db/database.js';
import { createLogger } from '../log.js';
import { tempDir } from '../test-support/cli.js';
import { segmentFileName } from './ffmpeg-args.js';
import { MotionStore } from './motion-store.js';
import { Pins } from './pins.js';
import { Retention } from './retention.js';
import { SegmentIndex } from './segment-index.js';
import { SegmentStore } from './segment-store.js';

const SEGMENT_BYTES = 1000;
const T0 = Date.UTC(2026, 5, 1, 12);

describe('segment store and retention', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let db: Database;
  let store: SegmentStore;
  let index: SegmentIndex;
  let clock: ManualClock;
  let storage: EmulatedStorage;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    await mkdir(join(dir, 'segments'));
    db = await Database.open(join(dir, 'test.db'));
    storage = new EmulatedStorage(10 ** 12);
    store = new SegmentStore(db, new LinuxStorage(), join(dir, 'segments'));
    index = new SegmentIndex(db, join(dir, 'segments'));
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    await db.close();
    await cleanup();
  });

  /** Writes `count` 2 s segments of run 1 starting at `fromMs` and indexes them. */
  async function record(count: number, fromMs: number, seq0 = 0): Promise<number[]> {
    const ids: number[] = [];
    await db.run('INSERT OR IGNORE INTO recorder_runs (id, started_at) VALUES (1, ?)', [fromMs]);
    for (let i = 0; i < count; i++) {
      const seq = seq0 + i;
      const file = segmentFileName(1, seq);
      await writeFile(join(dir, 'segments', file), Buffer.alloc(SEGMENT_BYTES, seq % 256));
      const added = await store.add({
        runId: 1,
        seq,
        file,
        startMs: fromMs + i * 2000,
        endMs: fromMs + (i + 1) * 2000,
        ptsStart: i * 2,
        ptsEnd: (i + 1) * 2,
      });
      ids.push(added.id);
    }
    return ids;
  }

  function retention(
    overrides: Partial<ConstructorParameters<typeof Retention>[0]['retention']> = {},
  ) {
    return new Retention({
      db,
      store,
      storage,
      clock,
      log: createLogger({ level: 'silent' }),
      retention: { motionDays: 7, bufferMinutes: 60, minFreeBytes: 0, ...overrides },
      motion: { preRollSeconds: 4, postRollSeconds: 4 },
    });
  }

  it('indexes hashes and sizes, and finds segments overlapping a range', async () => {
    await record(5, T0);
    const rows = await index.overlapping(T0 + 3000, T0 + 5000);
    expect(rows.map((row) => row.startMs)).toEqual([T0 + 2000, T0 + 4000]);
    expect(rows[0]?.bytes).toBe(SEGMENT_BYTES);
    expect(rows[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.sha256).not.toBe(rows[1]?.sha256);
  });

  it('keeps the quota, evicting footage without motion before footage with motion', async () => {
    await record(20, T0);
    await new MotionStore(db).open({
      start: T0 + 4000,
      end: T0 + 6000,
      score: 0.4,
      source: 'scene',
    });
    clock.advance(100_000);
    const outcome = await retention({ maxBytes: 8 * SEGMENT_BYTES }).enforce();
    expect(outcome.blocked).toBe(false);
    const left = await index.all();
    expect(left.reduce((sum, row) => sum + row.bytes, 0)).toBeLessThanOrEqual(8 * SEGMENT_BYTES);
    // Motion at 4–6 s with 4 s of roll either side keeps the segments from 0 to 10 s.
    expect(left.map((row) => row.startMs - T0).slice(0, 5)).toEqual([0, 2000, 4000, 6000, 8000]);
    expect(await readdir(join(dir, 'segments'))).toHaveLength(left.length);
  });

  it('expires the rolling buffer but keeps motion footage for motionDays', async () => {
    await record(10, T0);
    await new MotionStore(db).open({ start: T0, end: T0 + 1000, score: 0.4, source: 'scene' });
    clock.advance(2 * 3600_000);
    await retention({ bufferMinutes: 60 }).enforce();
    expect((await index.all()).map((row) => row.startMs - T0)).toEqual([0, 2000, 4000]);
    clock.advance(8 * 86_400_000);
    await retention({ bufferMinutes: 60 }).enforce();
    expect(await index.all()).toEqual([]);
  });

  it('never evicts pinned footage, and reports when only pinned footage is left', async () => {
    const ids = await record(6, T0);
    await new Pins(db).pin('request:abc', ids);
    clock.advance(60_000);
    const outcome = await retention({ maxBytes: 2 * SEGMENT_BYTES }).enforce();
    expect(outcome.blocked).toBe(true);
    expect(outcome.pinnedBytes).toBe(6 * SEGMENT_BYTES);
    expect(await index.all()).toHaveLength(6);
    await new Pins(db).unpin('request:abc');
    expect((await retention({ maxBytes: 2 * SEGMENT_BYTES }).enforce()).blocked).toBe(false);
    expect(await index.all()).toHaveLength(2);
  });

  it('never evicts the newest footage (the pre-roll): over quota with only that left, it is blocked', async () => {
    const ids = await record(10, T0);
    await new Pins(db).pin('request:abc', ids.slice(0, 5));
    clock.advance(20_000); // the unpinned half is the last 10 s
    const outcome = await retention({ maxBytes: 6 * SEGMENT_BYTES }).enforce();
    expect(outcome.blocked).toBe(true);
    expect(outcome.evicted).toBe(0);
    expect(await index.all()).toHaveLength(10);
    clock.advance(10_000);
    expect((await retention({ maxBytes: 6 * SEGMENT_BYTES }).enforce()).blocked).toBe(false);
  });

  it('evicts to keep the free-space reserve', async () => {
    await record(10, T0);
    clock.advance(60_000);
    storage.capacityBytes = 500;
    const outcome = await retention({ minFreeBytes: 3500 }).enforce();
    expect(outcome.evicted).toBe(3);
  });

  it('reconciles: orphans removed, interrupted deletions finished, missing files dropped', async () => {
    const ids = await record(6, T0);
    await writeFile(join(dir, 'segments', segmentFileName(1, 99)), 'orphan');
    await writeFile(join(dir, 'segments', 'notes.txt'), 'not ours');
    await db.run('UPDATE segments SET deleting = 1 WHERE id = ?', [ids[0] ?? 0]);
    await import('node:fs/promises').then((fs) =>
      fs.unlink(join(dir, 'segments', segmentFileName(1, 1))),
    );
    const report = await store.reconcile();
    expect(report).toMatchObject({
      orphansRemoved: 1,
      missingDropped: 1,
      suspectedUnmounted: false,
    });
    const files = (await readdir(join(dir, 'segments'))).sort();
    expect(files).toEqual(
      [...[2, 3, 4, 5].map((seq) => segmentFileName(1, seq)), 'notes.txt'].sort(),
    );
    expect((await index.all()).map((row) => row.id)).toEqual(ids.slice(2));
  });

  it('deletes nothing when most indexed files are missing (storage not mounted)', async () => {
    await record(6, T0);
    const fs = await import('node:fs/promises');
    for (const seq of [0, 1, 2, 3]) await fs.unlink(join(dir, 'segments', segmentFileName(1, seq)));
    const report = await store.reconcile();
    expect(report).toMatchObject({ suspectedUnmounted: true, missingCount: 4, missingDropped: 0 });
    expect(await index.all()).toHaveLength(6);
  });
});

describe('recovery after a crash', () => {
  it('indexes a closed segment the agent had not indexed, and drops the one in progress', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const segments = join(dir, 'segments');
      await mkdir(segments);
      const db = await Database.open(join(dir, 'test.db'));
      const probed: string[] = [];
      const store = new SegmentStore(db, new LinuxStorage(), segments, async (path) => {
        probed.push(path);
        return 2.04;
      });
      await db.run('INSERT INTO recorder_runs (id, started_at) VALUES (3, 0)');
      for (const seq of [0, 1, 2, 3])
        await writeFile(join(segments, segmentFileName(3, seq)), `s${seq}`);
      await store.add({
        runId: 3,
        seq: 0,
        file: segmentFileName(3, 0),
        startMs: T0,
        endMs: T0 + 2000,
        ptsStart: 0,
        ptsEnd: 2,
      });
      const report = await store.reconcile();
      expect(report).toMatchObject({ recovered: 2, orphansRemoved: 1 });
      const rows = await new SegmentIndex(db, segments).all();
      expect(rows.map((row) => [row.startMs - T0, row.endMs - T0])).toEqual([
        [0, 2000],
        [2000, 4040],
        [4040, 6080],
      ]);
      expect((await readdir(segments)).sort()).toEqual(
        [0, 1, 2].map((seq) => segmentFileName(3, seq)),
      );
      expect(probed).toHaveLength(2);
      await db.close();
    } finally {
      await cleanup();
    }
  });
});

describe('pins', () => {
  it('pins many segments at once, idempotently, and releases them by owner', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const db = await Database.open(join(dir, 'pins.db'));
      await db.run('INSERT INTO recorder_runs (id, started_at) VALUES (1, 0)');
      for (let i = 1; i <= 5; i++) {
        await db.run(
          "INSERT INTO segments (id, run_id, seq, file, start_ms, end_ms, pts_start, pts_end, bytes, sha256) VALUES (?, 1, ?, ?, 0, 1, 0, 1, 1, 'x')",
          [i, i, `1-00000${i}.ts`],
        );
      }
      const pins = new Pins(db);
      await pins.pin('request:a', [1, 2, 3]);
      await pins.pin('request:a', [3, 4]);
      await pins.pin('upload:b', [2]);
      expect(await pins.pinnedBy('request:a')).toEqual([1, 2, 3, 4]);
      await pins.unpin('request:a');
      expect(await pins.pinnedBy('request:a')).toEqual([]);
      expect(await pins.pinnedBy('upload:b')).toEqual([2]);
      await db.close();
    } finally {
      await cleanup();
    }
  });
});
