import { open } from 'node:fs/promises';
import type { MuxArgsInput } from './ffmpeg-args.js';
import type { ClipProbe } from './probe.js';
import { ExportError } from './types.js';

/** A clip may be this much longer or shorter than planned (AAC frames, rounding). */
export function durationTolerance(plannedS: number): number {
  return Math.max(0.25, plannedS * 0.005);
}

/**
 * Checks a finished clip with ffprobe before anyone seals it: one H.264 video stream, an
 * AAC stream exactly when audio was asked for, nothing else, and the planned duration.
 */
export function checkClip(probe: ClipProbe, expected: ClipExpectation): ClipProbe {
  const problems = clipProblems(probe, expected);
  if (problems.length > 0) {
    throw new ExportError(
      'export_invalid_output',
      `the clip failed its check: ${problems.join('; ')}`,
    );
  }
  return probe;
}

/** What a clip must hold: the planned duration, and audio when some was muxed. */
export type ClipExpectation = Pick<MuxArgsInput, 'durationS' | 'audio'>;

/** What is wrong with a probed clip, as phrases; empty when it is as planned. */
export function clipProblems(probe: ClipProbe, expected: ClipExpectation): string[] {
  const problems: string[] = [];
  const video = probe.streams.filter((stream) => stream.codec_type === 'video');
  const audio = probe.streams.filter((stream) => stream.codec_type === 'audio');
  if (video.length !== 1 || video[0]?.codec_name !== 'h264') {
    problems.push('expected one H.264 video stream');
  }
  const wantAudio = expected.audio ? 1 : 0;
  if (audio.length !== wantAudio || audio.some((stream) => stream.codec_name !== 'aac')) {
    problems.push(wantAudio ? 'expected one AAC audio stream' : 'expected no audio stream');
  }
  if (probe.streams.length !== video.length + audio.length) problems.push('unexpected streams');
  const off = Math.abs(probe.durationS - expected.durationS);
  if (!(off <= durationTolerance(expected.durationS))) {
    problems.push(
      `duration ${probe.durationS.toFixed(3)} s, planned ${expected.durationS.toFixed(3)} s`,
    );
  }
  return problems;
}

const TOP_LEVEL = new Set(['ftyp', 'moov', 'free', 'skip', 'mdat']);

/**
 * What is wrong with the MP4's top-level boxes: they must tile the file exactly, start with
 * `ftyp`, and hold the index (`moov`) before the media (`mdat`), so a player can start at
 * once. ffprobe reads the index and would not notice a damaged `mdat` header (ffmpeg 5.1
 * can write one and still exit 0).
 */
export async function layoutProblems(path: string): Promise<string[]> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const header = Buffer.alloc(16);
    const boxes: string[] = [];
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await file.read(header, 0, 16, offset);
      if (bytesRead < 8) return [`a truncated box header at byte ${offset}`];
      const type = header.toString('latin1', 4, 8);
      let length = header.readUInt32BE(0);
      if (length === 1 && bytesRead === 16) length = Number(header.readBigUInt64BE(8));
      if (length === 0) length = size - offset; // "to the end of the file"
      if (!TOP_LEVEL.has(type) || length < 8) return [`an unexpected box at byte ${offset}`];
      boxes.push(type);
      offset += length;
    }
    const problems: string[] = [];
    if (offset !== size) problems.push('the boxes overrun the file');
    if (boxes[0] !== 'ftyp') problems.push('the file does not start with ftyp');
    const moov = boxes.indexOf('moov');
    const mdat = boxes.indexOf('mdat');
    if (moov < 0 || mdat < 0 || moov > mdat) problems.push('the index is not before the media');
    return problems;
  } finally {
    await file.close();
  }
}
