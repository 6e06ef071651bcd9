import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MediaInput } from './ffmpeg-args.js';
import type { Piece } from './plan.js';
import { ExportError } from './types.js';

/**
 * Joining footage for ffmpeg. The segments of one piece continue each other's timestamps,
 * so the concat *protocol* joins them byte for byte into one MPEG-TS. Several pieces (or
 * the smart cut's parts) go through the concat *demuxer*: each entry's timestamps restart
 * where the previous entry's declared duration ends, which is what lets a clip cross a
 * recorder restart whose timeline began again near 0.
 */

export interface ConcatEntry {
  /** `concat:/a.ts|/b.ts` or `file:/x.ts`. */
  url: string;
  durationS: number;
}

/** `concat:` URL of files whose bytes join into one stream. */
export function concatUrl(paths: readonly string[]): string {
  for (const path of paths) checkPath(path, '|');
  return `concat:${paths.join('|')}`;
}

/** A plain file as a URL: the `file:` prefix stops a name from being read as a protocol. */
export function fileUrl(path: string): string {
  checkPath(path, '');
  return `file:${path}`;
}

/** An ffconcat list; `'` inside a quoted name is written as `'\''`. */
export function ffconcatText(entries: readonly ConcatEntry[]): string {
  const lines = ['ffconcat version 1.0'];
  for (const entry of entries) {
    lines.push(`file '${entry.url.replaceAll("'", "'\\''")}'`);
    lines.push(`duration ${entry.durationS.toFixed(6)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The entries for whole pieces: each piece's segments joined into one. */
export function pieceEntries(pieces: readonly Piece[]): ConcatEntry[] {
  return pieces.map((piece) => ({
    url: concatUrl(piece.segments.map((segment) => segment.path)),
    durationS: piece.spanS,
  }));
}

/**
 * The footage of `pieces` as one ffmpeg input: the concat protocol for a single piece (no
 * list file to write), else an ffconcat list written into `workDir`.
 */
export async function footageInput(
  pieces: readonly Piece[],
  workDir: string,
  offsetS: number,
  name = 'footage.ffconcat',
): Promise<MediaInput> {
  const only = pieces.length === 1 ? pieces[0] : undefined;
  if (only) {
    return { kind: 'mpegts', url: concatUrl(only.segments.map((s) => s.path)), offsetS };
  }
  return listInput(pieceEntries(pieces), workDir, offsetS, name);
}

export async function listInput(
  entries: readonly ConcatEntry[],
  workDir: string,
  offsetS: number,
  name: string,
): Promise<MediaInput> {
  const path = join(workDir, name);
  await writeFile(path, ffconcatText(entries), { mode: 0o600 });
  return { kind: 'ffconcat', url: path, offsetS };
}

function checkPath(path: string, forbidden: string): void {
  const bad =
    !path.startsWith('/') || /[\n\r]/.test(path) || (forbidden && path.includes(forbidden));
  if (bad) throw new ExportError('bad_segment', 'a media path must be absolute and on one line');
}
