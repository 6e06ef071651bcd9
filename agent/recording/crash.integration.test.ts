import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulatedCameras } from '../../scripts/camera/emulated-camera.js';
import { exited, startAgentProcess, tempDir, writeConfig } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import {
  indexedSegments,
  recordingConfig,
  segmentsDir,
  withDatabase,
} from '../test-support/recording.js';
import { parseSegmentFileName } from './ffmpeg-args.js';

const KILLS = 20;

describe('kill -9 while recording', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it(`keeps the index and the directory in agreement across ${KILLS} kills at random moments`, async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
    console.log(`crash test seed: ${seed} (set CRASH_SEED to replay)`);
    let state = seed;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };

    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const camera = await startEmulatedCameras({ size: { width: 1280, height: 720 } });
    cleanups.push(() => camera.stop());
    const dataDir = join(dir, 'data');
    const configPath = await writeConfig(
      dir,
      recordingConfig(dataDir, camera.urls[0] ?? '', { log: { level: 'warn' } }),
    );

    let onDiskAtKill: string[] = [];
    let killedRun = -1;
    for (let round = 0; round <= KILLS; round++) {
      const before = (await indexedSegments(dataDir).catch(() => [])).length;
      const agent = startAgentProcess(configPath);
      // Recording again: a segment indexed by this agent.
      const rows = await waitFor(
        async () => {
          const now = await indexedSegments(dataDir);
          const newest = now.at(-1);
          return newest && newest.runId > killedRun && now.length > before ? now : undefined;
        },
        { timeoutMs: 30_000, what: `round ${round}: recording after restart` },
      );
      const currentRun = rows.at(-1)?.runId ?? -1;

      // The index and the directory agree: every row names a file; every file of an
      // earlier run is indexed (the running ffmpeg may be writing one of its own).
      const files = await readdir(segmentsDir(dataDir));
      const indexed = new Set(rows.map((row) => row.path.split('/').at(-1)));
      for (const row of rows) expect(files, `round ${round}`).toContain(row.path.split('/').at(-1));
      for (const file of files) {
        const id = parseSegmentFileName(file);
        expect(id, `round ${round}: unexpected file ${file}`).not.toBeNull();
        if (id && id.runId !== currentRun)
          expect(indexed.has(file), `round ${round}: ${file} not indexed`).toBe(true);
      }
      // At most the segment in progress at the kill was lost.
      const lost = onDiskAtKill.filter((file) => !indexed.has(file));
      expect(lost.length, `round ${round}: lost ${lost.join(', ')}`).toBeLessThanOrEqual(1);
      const integrity = await withDatabase(dataDir, (db) =>
        db.get<{ integrity_check: string }>('PRAGMA integrity_check'),
      );
      expect(integrity?.integrity_check).toBe('ok');

      if (round === KILLS) {
        agent.child.kill('SIGTERM');
        await exited(agent.child);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 3000)));
      agent.child.kill('SIGKILL');
      await exited(agent.child);
      killedRun = currentRun;
      onDiskAtKill = (await readdir(segmentsDir(dataDir))).filter((file) =>
        parseSegmentFileName(file),
      );
    }
  }, 400_000);
});
