import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSegments } from '../../test-fixtures/make-segments.js';
import { tempDir } from '../test-support/cli.js';
import { concatUrl } from './concat-list.js';
import { Exporter } from './exporter.js';
import {
  decodeErrors,
  frameHashes,
  presentedFrames,
  streamsOf,
  topLevelBoxes,
  videoPackets,
} from './test-support/clip-readers.js';
import type { SegmentRow } from './types.js';

/**
 * Real ffmpeg on generated footage: 25 fps, a keyframe every 1.2 s (30 frames), 2 s
 * segments (cut at 2.4, 4.8, 6.0, 8.4 … s), so ranges start and end inside segments and
 * inside groups of pictures. Run 1 holds 20 s; run 2, after a 4 s camera loss, 10 s.
 */
const BASE = Date.UTC(2026, 0, 31, 12, 0, 0);
const FRAME = 0.04;
const at = (s: number) => BASE + s * 1000;

let dir: string;
let cleanup: () => Promise<void>;
let run1: SegmentRow[];
let run2: SegmentRow[];
/** Frame number of each picture of run 1 by its MD5 (run 2's pictures repeat run 1's). */
let frameIndex: Map<string, number>;
const exporter = new Exporter({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-export-'));
  run1 = await makeSegments({ dir: join(dir, 'segments'), durationS: 20, runId: 1, baseMs: BASE });
  run2 = await makeSegments({
    dir: join(dir, 'segments'),
    durationS: 10,
    runId: 2,
    firstId: 100,
    baseMs: at(24),
  });
  const hashes = await frameHashes(concatUrl(run1.map((row) => row.path)));
  frameIndex = new Map(hashes.map((hash, i) => [hash, i]));
}, 60_000);

afterAll(async () => {
  await cleanup();
});

/** Source frame numbers of the clip's presented pictures (-1: not a copy of a source one). */
async function sourceFrames(path: string): Promise<number[]> {
  return (await frameHashes(path)).map((hash) => frameIndex.get(hash) ?? -1);
}

