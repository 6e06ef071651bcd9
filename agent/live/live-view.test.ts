import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CameraSource } from '../../hal/interfaces.js';
import { createLogger } from '../log.js';
import { waitFor } from '../test-support/poll.js';
import { classifyPublisherEnd, LiveView, publisherArgs } from './live-view.js';

const run = promisify(execFile);
const log = createLogger({ level: 'silent' });
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threshold-live-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the publisher ffmpeg', () => {
  it('copies the video, and carries sound only when the owner turned it on', () => {
    const silent = publisherArgs('rtsp://cam/1', 'rtmp://127.0.0.1:1/live/x', false);
    expect(silent.join(' ')).toContain('-map 0:v:0 -c:v copy -an -f flv');
    expect(silent).not.toContain('0:a:0?');
    const sound = publisherArgs('rtsp://cam/1', 'rtmp://127.0.0.1:1/live/x', true);
    expect(sound.join(' ')).toContain('-map 0:v:0 -c:v copy -map 0:a:0? -c:a aac');
    expect(sound).not.toContain('-an');
    // Never a video encoder: live view costs the camera no encoding.
    for (const args of [silent, sound]) {
      expect(args[args.indexOf('-c:v') + 1]).toBe('copy');
    }
    expect(publisherArgs('a', 'b', false, true).join(' ')).toContain(
      '-analyzeduration 0 -probesize 4096 -progress pipe:1 -stats_period 0.2 -i a',
    );
    expect(silent).not.toContain('-analyzeduration');
  });

  it('tells a camera that does not answer from one that refuses or sends H.265', async () => {
    // Port 1 (tcpmux): nothing listens there.
    const port = 1;
    const refused = await run('ffmpeg', [
      ...publisherArgs(`rtsp://127.0.0.1:${port}/cam`, 'rtmp://127.0.0.1:1/live/x', false),
    ]).then(
      () => '',
      (err: { stderr: string }) => err.stderr,
    );
    expect(refused).toMatch(/Connection refused/);
    expect(classifyPublisherEnd(refused)).toBe('camera_unavailable');
    expect(classifyPublisherEnd('method DESCRIBE failed: 401 Unauthorized')).toBe('camera_login');
    expect(classifyPublisherEnd('method SETUP failed: 453 Not Enough Bandwidth')).toBe(
      'camera_busy',
    );
    expect(classifyPublisherEnd('Video codec hevc not compatible with flv')).toBe(
      'unsupported_video',
    );
    expect(classifyPublisherEnd('rtmp://127.0.0.1:1/live/x: Connection refused')).toBe(
      'media_server_down',
    );
  });
});

describe('live view without a camera to show', () => {
  const unreachable = (calls: { n: number }): CameraSource => ({
    kind: 'rtsp',
    open: async () => {
      calls.n++;
      throw new Error('connect ECONNREFUSED 192.0.2.1:554');
    },
    close: async () => undefined,
  });

  it('refuses when off, and says why in plain words when the camera does not answer', async () => {
    const off = new LiveView({
      camera: unreachable({ n: 0 }),
      ffmpegPath: 'ffmpeg',
      dir,
      log,
      settings: { enabled: false, idleStopMs: 200, maxViewers: 1, readyTimeoutMs: 1000 },
      audio: async () => false,
    });
    await expect(off.attach(new AbortController().signal)).rejects.toMatchObject({ code: 'off' });
    expect(off.status().state).toBe('off');

    const calls = { n: 0 };
    const live = new LiveView({
      camera: unreachable(calls),
      ffmpegPath: 'ffmpeg',
      dir,
      log,
      settings: { enabled: true, idleStopMs: 200, maxViewers: 1, readyTimeoutMs: 2500 },
      audio: async () => false,
    });
    await live.start(new AbortController().signal);
    const first = live.attach(new AbortController().signal);
    // One viewer at most here: a second is refused at once.
    await expect(live.attach(new AbortController().signal)).rejects.toMatchObject({
      code: 'too_many_viewers',
    });
    await expect(first).rejects.toMatchObject({
      code: 'camera_unavailable',
      message: 'The camera does not answer, so live view cannot start.',
    });
    // It kept trying meanwhile, with backoff; with no viewer left it stops.
    expect(calls.n).toBeGreaterThanOrEqual(2);
    await waitFor(() => live.status().state === 'idle', { what: 'live view to stop' });
    expect(live.pids).toEqual({});
    await live.stop();
    await expect(live.attach(new AbortController().signal)).rejects.toMatchObject({
      code: 'stopping',
    });
  }, 30_000);
});
