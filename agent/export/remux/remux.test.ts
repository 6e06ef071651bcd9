import { spawnSync } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSegments } from '../../../test-fixtures/make-segments.js';
import { tempDir } from '../../test-support/cli.js';
import { Exporter } from '../exporter.js';
import { planExport } from '../plan.js';
import {
  decodeErrors,
  frameHashes,
  presentedFrames,
  streamsOf,
  topLevelBoxes,
  videoPackets,
} from '../test-support/clip-readers.js';
import type { SegmentRow } from '../types.js';
import { RemuxUnsupported } from './errors.js';
import { remuxClip } from './remux.js';

/**
 * The in-process remux on real footage, held against ffmpeg: a clip cut with audio goes
 * through ffmpeg, the same clip without audio through the remux, and both must present the
 * same pictures at the same times.
 */
const BASE = Date.UTC(2026, 0, 31, 12, 0, 0);
const at = (s: number) => BASE + s * 1000;

let dir: string;
let cleanup: () => Promise<void>;
/** 1.2 s groups of pictures, G.711 beside the video, two runs with 4 s between them. */
let run1: SegmentRow[];
let run2: SegmentRow[];
/** A run that opens with 0.5 s of audio before its first picture. */
let leadIn: SegmentRow[];
const exporter = new Exporter({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-remux-'));
  run1 = await makeSegments({
    dir: join(dir, 'runs'),
    durationS: 12,
    audio: 'g711',
    runId: 1,
    baseMs: BASE,
  });
  run2 = await makeSegments({
    dir: join(dir, 'runs'),
    durationS: 6,
    audio: 'g711',
    runId: 2,
    firstId: 100,
    baseMs: at(16),
  });
  leadIn = await makeSegments({
    dir: join(dir, 'lead-in'),
    durationS: 8,
    audio: 'aac',
    leadInS: 0.5,
    runId: 3,
    baseMs: BASE,
  });
}, 60_000);

afterAll(async () => {
  await cleanup();
});

/** The clip twice: by ffmpeg (with audio) and by the remux (without). */
async function bothWays(segments: SegmentRow[], fromS: number, toS: number, name: string) {
  const viaFfmpeg = join(dir, `${name}-ffmpeg.mp4`);
  const viaRemux = join(dir, `${name}-remux.mp4`);
  const range = { segments, fromMs: at(fromS), toMs: at(toS), mode: 'fast' as const };
  const withAudio = await exporter.export({ ...range, output: viaFfmpeg, audio: true });
  expect(withAudio.audio).toBe('included');
  // No ffmpeg at all: only the remux can have made this clip.
  const remuxOnly = new Exporter({ ffmpegPath: '/nonexistent/ffmpeg', ffprobePath: 'ffprobe' });
  const result = await remuxOnly.export({ ...range, output: viaRemux });
  // Footage is the owner's, however it was cut.
  for (const path of [viaFfmpeg, viaRemux]) expect((await stat(path)).mode & 0o777).toBe(0o600);
  return { viaFfmpeg, viaRemux, result };
}

async function expectSamePictures(a: string, b: string): Promise<void> {
  const [framesA, framesB] = await Promise.all([presentedFrames(a), presentedFrames(b)]);
  expect(framesB).toHaveLength(framesA.length);
  for (const [i, t] of framesB.entries()) {
    expect(Math.abs(t - (framesA[i] ?? Number.NaN))).toBeLessThanOrEqual(0.001);
  }
  expect(await frameHashes(b)).toEqual(await frameHashes(a));
  expect(await decodeErrors(b)).toBe('');
}

describe('the remux against ffmpeg', () => {
  it('presents a range starting inside a group of pictures as ffmpeg does', async () => {
    const { viaFfmpeg, viaRemux, result } = await bothWays(run1, 3.3, 9.3, 'mid-gop');
    expect(result).toMatchObject({ method: 'copy', audio: 'dropped', gaps: [] });
    expect(Math.abs(result.durationS - 6)).toBeLessThanOrEqual(0.01);
    await expectSamePictures(viaFfmpeg, viaRemux);
    const frames = await presentedFrames(viaRemux);
    expect(Math.abs(frames.length - 150)).toBeLessThanOrEqual(1);
    // The group of pictures from the keyframe before the range is in the file, hidden.
    const hidden = (await videoPackets(viaRemux))[0] ?? 0;
    expect(hidden).toBeLessThan(-0.5);
    expect(hidden).toBeCloseTo((await videoPackets(viaFfmpeg))[0] ?? 0, 3);
    expect(await streamsOf(viaRemux)).toEqual([
      expect.objectContaining({ codec_type: 'video', codec_name: 'h264', width: 320 }),
    ]);
    expect(await topLevelBoxes(viaRemux)).toEqual(['ftyp', 'moov', 'free', 'mdat']);
  });

  it('starts on a keyframe without hiding anything', async () => {
    const { viaFfmpeg, viaRemux } = await bothWays(run1, 4.8, 7.0, 'on-key');
    await expectSamePictures(viaFfmpeg, viaRemux);
    expect((await videoPackets(viaRemux))[0]).toBeCloseTo(0, 3);
  });

  it('joins two recorder runs across a gap where the plan puts them', async () => {
    const { viaFfmpeg, viaRemux, result } = await bothWays([...run1, ...run2], 9.5, 19.5, 'gap');
    expect(result.gaps).toEqual([{ fromMs: at(12), toMs: at(16), atS: expect.any(Number) }]);
    expect(result.gaps[0]?.atS).toBeCloseTo(2.5, 2);
    await expectSamePictures(viaFfmpeg, viaRemux);
  });

  it("finds the range in a run's first segment, which opens with audio", async () => {
    for (const [fromS, toS] of [
      [1.0, 5.0],
      [0.2, 3.0], // before the first picture: an empty edit until it
    ] as const) {
      const name = `lead-in-${fromS}`;
      const { viaFfmpeg, viaRemux } = await bothWays(leadIn, fromS, toS, name);
      await expectSamePictures(viaFfmpeg, viaRemux);
    }
  });
});