describe('fast export', () => {
  it('presents the 6 s range, 150 ± 1 frames, hiding the lead-in with an edit list', async () => {
    const output = join(dir, 'fast.mp4');
    const progress: number[] = [];
    const result = await exporter.export({
      segments: [...run1, ...run2],
      fromMs: at(3.3),
      toMs: at(9.3),
      output,
      mode: 'fast',
      thumbnail: join(dir, 'fast.jpg'),
      onProgress: (f) => progress.push(f),
    });
    expect(result).toMatchObject({ method: 'copy', audio: 'dropped', gaps: [] });
    expect(result.segments.map((s) => s.id)).toEqual([2, 3, 4, 5]);
    const frames = await presentedFrames(output);
    expect(Math.abs(frames.length - 150)).toBeLessThanOrEqual(1);
    expect(Math.abs(frames[0] ?? 99)).toBeLessThanOrEqual(FRAME);
    expect(Math.abs((frames.at(-1) ?? 0) + FRAME - 6)).toBeLessThanOrEqual(FRAME);
    // The file holds the group of pictures from its keyframe at 2.4 s; they are not shown.
    const packets = await videoPackets(output);
    expect(packets.length).toBeGreaterThan(frames.length);
    expect(packets[0]).toBeLessThan(-0.5);
    // The pictures are the source's, 3.3 s (frame 82.5) to 9.3 s, in order.
    const source = await sourceFrames(output);
    expect([82, 83]).toContain(source[0]);
    expect(source.every((n, i) => n === (source[0] ?? 0) + i)).toBe(true);
    expect([231, 232]).toContain(source.at(-1));
    expect(await streamsOf(output)).toEqual([
      expect.objectContaining({ codec_type: 'video', codec_name: 'h264' }),
    ]);
    const boxes = await topLevelBoxes(output);
    expect(boxes.indexOf('moov')).toBeGreaterThanOrEqual(0);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
    expect(progress.at(-1)).toBe(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const jpeg = await readFile(join(dir, 'fast.jpg'));
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(await streamsOf(join(dir, 'fast.jpg'))).toEqual([
      expect.objectContaining({ codec_name: 'mjpeg', width: 320 }),
    ]);
  });

  it('cuts a longer range across five segments, its ends off every keyframe', async () => {
    const output = join(dir, 'fast-long.mp4');
    await exporter.export({
      segments: run1,
      fromMs: at(5.13),
      toMs: at(13.87),
      output,
      mode: 'fast',
    });
    const frames = await presentedFrames(output);
    // 8.74 s at 25 fps: frames 129 (5.16 s) to 346 (13.84 s).
    expect(Math.abs(frames.length - 218.5)).toBeLessThanOrEqual(1.5);
    const source = await sourceFrames(output);
    expect(Math.abs((source[0] ?? 0) - 128.25)).toBeLessThanOrEqual(1);
    expect(Math.abs((source.at(-1) ?? 0) - 346)).toBeLessThanOrEqual(1);
  });
});

describe('exact export', () => {
  it('holds only the range: 150 ± 1 packets, none outside it', async () => {
    const output = join(dir, 'exact.mp4');
    const result = await exporter.export({
      segments: run1,
      fromMs: at(3.3),
      toMs: at(9.3),
      output,
      mode: 'exact',
    });
    expect(result.method).toBe('smart-cut');
    const packets = await videoPackets(output);
    expect(Math.abs(packets.length - 150)).toBeLessThanOrEqual(1);
    expect(Math.min(...packets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...packets)).toBeLessThan(6);
    expect(await presentedFrames(output)).toHaveLength(packets.length);
    expect(await decodeErrors(output)).toBe('');
    // Frames 83..89 are re-encoded (not copies); 90 (the keyframe at 3.6 s) on are copied.
    const source = await sourceFrames(output);
    const firstCopy = source.findIndex((n) => n >= 0);
    expect(source[firstCopy]).toBe(90);
    expect(firstCopy).toBe(7);
    expect(source.slice(firstCopy).every((n, i) => n === 90 + i)).toBe(true);
    expect(source.at(-1)).toBe(232);
  });

  it('cuts a range starting on a keyframe inside a segment without re-encoding', async () => {
    const output = join(dir, 'exact-key.mp4');
    await exporter.export({
      segments: run1,
      fromMs: at(3.6),
      toMs: at(9.6),
      output,
      mode: 'exact',
    });
    const source = await sourceFrames(output);
    expect(source).toEqual(Array.from({ length: 150 }, (_, i) => 90 + i));
    const packets = await videoPackets(output);
    expect(packets).toHaveLength(150);
    expect(packets[0]).toBe(0);
  });

  it('cuts a longer unaligned range exactly', async () => {
    const output = join(dir, 'exact-long.mp4');
    await exporter.export({
      segments: run1,
      fromMs: at(5.13),
      toMs: at(13.87),
      output,
      mode: 'exact',
    });
    const packets = await videoPackets(output);
    expect(packets.length).toBe(218);
    expect(Math.min(...packets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...packets)).toBeLessThan(8.74);
    const source = await sourceFrames(output);
    expect(source.at(-1)).toBe(346);
    expect(await decodeErrors(output)).toBe('');
  });
});

describe('ranges across a recorder restart', () => {
  for (const mode of ['fast', 'exact'] as const) {
    it(`${mode}: joins what exists and reports the gap`, async () => {
      const output = join(dir, `gap-${mode}.mp4`);
      const result = await exporter.export({
        segments: [...run1, ...run2],
        fromMs: at(16.02),
        toMs: at(30.02),
        output,
        mode,
      });
      expect(result.gaps).toEqual([{ fromMs: at(20), toMs: at(24), atS: expect.any(Number) }]);
      expect(result.gaps[0]?.atS).toBeCloseTo(3.98, 2);
      const frames = await presentedFrames(output);
      expect(Math.abs(frames.length - 250)).toBeLessThanOrEqual(1);
      // Run 1 from frame 400.5 to its end (499), then run 2 from its start (0) to 150.5;
      // in exact mode frames 401..419, before the keyframe at 16.8 s, are re-encoded.
      const source = await sourceFrames(output);
      const firstCopy = source.findIndex((n) => n >= 0);
      const restart = source.indexOf(0);
      expect(firstCopy).toBe(mode === 'exact' ? 19 : 0);
      expect([400, 401]).toContain((source[firstCopy] ?? 0) - firstCopy);
      expect(source.slice(firstCopy, restart)).toEqual(
        Array.from({ length: restart - firstCopy }, (_, i) => 500 - restart + firstCopy + i),
      );
      expect(source.slice(restart)).toEqual(
        Array.from({ length: source.length - restart }, (_, i) => i),
      );
      if (mode === 'exact') {
        const packets = await videoPackets(output);
        expect(Math.min(...packets)).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it('refuses a range with no footage with a typed error and writes nothing', async () => {
    const output = join(dir, 'none.mp4');
    await expect(
      exporter.export({
        segments: [...run1, ...run2],
        fromMs: at(21),
        toMs: at(23),
        output,
        mode: 'fast',
      }),
    ).rejects.toMatchObject({ code: 'no_footage' });
    await expect(readFile(output)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
