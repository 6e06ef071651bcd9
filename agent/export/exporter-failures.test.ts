import { spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { type FileHandle, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSegments } from '../../test-fixtures/make-segments.js';
import { MediaToolError } from '../errors.js';
import { createLogger } from '../log.js';
import { tempDir } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import { ClipProber } from './clip-prober.js';
import { concatUrl } from './concat-list.js';
import { Exporter } from './exporter.js';
import { muxArgs } from './ffmpeg-args.js';
import { runMediaTool } from './media-tool.js';
import { muxAndProbe } from './mux.js';
import { planExport } from './plan.js';
import { remuxClip } from './remux/remux.js';
import { decodeErrors, presentedFrames, topLevelBoxes } from './test-support/clip-readers.js';
import type { SegmentRow } from './types.js';
import { checkClip, layoutProblems } from './verify.js';

/**
 * Cancellation, ffmpeg failures, a broken MP4 index, and a remuxed clip that fails its
 * check, on real ffmpeg.
 */
const BASE = Date.UTC(2026, 0, 31, 12, 0, 0);
const at = (s: number) => BASE + s * 1000;

let dir: string;
let cleanup: () => Promise<void>;
let g711: SegmentRow[];
const exporter = new Exporter({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-export-failures-'));
  g711 = await makeSegments({ dir: join(dir, 'g711'), durationS: 12, audio: 'g711', baseMs: BASE });
}, 60_000);

afterAll(async () => {
  await cleanup();
});

describe('cancellation and failures', () => {
  it('rewrites the file when the index outgrows its reserve, keeping it at the front', async () => {
    const output = join(dir, 'reserve.mp4');
    const plan = planExport(g711, at(3.3), at(9.3));
    const mux = {
      video: {
        kind: 'mpegts' as const,
        url: concatUrl(plan.pieces[0]?.segments.map((s) => s.path) ?? []),
        offsetS: -(plan.pieces[0]?.offsetS ?? 0),
      },
      durationS: plan.durationS,
      output,
      moovBytes: 64,
    };
    const probe = await muxAndProbe({
      ffmpegPath: 'ffmpeg',
      prober: new ClipProber('ffprobe'),
      mux,
      report: () => {},
    });
    expect(checkClip(probe, mux).durationS).toBeCloseTo(6, 1);
    const boxes = await topLevelBoxes(output);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
    expect(await layoutProblems(output)).toEqual([]);
    expect(await decodeErrors(output)).toBe('');
  });

  it('finds the damage ffmpeg 5.1 leaves, exit status 0, when the reserve is short', async () => {
    const broken = join(dir, 'broken.mp4');
    const plan = planExport(g711, at(3.3), at(9.3));
    const url = concatUrl(plan.pieces[0]?.segments.map((s) => s.path) ?? []);
    const video = { kind: 'mpegts' as const, url, offsetS: -(plan.pieces[0]?.offsetS ?? 0) };
    await runMediaTool('ffmpeg', muxArgs({ video, durationS: 6, output: broken, moovBytes: 64 }));
    expect(await layoutProblems(broken)).not.toEqual([]);
  });

  it('kills ffmpeg on abort and leaves no partial output', async () => {
    const fifoDir = join(dir, 'fifo');
    spawnSync('mkdir', ['-p', fifoDir]);
    const fifo = join(fifoDir, '5-000003.ts');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const row: SegmentRow = {
      ...(g711[1] as SegmentRow),
      path: fifo,
      runId: 5,
    };
    const outDir = join(dir, 'cancel-out');
    spawnSync('mkdir', ['-p', outDir]);
    const controller = new AbortController();
    const exported = exporter.export({
      segments: [row],
      fromMs: row.startMs + 100,
      toMs: row.endMs - 100,
      output: join(outDir, 'clip.mp4'),
      mode: 'fast',
      signal: controller.signal,
    });
    const settled = exported.then(
      () => 'resolved',
      (err: unknown) => err,
    );
    // ffmpeg has the segment open once a writer can open the FIFO without blocking.
    const writer: FileHandle = await waitFor(
      () => open(fifo, constants.O_WRONLY | constants.O_NONBLOCK),
      { what: 'ffmpeg reading the segment' },
    );
    try {
      controller.abort();
      expect(await settled).toMatchObject({ code: 'export_cancelled' });
    } finally {
      await writer.close();
    }
    expect(await readdir(outDir)).toEqual([]);
  });

  it('refuses to start when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      runMediaTool('ffmpeg', ['-version'], { signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'export_cancelled' });
  });

  it('reports ffmpeg failures with its stderr, leaving nothing behind', async () => {
    const badDir = join(dir, 'bad');
    spawnSync('mkdir', ['-p', badDir]);
    const bad = join(badDir, '6-000004.ts');
    await writeFile(bad, Buffer.alloc(64 * 1024, 0x47));
    const row: SegmentRow = { ...(g711[2] as SegmentRow), path: bad, runId: 6 };
    const error = await exporter
      .export({
        segments: [row],
        fromMs: row.startMs,
        toMs: row.endMs,
        output: join(badDir, 'clip.mp4'),
        mode: 'fast',
      })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MediaToolError);
    expect((error as MediaToolError).stderr).not.toBe('');
    expect(await readdir(badDir)).toEqual(['6-000004.ts']);
  });

  it('says which tool could not be run', async () => {
    await expect(runMediaTool('/nonexistent/ffmpeg', ['-version'])).rejects.toThrow(
      /cannot run \/nonexistent\/ffmpeg/,
    );
  });

  it('cuts again with ffmpeg, with a warning, when the remuxed clip fails its check', async () => {
    const caseDir = join(dir, 'recut');
    const video = await makeSegments({
      dir: join(caseDir, 'segments'),
      durationS: 8,
      baseMs: BASE,
    });
    // ffmpeg through a wrapper that writes down each run: the remux runs none.
    const calls = join(caseDir, 'ffmpeg-calls');
    await writeFile(calls, '');
    const ffmpeg = join(caseDir, 'ffmpeg');
    await writeFile(ffmpeg, `#!/bin/sh\necho "$*" >> '${calls}'\nexec ffmpeg "$@"\n`, {
      mode: 0o700,
    });
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: { write: (line: string) => lines.push(JSON.parse(line)) },
    });
    const range = { segments: video, fromMs: at(1.3), toMs: at(5.3), mode: 'fast' as const };
    const exported = () => lines.filter((line) => line.msg === 'clip exported');

    // As it is, the remux cuts the clip and ffmpeg never runs: the case below is not vacuous.
    const plain = new Exporter({ ffmpegPath: ffmpeg, ffprobePath: 'ffprobe', logger });
    await plain.export({ ...range, output: join(caseDir, 'remuxed.mp4') });
    expect(exported().map((line) => line.by)).toEqual(['remux']);
    expect(await readFile(calls, 'utf8')).toBe('');

    // A remux that goes wrong: it ends the clip half way, a real MP4 with the wrong duration.
    const faulty = new Exporter({
      ffmpegPath: ffmpeg,
      ffprobePath: 'ffprobe',
      logger,
      remux: (input) => remuxClip({ ...input, durationS: input.durationS / 2 }),
    });
    const output = join(caseDir, 'recut.mp4');
    const result = await faulty.export({ ...range, output });
    expect(lines.filter((line) => line.level === 40)).toEqual([
      expect.objectContaining({
        component: 'export',
        msg: 'the remuxed clip failed its check; cutting with ffmpeg',
        problems: [expect.stringMatching(/^duration 2\.\d+ s, planned 4\.000 s$/)],
      }),
    ]);
    expect(exported().map((line) => line.by)).toEqual(['remux', 'ffmpeg']);
    expect((await readFile(calls, 'utf8')).split('\n').filter(Boolean)).toHaveLength(1);
    expect(result.durationS).toBeCloseTo(4, 1);
    expect(Math.abs((await presentedFrames(output)).length - 100)).toBeLessThanOrEqual(1);
    expect(await layoutProblems(output)).toEqual([]);
    expect((await readdir(caseDir)).sort()).toEqual(
      ['ffmpeg', 'ffmpeg-calls', 'recut.mp4', 'remuxed.mp4', 'segments'].sort(),
    );
  });
});
