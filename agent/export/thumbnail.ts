import { rename, rm } from 'node:fs/promises';
import { runMediaTool } from './media-tool.js';

export interface ThumbnailInput {
  /** A clip or a segment. */
  input: string;
  /** Which moment, seconds from the input's start. */
  atS: number;
  output: string;
  /** Pixels; the height follows the aspect ratio (even, as JPEG 4:2:0 wants). */
  width: number;
}

/**
 * One frame as a small JPEG. `-ss` before `-i` seeks by the file's index to the keyframe
 * before `atS` and decodes from there, so the frame shown is the one at `atS`.
 */
export function thumbnailArgs(input: ThumbnailInput): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'error',
    '-ss',
    Math.max(0, input.atS).toFixed(3),
    '-i',
    input.input,
    '-map',
    '0:v:0',
    '-frames:v',
    '1',
    '-vf',
    `scale=${Math.round(input.width)}:-2`,
    '-q:v',
    '5',
    '-flags:v',
    '+bitexact',
    '-map_metadata',
    '-1',
    '-f',
    'image2',
    '-update',
    '1',
    '-y',
    input.output,
  ];
}

/** Writes the thumbnail beside its final name, then renames it into place. */
export async function makeThumbnail(
  ffmpegPath: string,
  input: ThumbnailInput,
  signal?: AbortSignal,
): Promise<string> {
  const partial = `${input.output}.partial.jpg`;
  try {
    await runMediaTool(
      ffmpegPath,
      thumbnailArgs({ ...input, output: partial }),
      signal ? { signal } : {},
    );
    await rename(partial, input.output);
    return input.output;
  } finally {
    await rm(partial, { force: true });
  }
}
