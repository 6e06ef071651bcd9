import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../test-support/cli.js';
import { freePort } from '../test-support/mosquitto.js';
import { adviseOnStream, describeStream } from './stream-advice.js';
import {
  parseStreamProbe,
  probeStream,
  StreamProbeError,
  streamProbeArgs,
} from './stream-probe.js';

const exec = promisify(execFile);

/** Real media made by ffmpeg: the stream settings a camera may have (Matroska carries G.711). */
const MEDIA = {
  // A well-set camera: H.264 without B-frames, a keyframe a second, G.711 audio.
  good: ['-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', '25', '-c:a', 'pcm_mulaw'],
  bframes: ['-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '2', '-g', '25', '-an'],
  gop10: [
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0'],
    ...['-g', '250', '-keyint_min', '250', '-sc_threshold', '0', '-an'],
  ],
  hevc: [
    ...[
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-x265-params',
      'bframes=0:keyint=25:log-level=error',
    ],
    '-an',
  ],
} as const;

let dir: string;
let cleanup: () => Promise<void>;
const files: Record<keyof typeof MEDIA, string> = { good: '', bframes: '', gop10: '', hevc: '' };

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-probe-'));
  for (const [name, codecArgs] of Object.entries(MEDIA) as [
    keyof typeof MEDIA,
    readonly string[],
  ][]) {
    const file = join(dir, `${name}.mkv`);
    const seconds = name === 'gop10' ? 12 : 5;
    await exec('ffmpeg', [
      ...['-hide_banner', '-v', 'error', '-y'],
      ...['-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000'],
      ...['-t', String(seconds), ...codecArgs, '-f', 'matroska', file],
    ]);
    files[name] = file;
  }
}, 120_000);

afterAll(async () => {
  await cleanup?.();
});

async function probeFile(name: keyof typeof MEDIA, seconds = 20) {
  return probeStream(files[name], { seconds });
}

describe('streamProbeArgs', () => {
  it('pulls RTSP over TCP with an I/O timeout, and reads a bounded window', () => {
    const args = streamProbeArgs('rtsp://127.0.0.1:8554/cam1', { seconds: 7, ioTimeoutMs: 3000 });
    expect(
      args.slice(args.indexOf('-rtsp_transport'), args.indexOf('-rtsp_transport') + 2),
    ).toEqual(['-rtsp_transport', 'tcp']);
    expect(args[args.indexOf('-timeout') + 1]).toBe('3000000');
    expect(args[args.indexOf('-read_intervals') + 1]).toBe('%+7');
    expect(args.at(-1)).toBe('rtsp://127.0.0.1:8554/cam1');
  });

  it('gives a file no RTSP options', () => {
    const args = streamProbeArgs('/tmp/clip.ts', { seconds: 5 });
    expect(args).not.toContain('-rtsp_transport');
    expect(args).not.toContain('-timeout');
  });
});

describe('probeStream on real media', () => {
  it('reads a well-set stream and has no advice for it', async () => {
    const report = await probeFile('good');
    expect(report.video).toMatchObject({
      codec: 'h264',
      width: 640,
      height: 360,
      bFrames: false,
      keyframeInterval: { seconds: 1, exact: true },
    });
    expect(report.video?.fps).toBeCloseTo(25, 0);
    expect(report.audio).toMatchObject({ codec: 'pcm_mulaw', sampleRate: 8000, channels: 1 });
    expect(adviseOnStream(report)).toEqual([]);
    expect(describeStream(report)).toMatch(
      /^H\.264 .*640x360 25 fps, keyframes every 1 s, no B-frames, audio pcm_mulaw 8000 Hz$/,
    );
  });

  it('finds B-frames and says to turn them off', async () => {
    const report = await probeFile('bframes');
    expect(report.video?.bFrames).toBe(true);
    expect(report.audio).toBeNull();
    const advice = adviseOnStream(report);
    expect(advice.map((a) => a.code)).toEqual(['b_frames']);
    expect(advice[0]?.fix).toMatch(/turn off B-frames/);
  });

  it('measures a 10 s keyframe interval and says to shorten it', async () => {
    const report = await probeFile('gop10');
    expect(report.video?.keyframeInterval).toEqual({ seconds: 10, exact: true });
    const advice = adviseOnStream(report);
    expect(advice.map((a) => a.code)).toEqual(['keyframe_interval']);
    expect(advice[0]?.problem).toMatch(/10 s apart/);
    expect(advice[0]?.fix).toMatch(/2 s \(50 frames at 25 fps\)/);
  });

  it('bounds a keyframe interval longer than the window from below', async () => {
    // Six seconds of a stream with a keyframe every ten: at most one keyframe is seen.
    const report = await probeStream(files.gop10, { seconds: 6 });
    const interval = report.video?.keyframeInterval;
    expect(interval?.exact).toBe(false);
    expect(interval?.seconds).toBeGreaterThan(4);
    expect(adviseOnStream(report).map((a) => a.code)).toEqual(['keyframe_interval']);
  });

  it('names HEVC and says to choose H.264', async () => {
    const report = await probeFile('hevc');
    expect(report.video?.codec).toBe('hevc');
    expect(adviseOnStream(report).map((a) => a.code)).toEqual(['hevc']);
  });
});

describe('probe failures', () => {
  it('reports a closed port as unreachable, without the credentials of the URL', async () => {
    const port = await freePort();
    const url = `rtsp://admin:s3cret-pw@127.0.0.1:${port}/stream`;
    const error = await probeStream(url, { seconds: 2, ioTimeoutMs: 2000 }).catch((e) => e);
    expect(error).toBeInstanceOf(StreamProbeError);
    expect(error.code).toBe('stream_unreachable');
    expect(error.message).not.toContain('s3cret-pw');
  });

  it('reports a missing ffprobe by its path', async () => {
    const error = await probeStream(files.good, {
      seconds: 1,
      ffprobePath: join(dir, 'no-such-ffprobe'),
    }).catch((e) => e);
    expect(error).toBeInstanceOf(StreamProbeError);
    expect(error.code).toBe('ffprobe_missing');
  });

  it('refuses output that is not ffprobe JSON', () => {
    expect(() => parseStreamProbe('not json')).toThrow(StreamProbeError);
    expect(() => parseStreamProbe('{"streams": "x"}')).toThrow(/unknown shape/);
  });
});
