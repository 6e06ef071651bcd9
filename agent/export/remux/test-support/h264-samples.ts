import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import {
  annexBNals,
  avcDecoderConfig,
  NAL_AUD,
  NAL_IDR,
  NAL_PPS,
  NAL_SPS,
  parseSps,
} from '../h264.js';
import {
  type Edit,
  free,
  ftyp,
  MDAT_HEADER_BYTES,
  mdatHeader,
  moov,
  moovBound,
} from '../mp4-boxes.js';

export { decodeErrors } from '../../test-support/clip-readers.js';

/**
 * A round trip of real H.264 through the MP4 box writers: access units x264 encodes, an
 * MP4 laid out from them as the remuxer lays one out (index space reserved before the
 * media data), and what ffprobe and ffmpeg read back from it.
 */

const exec = promisify(execFile);

/**
 * Ten frames of 320x240, 25 fps, a keyframe every five, an AUD before every frame; each
 * as MP4 stores a sample (AVCC: every NAL unit after its 4-byte length).
 */
export async function accessUnits(dir: string): Promise<Buffer[]> {
  const path = join(dir, 'ten.h264');
  await exec('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi'],
    ...['-i', 'testsrc2=size=320x240:rate=25', '-frames:v', '10', '-c:v', 'libx264'],
    ...['-bf', '0', '-g', '5', '-x264-params', 'aud=1', '-f', 'h264', path],
  ]);
  const stream = await readFile(path);
  const nals = annexBNals(stream);
  const units: Buffer[][] = [];
  for (const nal of nals) {
    const body = stream.subarray(nal.start, nal.end);
    if (nal.type === NAL_AUD || units.length === 0) units.push([]);
    units.at(-1)?.push(body);
  }
  return units.map((unit) => Buffer.concat(unit.flatMap((body) => [u32(body.length), body])));
}

/**
 * Writes the ten `samples` to `path` as an MP4 (3600 ticks each, `edits` as given) and
 * returns the path: ftyp, moov, free padding up to the bound reserved for moov, mdat.
 */
export async function writeSampleMp4(
  path: string,
  samples: readonly Buffer[],
  edits: Edit[],
): Promise<string> {
  const nals = avccNals(samples[0] ?? Buffer.alloc(0));
  const sps = nals.find((nal) => nal.type === NAL_SPS)?.body;
  const pps = nals.find((nal) => nal.type === NAL_PPS)?.body;
  if (!sps || !pps) throw new Error('the first access unit carries no parameter sets');
  const info = parseSps(sps);
  const avcC = avcDecoderConfig(sps, pps, info);
  // Two chunks of five, as two segment files would give; the index space reserved first.
  const counts = [5, 5];
  const head = ftyp();
  const mdatStart = head.length + moovBound(samples.length, counts.length, avcC.length) + 8;
  let offset = mdatStart + MDAT_HEADER_BYTES;
  const chunks = counts.map((count, i) => {
    const chunk = { offset, samples: count };
    for (const s of samples.slice(5 * i, 5 * i + count)) offset += s.length;
    return chunk;
  });
  const index = moov({
    width: info.width,
    height: info.height,
    avcC,
    sizes: samples.map((s) => s.length),
    durations: samples.map(() => 3600),
    keys: samples.map(isIdr),
    chunks,
    edits,
  });
  const payload = Buffer.concat(samples);
  const file = Buffer.concat([
    head,
    index,
    free(mdatStart - head.length - index.length),
    mdatHeader(payload.length),
    payload,
  ]);
  expect(file.length).toBe(offset);
  await writeFile(path, file);
  return path;
}

/** What ffprobe reads of the clip's video: codec, size, frames decoded, duration. */
export async function probe(path: string) {
  const { stdout } = await exec('ffprobe', [
    ...['-v', 'error', '-count_frames', '-select_streams', 'v:0'],
    ...['-show_entries', 'stream=codec_name,width,height,nb_read_frames:format=duration'],
    ...['-of', 'json', path],
  ]);
  const json = JSON.parse(stdout) as {
    streams: { codec_name: string; width: number; height: number; nb_read_frames: string }[];
    format: { duration: string };
  };
  return { ...json.streams[0], durationS: Number(json.format.duration) };
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value, 0);
  return b;
}

/** The NAL units of an AVCC sample (4-byte lengths). */
export function avccNals(sample: Buffer): { type: number; body: Buffer }[] {
  const nals: { type: number; body: Buffer }[] = [];
  for (let at = 0; at < sample.length; ) {
    const body = sample.subarray(at + 4, at + 4 + sample.readUInt32BE(at));
    nals.push({ type: (body[0] ?? 0) & 0x1f, body });
    at += 4 + body.length;
  }
  return nals;
}

/** Whether the sample holds an IDR picture (a sync sample). */
export const isIdr = (sample: Buffer) => avccNals(sample).some((nal) => nal.type === NAL_IDR);
