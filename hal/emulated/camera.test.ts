import { afterEach, describe, expect, it } from 'vitest';
import {
  type EmulatedCameraOptions,
  type EmulatedCameras,
  startEmulatedCameras,
} from '../../scripts/camera/emulated-camera.js';
import { connectionRefused, probeStreams } from '../../scripts/camera/test-support/media.js';
import { EmulatedCamera } from './camera.js';

const SETTINGS = {
  width: 640,
  height: 360,
  fps: 25,
  keyframeSeconds: 1,
  audio: true,
  motion: [{ start: 30, end: 35 }],
};

describe('EmulatedCamera', () => {
  const cameras: EmulatedCamera[] = [];

  afterEach(async () => {
    await Promise.all(cameras.splice(0).map((c) => c.close()));
  });

  /** A camera whose every start is recorded, so that a test can see what it started. */
  function recordingCamera() {
    const starts: { options: EmulatedCameraOptions; cameras: EmulatedCameras }[] = [];
    const camera = new EmulatedCamera({
      settings: SETTINGS,
      start: async (options) => {
        const started = await startEmulatedCameras(options);
        starts.push({ options: options ?? {}, cameras: started });
        return started;
      },
    });
    cameras.push(camera);
    return { camera, starts };
  }

  it('starts one camera with its settings on a free loopback port', async () => {
    const { camera, starts } = recordingCamera();
    const stream = await camera.open(AbortSignal.timeout(30_000));
    expect(starts).toHaveLength(1);
    expect(starts[0]?.options).toMatchObject({
      port: 0,
      cameras: 1,
      size: { width: 640, height: 360 },
      audio: true,
      motion: [{ start: 30, end: 35 }],
    });
    expect(new URL(stream.url).hostname).toBe('127.0.0.1');
    const streams = await probeStreams(stream.url);
    expect(streams.map((s) => s.codec_name).sort()).toEqual(['h264', 'pcm_mulaw']);
  }, 30_000);

  it('returns the running stream when opened twice', async () => {
    const { camera, starts } = recordingCamera();
    const [a, b] = await Promise.all([
      camera.open(AbortSignal.timeout(30_000)),
      camera.open(AbortSignal.timeout(30_000)),
    ]);
    expect(b.url).toBe(a.url);
    expect(starts).toHaveLength(1);
  });

  it('starts a new camera on open after the running one died', async () => {
    const { camera, starts } = recordingCamera();
    const first = await camera.open(AbortSignal.timeout(30_000));
    // The script ending on its own, as a crash would.
    await starts[0]?.cameras.stop();
    const port = Number(new URL(first.url).port);
    expect(await connectionRefused('127.0.0.1', port)).toBe(true);
    const second = await camera.open(AbortSignal.timeout(30_000));
    expect(starts).toHaveLength(2);
    expect((await probeStreams(second.url))[0]?.codec_name).toBe('h264');
  }, 30_000);

  it('closes without having opened', async () => {
    const { camera, starts } = recordingCamera();
    await camera.close();
    expect(starts).toHaveLength(0);
  });
});
