import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { SegmentRow } from '../agent/recording/segment-index.js';

/**
 * Generates recorder-like footage: ffmpeg's segment muxer with the recorder's settings
 * (2 s MPEG-TS segments cut at keyframes, continuous timestamps) fed by a synthetic
 * camera: lavfi testsrc2 (which draws the time and frame number into each picture), H.264
 * without B-frames at an exact keyframe interval, optional G.711 µ-law audio in 20 ms
 * packets as an RTSP camera sends it. The segment list gives each file's stream times;
 * wall-clock times are synthetic (`baseMs + ptsStart * 1000`), as the index holds them.
 */
export interface MakeSegmentsOptions {
  /** Directory the segments are written to (created). */
  dir: string;
  durationS: number;
  runId?: number;
  /** Id of the first row; later rows count up. */
  firstId?: number;
  /** Wall-clock time (ms) of stream time 0. */
  baseMs?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Frames between keyframes (30 at 25 fps = 1.2 s). */
  keyframeFrames?: number;
  segmentSeconds?: number;
  /** G.711 µ-law (as cameras send; `true` means this), AAC, or none. */
  audio?: boolean | 'g711' | 'aac';
  /** Sine beeps (40 ms, 1760 Hz) at each whole second of stream time, to check sync. */
  beeps?: boolean;
  /**
   * Start recording this far into the camera's stream, as the recorder does when it
   * connects mid-GOP: audio from there, video from the next keyframe, so the run's first
   * segment opens with audio ahead of its first picture.
   */
  leadInS?: number;
  /** Video bitrate such as '5M'; omitted: constant quality. */
  bitrate?: string;
  preset?: string;
  /** B-frames between references (0, as most cameras send). */
  bFrames?: number;
  ffmpegPath?: string;
}

export async function makeSegments(options: MakeSegmentsOptions): Promise<SegmentRow[]> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const runId = options.runId ?? 1;
  const listPath = join(dir, `${runId}-list.csv`);
  await rm(listPath, { force: true });
  const ffmpeg = options.ffmpegPath ?? 'ffmpeg';
  const segmentOptions = { ...options, dir, runId };
  if (options.leadInS) {
    const camera = join(dir, `${runId}-camera.ts`);
    await runFfmpeg(ffmpeg, makeSegmentsArgs(segmentOptions, camera));
    await runFfmpeg(ffmpeg, [
      ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-ss', String(options.leadInS)],
      ...['-i', camera, '-map', '0', '-c', 'copy', ...segmentMuxerArgs(segmentOptions)],
    ]);
    await rm(camera, { force: true });
  } else {
    await runFfmpeg(ffmpeg, makeSegmentsArgs(segmentOptions));
  }
  const list = await readFile(listPath, 'utf8');
  await rm(listPath, { force: true });
  const baseMs = options.baseMs ?? Date.UTC(2026, 0, 31, 12, 0, 0);
  const rows: SegmentRow[] = [];
  let id = options.firstId ?? 1;
  for (const line of list.split('\n')) {
    if (!line.trim()) continue;
    const [file, start, end] = line.trim().split(',');
    if (!file || start === undefined || end === undefined) throw new Error(`bad list: ${line}`);
    const path = join(dir, file);
    const bytes = await readFile(path);
    const ptsStart = Number(start);
    const ptsEnd = Number(end);
    rows.push({
      id: id++,
      runId,
      path,
      startMs: Math.round(baseMs + ptsStart * 1000),
      endMs: Math.round(baseMs + ptsEnd * 1000),
      ptsStart,
      ptsEnd,
      bytes: (await stat(path)).size,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
  }
  return rows;
}

/** The generator's ffmpeg arguments (pure): into segments, or into one `camera` stream. */
export function makeSegmentsArgs(
  options: MakeSegmentsOptions & { runId: number },
  camera?: string,
): string[] {
  const fps = options.fps ?? 25;
  const width = options.width ?? 320;
  const height = options.height ?? 240;
  const seconds = options.durationS + (options.leadInS ?? 0);
  const video = `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', video];
  const audio = options.audio === true ? 'g711' : options.audio;
  if (audio) {
    const beeps = options.beeps ? ':beep_factor=4' : '';
    args.push('-f', 'lavfi', '-i');
    args.push(
      `sine=frequency=440${beeps}:sample_rate=8000:samples_per_frame=160:duration=${seconds}`,
    );
  }
  const keyint = String(options.keyframeFrames ?? 30);
  args.push('-map', '0:v', '-c:v', 'libx264', '-preset', options.preset ?? 'ultrafast');
  args.push('-bf', String(options.bFrames ?? 0), '-g', keyint, '-keyint_min', keyint);
  args.push('-sc_threshold', '0', '-pix_fmt', 'yuv420p');
  if (options.bitrate) {
    args.push('-b:v', options.bitrate, '-maxrate', options.bitrate, '-bufsize', options.bitrate);
  } else {
    args.push('-crf', '26');
  }
  if (audio === 'g711') args.push('-map', '1:a', '-c:a', 'pcm_mulaw', '-ar', '8000', '-ac', '1');
  if (audio === 'aac') args.push('-map', '1:a', '-c:a', 'aac', '-b:a', '32k');
  if (camera) return [...args, '-f', 'mpegts', '-y', camera];
  return [...args, ...segmentMuxerArgs(options)];
}

/** The recorder's segment muxer settings, the list written beside the segments. */
function segmentMuxerArgs(options: { dir: string; runId: number; segmentSeconds?: number }) {
  return [
    '-f',
    'segment',
    '-segment_format',
    'mpegts',
    '-segment_time',
    String(options.segmentSeconds ?? 2),
    '-segment_start_number',
    '0',
    '-segment_list',
    join(options.dir, `${options.runId}-list.csv`),
    '-segment_list_type',
    'csv',
    join(options.dir, `${options.runId}-%06d.ts`),
  ];
}

function runFfmpeg(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`fixture ffmpeg exited ${code}: ${stderr.trim()}`));
    });
  });
}

/** `npx tsx test-fixtures/make-segments.ts DIR [SECONDS] [WIDTHxHEIGHT] [--audio]` */
async function cli(argv: readonly string[]): Promise<void> {
  const [dir, seconds, size] = argv.filter((arg) => !arg.startsWith('--'));
  if (!dir) throw new Error('usage: make-segments.ts DIR [SECONDS] [WIDTHxHEIGHT] [--audio]');
  const [width, height] = (size ?? '320x240').split('x').map(Number);
  const rows = await makeSegments({
    dir,
    durationS: Number(seconds ?? 12),
    ...(width && height ? { width, height } : {}),
    audio: argv.includes('--audio'),
  });
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  cli(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
