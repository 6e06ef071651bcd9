import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulatedCameras } from '../../scripts/camera/emulated-camera.js';
import { startEmulatedOnvif } from '../../scripts/camera/onvif/emulated-onvif.js';
import { runTool } from '../../scripts/camera/test-support/media.js';
import { Agent, hardwareFor } from '../compose.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { exited, runCli, startAgentProcess, tempDir, writeConfig } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import { indexedSegments, withDatabase } from '../test-support/recording.js';

/**
 * An ONVIF camera end to end: the agent asks the emulated camera's device service for its
 * stream, records it, and lands the camera's PullPoint motion events in the motion store.
 * Every line the agent logged, and what `status` printed, is searched for the password.
 */
const PASSWORD = 'Cam-Pa55word-Xq9';
const USERNAME = 'recorder';

function onvifConfig(dataDir: string, host: string, port: number) {
  return {
    dataDir,
    device: { location: { lat: 52.37, lon: 4.89 } },
    camera: { source: 'onvif', host, port, username: USERNAME, password: PASSWORD },
    motion: { source: 'onvif', preRollSeconds: 2, postRollSeconds: 2 },
    recording: { segmentSeconds: 2, stallSeconds: 6 },
    retention: { minFreeBytes: 0 },
    log: { level: 'debug' },
  };
}

function onvifEvents(dataDir: string) {
  return withDatabase(dataDir, (db) =>
    db.all<{ start_ms: number; end_ms: number | null; source: string }>(
      'SELECT start_ms, end_ms, source FROM motion_events ORDER BY start_ms',
    ),
  );
}

async function videoWidth(file: string): Promise<number> {
  const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width'];
  const result = await runTool('ffprobe', [...args, '-of', 'json', file], 20_000);
  if (result.code !== 0) throw new Error(`ffprobe failed on ${file}: ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as { streams?: { width?: number }[] };
  return parsed.streams?.[0]?.width ?? 0;
}

describe('an ONVIF camera with ONVIF motion', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('threshold run records it and stores its motion events within 2 s of the script, across a fault', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const windows = [
      { start: 14, end: 18 },
      { start: 34, end: 38 },
    ];
    const camera = await startEmulatedCameras({
      size: { width: 640, height: 360 },
      fps: 15,
      motion: windows,
      onvif: { username: USERNAME, password: PASSWORD },
    });
    cleanups.push(() => camera.stop());
    const device = camera.onvif!.devices[0]!;
    const dataDir = join(dir, 'data');
    const configPath = await writeConfig(dir, onvifConfig(dataDir, device.host, device.port));
    const agent = startAgentProcess(configPath);
    cleanups.push(async () => {
      agent.child.kill('SIGKILL');
    });

    await waitFor(async () => (await indexedSegments(dataDir).catch(() => [])).length >= 3, {
      timeoutMs: 45_000,
      what: 'recorded segments',
    });
    await waitFor(
      async () => (await onvifEvents(dataDir).catch(() => [])).some((row) => row.end_ms !== null),
      { timeoutMs: 45_000, intervalMs: 250, what: 'the first closed motion event' },
    );
    // Between the windows the camera's event service fails for two seconds: every
    // subscription is dropped and none can be made. The agent must subscribe again soon.
    const onvif = camera.onvif!;
    expect(onvif.subscriptions(1)).toBe(1);
    onvif.setFaulting(true);
    expect(onvif.subscriptions(1)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    onvif.setFaulting(false);
    const repaired = Date.now();
    await waitFor(() => onvif.subscriptions(1) === 1, {
      timeoutMs: 15_000,
      what: 'a new subscription',
    });
    expect(Date.now() - repaired).toBeLessThanOrEqual(10_000);
    const events = await waitFor(
      async () => {
        const rows = await onvifEvents(dataDir).catch(() => []);
        return rows.filter((row) => row.end_ms !== null).length >= 2 && rows;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'two closed motion events' },
    );
    expect(events).toHaveLength(2);
    for (const [index, window] of windows.entries()) {
      const event = events[index]!;
      expect(event.source).toBe('onvif');
      expect(
        Math.abs(event.start_ms - (camera.startedAt + window.start * 1000)),
      ).toBeLessThanOrEqual(2000);
      expect(
        Math.abs((event.end_ms ?? 0) - (camera.startedAt + window.end * 1000)),
      ).toBeLessThanOrEqual(2000);
    }
    const status = await runCli(['status', '--config', configPath, '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      recording: { state: 'recording' },
      motionEvents: 2,
    });

    agent.child.kill('SIGTERM');
    expect((await exited(agent.child)).code).toBe(143);
    const output = `${agent.log()}\n${status.stdout}\n${status.stderr}`;
    // The scan is not vacuous: the log does name the camera and its events.
    expect(agent.log()).toContain('ONVIF events subscribed');
    expect(agent.log()).toContain('motion ended');
    expect(output).not.toContain(PASSWORD);
  }, 120_000);

  it('follows a stream address that moved, at the recorder restart the loss causes', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    // Two RTSP servers of different sizes; the ONVIF device service names the first.
    const first = await startEmulatedCameras({ size: { width: 320, height: 240 }, fps: 10 });
    cleanups.push(() => first.stop());
    const second = await startEmulatedCameras({ size: { width: 480, height: 270 }, fps: 10 });
    cleanups.push(() => second.stop());
    const onvif = await startEmulatedOnvif({
      host: '127.0.0.1',
      rtspUrls: [first.urls[0]!],
      startedAt: first.startedAt,
      motion: [],
      fps: 10,
      username: USERNAME,
      password: PASSWORD,
    });
    cleanups.push(() => onvif.stop());
    const device = onvif.devices[0]!;

    const lines: string[] = [];
    const log = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    const dataDir = join(dir, 'data');
    const config = await loadConfig(
      await writeConfig(dir, onvifConfig(dataDir, device.host, device.port)),
    );
    const agent = await Agent.create(config, hardwareFor(config, log), log);
    const abort = new AbortController();
    let stopped: Promise<void> | undefined;
    const stop = () => {
      abort.abort();
      stopped ??= agent.stop();
      return stopped;
    };
    cleanups.push(stop);
    await agent.start(abort.signal);

    const before = await waitFor(
      async () => (await indexedSegments(dataDir)).filter((s) => s.endMs > 0).at(-1),
      { timeoutMs: 45_000, what: 'a segment of the first stream' },
    );
    expect(await videoWidth(before.path)).toBe(320);

    // The camera's stream moves: the old address goes dark, the service names the new one.
    onvif.setStreamUri(1, second.urls[0]!);
    const moved = Date.now();
    await first.stop();
    const after = await waitFor(
      async () => (await indexedSegments(dataDir)).find((s) => s.startMs > moved),
      { timeoutMs: 45_000, what: 'a segment after the move' },
    );
    expect(await videoWidth(after.path)).toBe(480);
    expect(onvif.subscriptions(1)).toBe(1);

    await stop();
    const logged = lines.join('');
    expect(logged).toContain('recorder run ended');
    expect(logged).not.toContain(PASSWORD);
  }, 120_000);
});
