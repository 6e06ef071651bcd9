/**
 * Export benchmark (DESIGN.md, "Measured targets"): 60 s of 1080p25 footage in 2 s
 * segments (~5 Mbit/s, a keyframe every 2 s), cut at a range that starts and ends inside
 * groups of pictures.
 *
 *  - fast export (the in-process remux, edit list, index at the front, ffprobe check)
 *    against `cp` of the same segment files, measured in the same run: target ≤ 4×. Timed
 *    warm (the check's ffprobe already loaded, as the export command and an agent with a
 *    pending request have it) and cold (ffprobe started with the export);
 *  - exact export (smart cut) against a full re-encode of the same clip: target ≥ 10×.
 *
 * Prints one JSON object: medians over several runs, the ratios, and a breakdown.
 * Run: npx tsx scripts/bench/export.ts [--runs N]
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { footageInput, listInput, pieceEntries } from '../../agent/export/concat-list.js';
import { Exporter } from '../../agent/export/exporter.js';
import { moovReserve, muxArgs, reencodeArgs } from '../../agent/export/ffmpeg-args.js';
import { runMediaTool } from '../../agent/export/media-tool.js';
import { planExport } from '../../agent/export/plan.js';
import { probeClip } from '../../agent/export/probe.js';
import { remuxClip } from '../../agent/export/remux/remux.js';
import { spareWaiting } from '../../agent/export/test-support/spare-ffprobe.js';
import { makeSegments } from '../../test-fixtures/make-segments.js';
import { median } from './proc-stats.js';

const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 7;
const REENCODE_RUNS = Math.max(1, Math.min(RUNS, 3));
const BASE = Date.UTC(2026, 0, 31, 12, 0, 0);
// Inside a recorder run (its first segment needs a probe; most ranges do not start there).
const FROM = BASE + 3_300;
const TO = FROM + 60_000;

/**
 * Times `fn` `runs` times after one untimed run (page cache, shared libraries). `prepare`
 * runs before each, outside the timing: removing the last output, warming a check.
 */
async function timed(
  runs: number,
  fn: () => Promise<unknown>,
  prepare: () => Promise<unknown> = async () => {},
): Promise<number[]> {
  const times: number[] = [];
  for (let i = -1; i < runs; i++) {
    await prepare();
    const start = performance.now();
    await fn();
    if (i >= 0) times.push(performance.now() - start);
  }
  return times;
}

