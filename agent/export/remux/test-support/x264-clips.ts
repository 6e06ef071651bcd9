import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { SpsInfo } from '../h264.js';

/**
 * Real H.264 for the parser tests: raw Annex-B clips x264 makes from ffmpeg's testsrc2, and
 * what ffmpeg and ffprobe say about them (profile, level, pixel format, the avcC box it
 * writes, the SPS fields its header tracer reads), to hold our parser's answers against.
 */

const exec = promisify(execFile);
const big = { maxBuffer: 64 * 1024 * 1024 };

/** A clip x264 makes from testsrc2: `filter` shapes the picture (odd sizes need the format first). */
export interface Clip {
  name: string;
  size: string;
  pixFmt: string;
  args: string[];
  filter?: string;
}

/** A clip from its encoder arguments as one space-separated string. */
export function clip(
  name: string,
  size: string,
  pixFmt: string,
  args: string,
  filter?: string,
): Clip {
  return { name, size, pixFmt, args: args ? args.split(' ') : [], ...(filter ? { filter } : {}) };
}

/** Profiles, chroma formats, bit depths, odd sizes and interlacing x264 can produce. */
export const CLIPS: Clip[] = [
  clip('1080p-high', '1920x1080', 'yuv420p', '-profile:v high'),
  clip('720p-main', '1280x720', 'yuv420p', '-profile:v main'),
  clip('odd-baseline', '642x362', 'yuv420p', '-profile:v baseline'),
  clip('high422', '642x362', 'yuv422p', '-profile:v high422', 'crop=642:361:0:0'),
  clip('high10', '854x480', 'yuv420p10le', '-profile:v high10'),
  clip('high444-odd', '322x242', 'yuv444p', '-profile:v high444', 'crop=321:241:0:0'),
  clip('gray-odd', '322x242', 'gray', '', 'crop=321:241:0:0'),
  clip('1080i', '1920x1080', 'yuv420p', '-flags +ildct+ilme'),
  clip('486i-422-10bit', '720x486', 'yuv422p10le', '-profile:v high422 -flags +ildct+ilme'),
];

/** Encodes a clip to raw Annex-B in `dir`; `extra` goes to x264 (AUDs, GOP length). */
export async function encode(dir: string, clip: Clip, frames = 3, extra = ''): Promise<string> {
  const path = join(dir, `${clip.name}.h264`);
  const vf = [`format=${clip.pixFmt}`, ...(clip.filter ? [clip.filter] : [])].join(',');
  const x264 = extra ? ['-x264-params', extra] : [];
  await exec('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi'],
    ...['-i', `testsrc2=size=${clip.size}:rate=25`, '-vf', vf, '-frames:v', String(frames)],
    ...['-c:v', 'libx264', '-pix_fmt', clip.pixFmt, ...clip.args, ...x264, '-f', 'h264', path],
  ]);
  return path;
}

/** ffprobe's description of the one stream in `path`. */
export async function ffprobeStream(path: string): Promise<Record<string, unknown>> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path]);
  const streams = (JSON.parse(stdout) as { streams: Record<string, unknown>[] }).streams;
  expect(streams).toHaveLength(1);
  return streams[0]!;
}

/** The body of the one `avcC` box inside `moov` of an MP4 file. */
export function avcCOf(mp4: Buffer): Buffer {
  let at = 0;
  while (at + 8 <= mp4.length && mp4.toString('latin1', at + 4, at + 8) !== 'moov') {
    at += mp4.readUInt32BE(at);
  }
  const moov = mp4.subarray(at, at + mp4.readUInt32BE(at));
  const tag = moov.indexOf('avcC');
  expect(tag).toBeGreaterThan(4);
  expect(moov.lastIndexOf('avcC')).toBe(tag);
  return moov.subarray(tag + 4, tag - 4 + moov.readUInt32BE(tag - 4));
}

/** The names ffmpeg gives profiles (libavcodec/profiles.c), for what our encodes produce. */
export function ffmpegProfileName(info: SpsInfo): string {
  const constrained = (info.constraintFlags & 0x40) !== 0;
  const names: Record<number, string> = {
    66: constrained ? 'Constrained Baseline' : 'Baseline',
    77: 'Main',
    100: 'High',
    110: 'High 10',
    122: 'High 4:2:2',
    244: 'High 4:4:4 Predictive',
  };
  return names[info.profileIdc] ?? `unexpected profile ${info.profileIdc}`;
}

/** ffmpeg decodes monochrome as 4:2:0 with flat chroma; full range (yuvj) is a VUI matter. */
export function ffmpegPixFmt(info: SpsInfo): string {
  const layout = ['yuv420p', 'yuv420p', 'yuv422p', 'yuv444p'][info.chromaFormatIdc];
  return info.bitDepthLuma > 8 ? `${layout}${info.bitDepthLuma}le` : `${layout}`;
}

/**
 * SPS fields as ffmpeg's cbs_h264 reads them, per seq_parameter_set_id. A real one-frame
 * clip (SPS id 0) goes first: without a picture ffmpeg has no size and will not run.
 */
export async function ffmpegSpsTrace(
  dir: string,
  nals: Buffer[],
): Promise<Map<number, Map<string, number>>> {
  const tiny = await readFile(await encode(dir, clip('tiny', '64x64', 'yuv420p', ''), 1));
  const path = join(dir, 'written.h264');
  const written = nals.flatMap((nal) => [Buffer.from([0, 0, 0, 1]), nal]);
  await writeFile(path, Buffer.concat([tiny, ...written]));
  const args = ['-hide_banner', '-f', 'h264', '-i', path, '-c', 'copy', '-bsf:v', 'trace_headers'];
  const { stderr } = await exec('ffmpeg', [...args, '-f', 'null', '-'], big);
  const bySps = new Map<number, Map<string, number>>();
  let current = new Map<string, number>();
  for (const line of stderr.split('\n')) {
    if (line.includes('] Sequence Parameter Set')) current = new Map();
    const field = /\] \d+\s+(\S+)\s+[01]+ = (-?\d+)$/.exec(line);
    if (!field) continue;
    current.set(field[1]!, Number(field[2]));
    if (field[1] === 'seq_parameter_set_id') bySps.set(Number(field[2]), current);
  }
  return bySps;
}
