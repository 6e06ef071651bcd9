import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSegments } from '../../test-fixtures/make-segments.js';
import { tempDir } from '../test-support/cli.js';
import { concatUrl } from './concat-list.js';
import { Exporter } from './exporter.js';
import {
  beepTimes,
  decodeErrors,
  frameHashes,
  presentedFrames,
  streamsOf,
  videoPackets,
} from './test-support/clip-readers.js';
import type { SegmentRow } from './types.js';

/** Audio, recorder runs that start mid-GOP, and source encodings, on real ffmpeg. */
const BASE = Date.UTC(2026, 0, 31, 12, 0, 0);
const at = (s: number) => BASE + s * 1000;

let dir: string;
let cleanup: () => Promise<void>;
let g711: SegmentRow[];
const exporter = new Exporter({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-export-media-'));
  g711 = await makeSegments({
    dir: join(dir, 'g711'),
    durationS: 12,
    audio: 'g711',
    beeps: true,
    baseMs: BASE,
  });
}, 60_000);

afterAll(async () => {
  await cleanup();
});

/** Beeps sit on whole seconds of stream time: where they fall in a clip starting at `startS`. */
function expectedBeeps(startS: number, lengthS: number): number[] {
  const beeps: number[] = [];
  for (let t = Math.ceil(startS); t < startS + lengthS - 0.05; t++) beeps.push(t - startS);
  return beeps;
}

function expectBeepsNear(found: number[], expected: number[]): void {
  expect(found).toHaveLength(expected.length);
  for (const [i, t] of found.entries()) {
    expect(Math.abs(t - (expected[i] ?? 0))).toBeLessThanOrEqual(0.02);
  }
}

describe('audio', () => {
  it('drops the audio unless asked', async () => {
    const output = join(dir, 'mute.mp4');
    const result = await exporter.export({
      segments: g711,
      fromMs: at(3.3),
      toMs: at(9.3),
      output,
      mode: 'fast',
    });
    expect(result.audio).toBe('dropped');
    expect((await streamsOf(output)).map((s) => s.codec_type)).toEqual(['video']);
  });

  for (const mode of ['fast', 'exact'] as const) {
    it(`${mode}: turns G.711 into AAC, in step with the pictures`, async () => {
      const output = join(dir, `g711-${mode}.mp4`);
      const result = await exporter.export({
        segments: g711,
        fromMs: at(3.3),
        toMs: at(9.3),
        output,
        mode,
        audio: true,
      });
      expect(result.audio).toBe('included');
      const streams = await streamsOf(output);
      expect(streams).toEqual([
        expect.objectContaining({ codec_type: 'video', codec_name: 'h264' }),
        expect.objectContaining({ codec_type: 'audio', codec_name: 'aac', sample_rate: '8000' }),
      ]);
      // Fast mode shows from 3.3 s; exact mode from the first frame in the range, 3.32 s.
      expectBeepsNear(await beepTimes(output), expectedBeeps(mode === 'fast' ? 3.3 : 3.32, 6));
    });
  }

  it('reports footage without audio as such', async () => {
    const [row] = await makeSegments({ dir: join(dir, 'mute'), durationS: 2, runId: 7 });
    const result = await exporter.export({
      segments: [row as SegmentRow],
      fromMs: at(0.5),
      toMs: at(1.5),
      output: join(dir, 'mute-source.mp4'),
      mode: 'fast',
      audio: true,
    });
    expect(result.audio).toBe('absent');
  });
});

describe('a recorder run that starts mid-GOP', () => {
  let rows: SegmentRow[];
  /** Camera time of the index's stream time 0, from the frame that opens segment 1. */
  let cameraAtZero: number;

  beforeAll(async () => {
    rows = await makeSegments({
      dir: join(dir, 'lead-in'),
      durationS: 10,
      audio: 'aac',
      beeps: true,
      leadInS: 0.5,
      runId: 3,
      baseMs: BASE,
    });
    const firstSegmentFrames = (await frameHashes(rows[0]?.path ?? '')).length;
    // Video starts at the camera's keyframe at 1.2 s (frame 30).
    cameraAtZero = (30 + firstSegmentFrames) / 25 - (rows[1]?.ptsStart ?? 0);
  }, 60_000);

  for (const mode of ['fast', 'exact'] as const) {
    it(`${mode}: starts at the range start though audio opens the first segment`, async () => {
      const output = join(dir, `lead-in-${mode}.mp4`);
      await exporter.export({
        segments: rows,
        fromMs: at(1.0),
        toMs: at(5.0),
        output,
        mode,
        audio: true,
      });
      const frames = await presentedFrames(output);
      expect(Math.abs(frames.length - 100)).toBeLessThanOrEqual(1);
      // Which camera frame is shown first: hash the first copied one against the recorded
      // ones (in exact mode the frames before the first keyframe are re-encoded).
      const recorded = await frameHashes(concatUrl(rows.map((row) => row.path)));
      const shown = await frameHashes(output);
      const firstCopy = shown.findIndex((hash) => recorded.includes(hash));
      const cameraFrame = 30 + recorded.indexOf(shown[firstCopy] ?? '') - firstCopy;
      expect(Math.abs(cameraFrame / 25 - (cameraAtZero + 1.0))).toBeLessThanOrEqual(0.04);
      // Fast mode shows from the range start; exact mode from the first frame in it.
      const clipStart = mode === 'fast' ? cameraAtZero + 1.0 : cameraFrame / 25;
      expectBeepsNear(await beepTimes(output), expectedBeeps(clipStart, 4));
    });
  }
});

describe('source encodings', () => {
  it('smart-cuts a High-profile source with a head x264 encodes to match', async () => {
    const rows = await makeSegments({
      dir: join(dir, 'high'),
      durationS: 8,
      preset: 'veryfast',
      runId: 8,
      baseMs: BASE,
    });
    const output = join(dir, 'high.mp4');
    const result = await exporter.export({
      segments: rows,
      fromMs: at(2.5),
      toMs: at(6.5),
      output,
      mode: 'exact',
    });
    expect(result.method).toBe('smart-cut');
    const { stdout } = spawnSync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'stream=profile,level', '-of', 'csv=p=0', output],
      { encoding: 'utf8' },
    );
    expect(stdout.trim()).toBe('High,13');
    expect(await videoPackets(output)).toHaveLength(100);
    expect(await decodeErrors(output)).toBe('');
  });

  it('re-encodes the whole range of a B-frame source, exactly', async () => {
    const rows = await makeSegments({
      dir: join(dir, 'bframes'),
      durationS: 12,
      bFrames: 2,
      preset: 'veryfast',
      runId: 4,
      baseMs: BASE,
    });
    const output = join(dir, 'bframes.mp4');
    const progress: number[] = [];
    const result = await exporter.export({
      segments: rows,
      fromMs: at(3.3),
      toMs: at(9.3),
      output,
      mode: 'exact',
      onProgress: (f) => progress.push(f),
    });
    expect(result.method).toBe('re-encode');
    const packets = await videoPackets(output);
    expect(Math.abs(packets.length - 150)).toBeLessThanOrEqual(1);
    expect(Math.min(...packets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...packets)).toBeLessThan(6);
    expect(await decodeErrors(output)).toBe('');
    expect(progress.at(-1)).toBe(1);
  });
});