function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command}: ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'threshold-bench-export-'));
  try {
    const generateStart = performance.now();
    const rows = await makeSegments({
      dir: join(dir, 'segments'),
      durationS: 66,
      width: 1920,
      height: 1080,
      keyframeFrames: 50,
      bitrate: '5M',
      preset: 'ultrafast',
      baseMs: BASE,
    });
    const generateMs = performance.now() - generateStart;
    const plan = planExport(rows, FROM, TO);
    const covering = plan.pieces.flatMap((piece) => piece.segments);
    const bytes = covering.reduce((sum, row) => sum + row.bytes, 0);
    const out = join(dir, 'out');
    await mkdir(out);
    const exporter = new Exporter({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });
    const clip = (name: string) => join(out, `${name}.mp4`);
    const fresh = async (path: string) => rm(path, { force: true });

    const cp = await timed(
      RUNS,
      () => run('cp', [...covering.map((row) => row.path), join(out, 'cp')]),
      async () => {
        await rm(join(out, 'cp'), { recursive: true, force: true });
        await mkdir(join(out, 'cp'));
      },
    );
    const fastExport = () =>
      exporter.export({
        segments: rows,
        fromMs: FROM,
        toMs: TO,
        output: clip('fast'),
        mode: 'fast',
      });
    const fast = await timed(RUNS, fastExport, () => fresh(clip('fast')));
    // Warm: a spare ffprobe has loaded before the clock starts (outside the timing).
    const fastWarm = await timed(RUNS, fastExport, async () => {
      await fresh(clip('fast'));
      exporter.warm();
      await spareWaiting();
    });
    // The fast export's parts: the in-process remux alone; ffmpeg's remux of the same range
    // (what the fast path used before, and still uses with audio); the ffprobe check alone.
    const remuxOnly = await timed(
      RUNS,
      () => remuxClip({ pieces: plan.pieces, durationS: plan.durationS, output: clip('remux') }),
      () => fresh(clip('remux')),
    );
    const video = await footageInput(plan.pieces, out, -(plan.pieces[0]?.offsetS ?? 0));
    const muxed = muxArgs({
      video,
      durationS: plan.durationS,
      output: clip('mux'),
      moovBytes: moovReserve(plan.durationS, false),
    });
    const ffmpegMux = await timed(
      RUNS,
      () => runMediaTool('ffmpeg', muxed),
      () => fresh(clip('mux')),
    );
    const probeOnly = await timed(RUNS, () => probeClip('ffprobe', clip('fast')));
    // What no ffmpeg run can go below: loading the program and its shared libraries.
    const startup = await timed(RUNS, () => runMediaTool('ffmpeg', ['-hide_banner', '-version']));
    const exact = await timed(
      RUNS,
      () =>
        exporter.export({
          segments: rows,
          fromMs: FROM,
          toMs: TO,
          output: clip('exact'),
          mode: 'exact',
        }),
      () => fresh(clip('exact')),
    );
    const list = await listInput(pieceEntries(plan.pieces), out, video.offsetS, 'all.ffconcat');
    const reencoded = reencodeArgs({
      video: list,
      durationS: plan.durationS,
      output: join(out, 'reencode.ts'),
    });
    const reencode = await timed(
      REENCODE_RUNS,
      () => runMediaTool('ffmpeg', reencoded),
      () => fresh(join(out, 'reencode.ts')),
    );

    const cpMs = median(cp);
    const fastMs = median(fast);
    const fastWarmMs = median(fastWarm);
    const exactMs = median(exact);
    const reencodeMs = median(reencode);
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'export',
          footage: {
            clipSeconds: plan.durationS,
            segments: covering.length,
            bytes,
            resolution: '1920x1080',
            fps: 25,
            keyframeSeconds: 2,
            generateMs: Math.round(generateMs),
          },
          machine: { cpus: cpus().length, loadAverage1m: round(loadavg()[0] ?? 0) },
          runs: RUNS,
          reencodeRuns: REENCODE_RUNS,
          medianMs: {
            cp: round(cpMs),
            fastExportWarm: round(fastWarmMs),
            fastExportCold: round(fastMs),
            exactExport: round(exactMs),
            fullReencode: round(reencodeMs),
            fastParts: {
              remuxInProcess: round(median(remuxOnly)),
              remuxFfmpeg: round(median(ffmpegMux)),
              ffprobeCheck: round(median(probeOnly)),
              ffmpegStartup: round(median(startup)),
            },
          },
          ratios: {
            fastWarmVsCp: round(fastWarmMs / cpMs),
            fastColdVsCp: round(fastMs / cpMs),
            remuxInProcessVsCp: round(median(remuxOnly) / cpMs),
            remuxFfmpegVsCp: round(median(ffmpegMux) / cpMs),
            exactSpeedupVsReencode: round(reencodeMs / exactMs),
          },
          targets: { fastVsCpAtMost: 4, exactSpeedupAtLeast: 10 },
          met: {
            fastWarm: fastWarmMs / cpMs <= 4,
            fastCold: fastMs / cpMs <= 4,
            exact: reencodeMs / exactMs >= 10,
          },
          samplesMs: {
            cp: cp.map(round),
            fastExportWarm: fastWarm.map(round),
            fastExportCold: fast.map(round),
            exactExport: exact.map(round),
            fullReencode: reencode.map(round),
          },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

await main();
