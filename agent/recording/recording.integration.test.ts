import { createHash } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type EmulatedCameras,
  startEmulatedCameras,
} from '../../scripts/camera/emulated-camera.js';
import { exited, runCli, startAgentProcess, tempDir, writeConfig } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import {
  indexedSegments,
  motionEvents,
  probeDuration,
  recordingConfig,
  segmentsDir,
} from '../test-support/recording.js';

/**
 * The recording buffer against the real parts: GStreamer's RTSP server as the camera,
 * ffmpeg recording, SQLite on disk, the agent as its own process.
 */
describe('recording an emulated camera', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('records 60 s into ~30 contiguous, hashed segments, finds the scripted motion, and stops on SIGTERM', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    // Motion windows in seconds after the camera starts; the scene is still otherwise.
    const windows = [
      { start: 24, end: 29 },
      { start: 44, end: 48 },
    ];
    const camera = await startEmulatedCameras({ cameras: 1, keyframeSeconds: 1, motion: windows });
    cleanups.push(() => camera.stop());
    const url = camera.urls[0] ?? '';
    const dataDir = join(dir, 'data');
    const configPath = await writeConfig(dir, recordingConfig(dataDir, url));
    const agent = startAgentProcess(configPath);
    cleanups.push(async () => {
      agent.child.kill('SIGKILL');
    });

    const first = await waitFor(async () => (await indexedSegments(dataDir).catch(() => []))[0], {
      timeoutMs: 45_000,
      what: 'the first segment',
    });
    await waitFor(
      async () => {
        const rows = await indexedSegments(dataDir);
        return (rows.at(-1)?.endMs ?? 0) - first.startMs >= 60_000;
      },
      { timeoutMs: 80_000, intervalMs: 500, what: '60 s of footage' },
    );

    // Motion is indexed as it happens, not when ffmpeg exits.
    expect((await motionEvents(dataDir)).length).toBeGreaterThan(0);

    const stopAsked = Date.now();
    agent.child.kill('SIGTERM');
    const exit = await exited(agent.child);
    expect(Date.now() - stopAsked).toBeLessThan(5000);
    expect(exit.code).toBe(143);

    const from = new Date(first.startMs).toISOString();
    const to = new Date(first.startMs + 60_000).toISOString();
    const listed = await runCli([
      'segments',
      '--config',
      configPath,
      '--from',
      from,
      '--to',
      to,
      '--json',
    ]);
    expect(listed.code).toBe(0);
    const segments = JSON.parse(listed.stdout) as {
      id: number;
      start: string;
      end: string;
      bytes: number;
      sha256: string;
      path: string;
    }[];
    expect(segments.length).toBeGreaterThanOrEqual(29);
    expect(segments.length).toBeLessThanOrEqual(32);
    for (const segment of segments) {
      expect(segment.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const bytes = await readFile(segment.path);
      expect(bytes.length).toBe(segment.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(segment.sha256);
    }
    for (let i = 1; i < segments.length; i++) {
      const gap = Date.parse(segments[i]?.start ?? '') - Date.parse(segments[i - 1]?.end ?? '');
      expect(Math.abs(gap)).toBeLessThanOrEqual(200);
    }

    // Joined byte for byte, the segments are one valid stream as long as the index says.
    const joined = join(dir, 'joined.ts');
    for (const segment of segments) await appendFile(joined, await readFile(segment.path));
    const span =
      (Date.parse(segments.at(-1)?.end ?? '') - Date.parse(segments[0]?.start ?? '')) / 1000;
    expect(Math.abs((await probeDuration(joined)) - span)).toBeLessThanOrEqual(0.5);

    // Motion: each scripted window is found (±2 s), and nothing is found where the scene is still.
    const events = await motionEvents(dataDir);
    const wall = windows.map((w) => ({
      start: camera.startedAt + w.start * 1000,
      end: camera.startedAt + w.end * 1000,
    }));
    for (const window of wall) {
      const hit = events.find(
        (e) => e.start_ms <= window.end + 2000 && (e.end_ms ?? 0) >= window.start - 2000,
      );
      expect(hit, `motion near ${new Date(window.start).toISOString()}`).toBeDefined();
      expect(Math.abs((hit?.start_ms ?? 0) - window.start)).toBeLessThanOrEqual(2000);
      expect(Math.abs((hit?.end_ms ?? 0) - window.end)).toBeLessThanOrEqual(2000);
    }
    for (const event of events) {
      const explained = wall.some(
        (w) => event.start_ms <= w.end + 2000 && (event.end_ms ?? 0) >= w.start - 2000,
      );
      expect(explained, `unexpected motion at ${new Date(event.start_ms).toISOString()}`).toBe(
        true,
      );
    }
  }, 150_000);

  it('survives the camera going away for 10 s: resumes by itself, the gap in the index, no motion in a still scene', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    let camera: EmulatedCameras = await startEmulatedCameras({
      size: { width: 1280, height: 720 },
    });
    cleanups.push(() => camera.stop());
    const dataDir = join(dir, 'data');
    const configPath = await writeConfig(dir, recordingConfig(dataDir, camera.urls[0] ?? ''));
    const agent = startAgentProcess(configPath);
    cleanups.push(async () => {
      agent.child.kill('SIGKILL');
    });
    await waitFor(async () => (await indexedSegments(dataDir).catch(() => [])).length >= 3, {
      timeoutMs: 45_000,
      what: 'three segments',
    });

    await camera.stop();
    const lostAt = Date.now();
    // The outage itself: the camera stays away for 10 s of wall time.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    camera = await startEmulatedCameras({ port: camera.port, size: { width: 1280, height: 720 } });
    const backAt = Date.now();

    const resumed = await waitFor(
      async () => (await indexedSegments(dataDir)).find((row) => row.startMs >= backAt - 1000),
      { timeoutMs: 45_000, what: 'recording to resume' },
    );
    await waitFor(
      async () => (await indexedSegments(dataDir)).some((row) => row.startMs > resumed.endMs),
      {
        timeoutMs: 10_000,
        what: 'a second segment after the outage',
      },
    );
    expect(agent.child.exitCode).toBeNull();

    const rows = await indexedSegments(dataDir);
    const gaps = rows
      .slice(1)
      .map((row, i) => ({ gap: row.startMs - (rows[i]?.endMs ?? 0), at: row.startMs }));
    const outage = gaps.filter((g) => g.gap > 5000);
    expect(outage).toHaveLength(1);
    expect(outage[0]?.gap).toBeGreaterThanOrEqual(8000);
    expect(outage[0]?.at).toBeGreaterThanOrEqual(lostAt);
    expect(new Set(rows.map((row) => row.runId)).size).toBeGreaterThanOrEqual(2);

    const status = await runCli(['status', '--config', configPath, '--json']);
    const report = JSON.parse(status.stdout);
    expect(report.recording.state).toBe('recording');
    expect(report.gaps).toBeGreaterThanOrEqual(1);
    expect(report.lastError.message).toMatch(/camera_lost|stalled|ffmpeg_failed/);
    expect(await motionEvents(dataDir)).toEqual([]);
  }, 90_000);

  it("records into a data directory whose path holds %, ffmpeg's pattern character", async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const camera = await startEmulatedCameras({ size: { width: 640, height: 360 } });
    cleanups.push(() => camera.stop());
    // Each kind of %: a field ffmpeg would fill (%d, %06d) and one it would refuse (a lone %).
    const dataDir = join(dir, '100%d %06d 50%');
    const configPath = await writeConfig(dir, recordingConfig(dataDir, camera.urls[0] ?? ''));
    const agent = startAgentProcess(configPath);
    cleanups.push(async () => {
      agent.child.kill('SIGKILL');
    });

    const rows = await waitFor(
      async () => {
        const indexed = await indexedSegments(dataDir).catch(() => []);
        return indexed.length >= 3 && indexed;
      },
      { timeoutMs: 45_000, what: 'three segments' },
    );
    for (const row of rows) {
      expect(dirname(row.path)).toBe(segmentsDir(dataDir));
      const bytes = await readFile(row.path);
      expect(bytes.length).toBe(row.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(row.sha256);
    }
    agent.child.kill('SIGTERM');
    expect((await exited(agent.child)).code).toBe(143);
    expect(agent.log()).not.toMatch(/Invalid segment filename template/);
  }, 90_000);
});