describe('footage left to ffmpeg', () => {
  it('refuses reordering, another codec, what is not MPEG-TS or not a file, writing nothing', async () => {
    const bFrames = await makeSegments({
      dir: join(dir, 'bframes'),
      durationS: 4,
      bFrames: 2,
      runId: 4,
      baseMs: BASE,
    });
    const hevc = join(dir, 'hevc');
    await mkdir(hevc);
    const made = spawnSync('ffmpeg', [
      ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=2'],
      ...['-c:v', 'libx265', '-x265-params', 'log-level=error', '-f', 'mpegts', '-y'],
      join(hevc, '5-000000.ts'),
    ]);
    expect(made.status).toBe(0);
    const garbage = join(dir, 'garbage.ts');
    await writeFile(garbage, Buffer.alloc(188 * 40, 0x47));
    const rowLike = (path: string, runId: number): SegmentRow => ({
      ...(run1[1] as SegmentRow),
      path,
      runId,
    });
    // Reads block the thread: a FIFO would hang it, and is refused at once.
    const fifo = join(dir, 'fifo.ts');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const cases: [string, SegmentRow[]][] = [
      ['reorders', bFrames],
      ['not one H.264 stream', [rowLike(join(hevc, '5-000000.ts'), 5)]],
      ['program', [rowLike(garbage, 6)]],
      ['not a regular file', [rowLike(fifo, 7)]],
    ];
    for (const [reason, rows] of cases) {
      const first = rows[0] as SegmentRow;
      const plan = planExport(rows, first.startMs + 100, first.endMs);
      const output = join(dir, `refused-${first.runId}.mp4`);
      const error = await remuxClip({
        pieces: plan.pieces,
        durationS: plan.durationS,
        output,
      }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(RemuxUnsupported);
      expect((error as Error).message).toContain(reason);
      await expect(stat(output)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  }, 30_000);

  it('hands what it refuses to ffmpeg', async () => {
    const bFrames = await makeSegments({
      dir: join(dir, 'bframes-2'),
      durationS: 4,
      bFrames: 2,
      runId: 7,
      baseMs: BASE,
    });
    const range = { segments: bFrames, fromMs: at(0.5), toMs: at(3.5), mode: 'fast' as const };
    const noFfmpeg = new Exporter({ ffmpegPath: '/nonexistent/ffmpeg', ffprobePath: 'ffprobe' });
    await expect(noFfmpeg.export({ ...range, output: join(dir, 'b-none.mp4') })).rejects.toThrow(
      /cannot run \/nonexistent\/ffmpeg/,
    );
    const result = await exporter.export({ ...range, output: join(dir, 'b.mp4') });
    expect(result.method).toBe('copy');
    expect(Math.abs(result.durationS - 3)).toBeLessThanOrEqual(0.25);
    expect(await decodeErrors(join(dir, 'b.mp4'))).toBe('');
  }, 30_000);

  it('stops when cancelled and leaves no file', async () => {
    const plan = planExport(run1, at(1), at(11));
    const output = join(dir, 'cancelled.mp4');
    const controller = new AbortController();
    controller.abort();
    await expect(
      remuxClip({
        pieces: plan.pieces,
        durationS: plan.durationS,
        output,
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ code: 'export_cancelled' });
    await expect(stat(output)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reports progress up to the whole', async () => {
    const plan = planExport(run1, at(1), at(11));
    const progress: number[] = [];
    const result = await remuxClip({
      pieces: plan.pieces,
      durationS: plan.durationS,
      output: join(dir, 'progress.mp4'),
      report: (f) => progress.push(f),
    });
    expect(progress.length).toBeGreaterThan(3);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(1);
    expect(result.bytes).toBe((await stat(join(dir, 'progress.mp4'))).size);
    expect(Math.abs(result.samples - 10 * 25)).toBeLessThanOrEqual(30);
  });
});
