import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  EmulatedCameraError,
  type EmulatedCameras,
  startEmulatedCameras,
} from './emulated-camera.js';
import {
  connectionRefused,
  probeStreams,
  recordCopyArgs,
  runTool,
  videoPackets,
} from './test-support/media.js';

const SMALL = { width: 640, height: 360 };

describe('startEmulatedCameras: two cameras with audio', () => {
  let cameras: EmulatedCameras;
  let before: number;
  let after: number;

  beforeAll(async () => {
    before = Date.now();
    cameras = await startEmulatedCameras({ cameras: 2, audio: true });
    after = Date.now();
  });

  afterAll(async () => {
    await cameras.stop();
  });

  it('reports its port, one URL per camera and when it started', () => {
    expect(cameras.port).toBeGreaterThan(0);
    expect(cameras.urls).toEqual([
      `rtsp://127.0.0.1:${cameras.port}/cam1`,
      `rtsp://127.0.0.1:${cameras.port}/cam2`,
    ]);
    expect(cameras.startedAt).toBeGreaterThanOrEqual(before);
    expect(cameras.startedAt).toBeLessThanOrEqual(after);
  });

  it.each([
    [1, 1920, 1080],
    [2, 1280, 720],
  ])('serves camera %i as %ix%i H.264 at 25 fps without B-frames', async (n, width, height) => {
    const streams = await probeStreams(cameras.urls[n - 1] as string);
    const video = streams.find((s) => s.codec_type === 'video');
    expect(video).toMatchObject({
      codec_name: 'h264',
      width,
      height,
      r_frame_rate: '25/1',
      has_b_frames: 0,
    });
  });

  it('serves several clients of one camera at once', async () => {
    const url = cameras.urls[1] as string;
    const [a, b] = await Promise.all([probeStreams(url), probeStreams(url)]);
    expect(a.find((s) => s.codec_type === 'video')?.width).toBe(1280);
    expect(b.find((s) => s.codec_type === 'video')?.width).toBe(1280);
  });

  it('sends G.711 mu-law audio at 8 kHz, mono', async () => {
    const streams = await probeStreams(cameras.urls[0] as string);
    const audio = streams.find((s) => s.codec_type === 'audio');
    expect(audio).toMatchObject({ codec_name: 'pcm_mulaw', sample_rate: '8000', channels: 1 });
  });
});

describe('startEmulatedCameras', () => {
  const running: EmulatedCameras[] = [];
  const clients: ChildProcess[] = [];
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'threshold-camera-'));
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.kill('SIGKILL');
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function start(options: Parameters<typeof startEmulatedCameras>[0]) {
    const cameras = await startEmulatedCameras(options);
    running.push(cameras);
    return cameras;
  }

  it('takes one size and frame rate for all cameras, without audio unless asked', async () => {
    const cameras = await start({ cameras: 2, size: SMALL, fps: 15 });
    for (const url of cameras.urls) {
      const streams = await probeStreams(url);
      expect(streams).toHaveLength(1);
      expect(streams[0]).toMatchObject({ codec_name: 'h264', ...SMALL, r_frame_rate: '15/1' });
    }
  });

  it.each([
    [1, 25],
    [1.2, 30],
  ])(
    'puts a keyframe every %s s (%i frames at 25 fps)',
    async (seconds, frames) => {
      const cameras = await start({ size: SMALL, keyframeSeconds: seconds });
      const file = join(dir, `gop-${frames}.ts`);
      const args = recordCopyArgs(cameras.urls[0] as string, 5, file);
      const recorded = await runTool('ffmpeg', args, 30_000);
      expect(recorded.code, recorded.stderr).toBe(0);
      const packets = await videoPackets(file);
      const keyIndexes = packets.flatMap((p, i) => (p.key ? [i] : []));
      expect(keyIndexes.length).toBeGreaterThanOrEqual(4);
      // Whole groups between keyframes: exact frame counts, no extra keyframes.
      for (let k = 1; k < keyIndexes.length; k++) {
        expect((keyIndexes[k] as number) - (keyIndexes[k - 1] as number)).toBe(frames);
      }
      // And exact times from the second keyframe on: ffmpeg's RTSP demuxer leaves the very
      // first packet without a timestamp, so the first group's start is a guess.
      for (let k = 2; k < keyIndexes.length; k++) {
        const gap =
          (packets[keyIndexes[k] as number]?.time ?? 0) -
          (packets[keyIndexes[k - 1] as number]?.time ?? 0);
        expect(gap).toBeCloseTo(seconds, 3);
      }
    },
    40_000,
  );

  it('takes the same port again right after stop, while a client was pulling', async () => {
    const first = await start({ size: SMALL });
    const url = first.urls[0] as string;
    // A recorder pulling the stream leaves connections that the restart must not trip on.
    const client = spawn('ffmpeg', recordCopyArgs(url, 60, join(dir, 'pull.ts')), {
      stdio: 'ignore',
    });
    clients.push(client);
    expect((await probeStreams(url))[0]?.codec_name).toBe('h264');
    const stopStarted = Date.now();
    await first.stop();
    expect(Date.now() - stopStarted).toBeLessThan(2000);
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(await connectionRefused('127.0.0.1', first.port)).toBe(true);

    const second = await start({ size: SMALL, port: first.port });
    expect(second.port).toBe(first.port);
    expect((await probeStreams(second.urls[0] as string))[0]?.codec_name).toBe('h264');
  }, 40_000);

  it('stops once only, however often stop is called', async () => {
    const cameras = await start({ size: SMALL });
    await Promise.all([cameras.stop(), cameras.stop()]);
    await cameras.stop();
    expect(await connectionRefused('127.0.0.1', cameras.port)).toBe(true);
  });

  it('fails with the script stderr when the port is taken', async () => {
    const first = await start({ size: SMALL });
    const attempt = startEmulatedCameras({ size: SMALL, port: first.port });
    await expect(attempt).rejects.toThrow(EmulatedCameraError);
    await expect(attempt).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+.*in use/);
  });

  it('fails clearly when the interpreter is missing', async () => {
    const attempt = startEmulatedCameras({ pythonPath: join(dir, 'no-such-python') });
    await expect(attempt).rejects.toThrow(/cannot run .*no-such-python.*ENOENT/);
  });

  it('fails when no ready line comes in time', async () => {
    // A script that hangs in start-up, saying nothing.
    const script = join(dir, 'silent.py');
    await writeFile(script, 'import time\ntime.sleep(30)\n');
    const attempt = startEmulatedCameras({ scriptPath: script, readyTimeoutMs: 300 });
    await expect(attempt).rejects.toThrow('no ready line within 300 ms');
  });

  it('fails with the first line when it is not the ready line', async () => {
    const script = join(dir, 'chatty.py');
    await writeFile(script, 'print("hello")\nimport time\ntime.sleep(30)\n');
    const attempt = startEmulatedCameras({ scriptPath: script });
    await expect(attempt).rejects.toThrow('unexpected first line');
  });

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(startEmulatedCameras({ signal: controller.signal })).rejects.toThrow('cancelled');
  });
});
