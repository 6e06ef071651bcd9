import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulatedCameras } from '../../scripts/camera/emulated-camera.js';
import { runCli, startAgentProcess, tempDir, writeConfig } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import {
  indexedSegments,
  motionEvents,
  recordingConfig,
  segmentsDir,
  withDatabase,
} from '../test-support/recording.js';

const MAX_BYTES = 4_000_000;
const RECORD_MS = 5 * 60_000;

async function bytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  for (const file of await readdir(dir)) {
    total += await stat(join(dir, file)).then(
      (info) => info.size,
      () => 0,
    );
  }
  return total;
}

describe('retention under a small quota', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('stays under maxBytes for 5 minutes, keeps motion and pinned footage, pauses when only pinned footage is left', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const camera = await startEmulatedCameras({
      size: { width: 1280, height: 720 },
      motion: [{ start: 30, end: 34 }],
    });
    cleanups.push(() => camera.stop());
    const dataDir = join(dir, 'data');
    const configPath = await writeConfig(
      dir,
      recordingConfig(dataDir, camera.urls[0] ?? '', {
        retention: { maxBytes: MAX_BYTES, minFreeBytes: 0, bufferMinutes: 60, motionDays: 7 },
        motion: { preRollSeconds: 2, postRollSeconds: 2 },
        log: { level: 'warn' },
      }),
    );
    const agent = startAgentProcess(configPath);
    cleanups.push(async () => {
      agent.child.kill('SIGKILL');
    });

    // Hold two early segments, as a pending request would.
    const held = await waitFor(
      async () => {
        const rows = await indexedSegments(dataDir).catch(() => []);
        return rows.length >= 4 ? rows.slice(2, 4) : undefined;
      },
      { timeoutMs: 45_000, what: 'early segments' },
    );
    await withDatabase(dataDir, async (db) => {
      for (const row of held) {
        await db.run("INSERT INTO pins (owner, segment_id) VALUES ('request:test', ?)", [row.id]);
      }
    });

    const started = Date.now();
    let largest = 0;
    while (Date.now() - started < RECORD_MS) {
      largest = Math.max(largest, await bytesOnDisk(segmentsDir(dataDir)));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(largest).toBeGreaterThan(MAX_BYTES / 2);
    expect(largest).toBeLessThanOrEqual(MAX_BYTES);

    const rows = await indexedSegments(dataDir);
    const motionStart = camera.startedAt + 30_000;
    const motionEnd = camera.startedAt + 34_000;
    // Footage around the motion outlived footage recorded after it.
    const events = await motionEvents(dataDir);
    expect(
      rows.some((row) => row.startMs < motionEnd && row.endMs > motionStart),
      `motion events: ${JSON.stringify(events)}; footage from ${rows[0]?.startMs}; motion ${motionStart}–${motionEnd}`,
    ).toBe(true);
    const oldestUnpinnedStill = rows.find(
      (row) => row.endMs < motionStart - 5000 && !held.some((h) => h.id === row.id),
    );
    expect(oldestUnpinnedStill).toBeUndefined();
    expect(
      rows.filter((row) => row.startMs > motionEnd + 5000 && row.endMs < Date.now() - 120_000),
    ).toEqual([]);
    for (const row of held) expect(rows.map((r) => r.id)).toContain(row.id);

    // Now requests hold everything as it is recorded: recording must pause and say why.
    const pinning = setInterval(() => {
      void withDatabase(dataDir, (db) =>
        db.run(
          "INSERT OR IGNORE INTO pins (owner, segment_id) SELECT 'request:flood', id FROM segments",
        ),
      ).catch(() => undefined);
    }, 300);
    try {
      const paused = await waitFor(
        async () => {
          const status = JSON.parse(
            (await runCli(['status', '--config', configPath, '--json'])).stdout,
          );
          return status.recording.state === 'paused' ? status : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 1000, what: 'recording to pause' },
      );
      expect(paused.recording.pauseReason).toMatch(/held for pending requests/);
    } finally {
      clearInterval(pinning);
    }

    // Releasing the holds lets recording resume.
    await withDatabase(dataDir, (db) => db.run("DELETE FROM pins WHERE owner = 'request:flood'"));
    await waitFor(
      async () => {
        const status = JSON.parse(
          (await runCli(['status', '--config', configPath, '--json'])).stdout,
        );
        return status.recording.state === 'recording';
      },
      // As long as the pause may take: each probe is a `threshold status` child process, slow
      // on a loaded machine.
      { timeoutMs: 60_000, intervalMs: 1000, what: 'recording to resume' },
    );
  }, 480_000);
});
