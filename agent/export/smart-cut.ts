import { join } from 'node:path';
import type { ConcatEntry } from './concat-list.js';
import { concatUrl, fileUrl, pieceEntries } from './concat-list.js';
import type { EncodeMatch } from './ffmpeg-args.js';
import type { Piece } from './plan.js';
import type { ProbedStream, SegmentProbe } from './probe.js';

/**
 * The exact cut ("smart cut"). Only the start of a range can fall inside a group of
 * pictures whose keyframe is outside it: those frames, up to the next keyframe, are decoded
 * and encoded again with settings that match the source, so the new frames join the copied
 * ones. Everything from that keyframe on is copied. The end needs no encoding: without
 * frame reordering a frame refers only to earlier ones, so the copy simply stops at the
 * range end. Sources with reordered frames (B-frames), or a profile or pixel format x264
 * cannot match, are not smart-cut; the caller re-encodes the whole range instead.
 */
export interface EdgePlan {
  /** Stream time (the segment's timeline) of the clip's first frame: its time 0. */
  originS: number;
  /** Frames to re-encode: timestamps in [startS, endS) of the segment. */
  head?: { startS: number; endS: number; durationS: number };
  /** Packets to copy from the keyframe at timestamp `fromS` to the segment's end. */
  part?: { fromS: number; durationS: number };
  /** Seconds of the first piece in the clip, from the origin. */
  firstPieceS: number;
  match: EncodeMatch;
}

/** Half a 90 kHz-grid rounding step apart counts as the same instant. */
const SAME_TIME_S = 0.0005;

/**
 * Plans the edge inside `piece`'s first segment, or says why the source cannot be cut so.
 * `offsetS` turns the index's stream time into the segment's timestamps (`fileOffsetS`).
 */
export function planEdge(
  probe: SegmentProbe,
  piece: Piece,
  offsetS: number,
): EdgePlan | { unsupported: string } {
  const match = encodeMatch(probe.video);
  if (typeof match === 'string') return { unsupported: match };
  const frames = [...probe.packets].sort((a, b) => a.ptsS - b.ptsS);
  if (frames.length === 0 || !frames[0]?.key) {
    return { unsupported: 'the segment does not start with a keyframe' };
  }
  if ((probe.video.has_b_frames ?? 0) > 0 || frames.some((f) => f.ptsS !== f.dtsS)) {
    return { unsupported: 'the video reorders frames (B-frames)' };
  }
  const first = piece.segments[0];
  if (!first) return { unsupported: 'the piece has no segments' };
  const segmentEndS = first.ptsEnd + offsetS;
  const startS = first.ptsStart + offsetS + piece.offsetS;
  const endS = startS + piece.durationS;
  const firstFrame = frames.find((f) => f.ptsS >= startS - SAME_TIME_S);
  const keyframe = frames.find((f) => f.key && f.ptsS >= startS - SAME_TIME_S);
  const originS = firstFrame?.ptsS ?? segmentEndS;
  const headEndS = Math.min(keyframe?.ptsS ?? segmentEndS, endS);
  const plan: EdgePlan = { originS, firstPieceS: Math.max(0, endS - originS), match };
  if (firstFrame && headEndS > originS + SAME_TIME_S) {
    plan.head = { startS: originS, endS: headEndS, durationS: headEndS - originS };
  }
  if (keyframe && keyframe.ptsS < endS - SAME_TIME_S) {
    plan.part = { fromS: keyframe.ptsS, durationS: segmentEndS - keyframe.ptsS };
  }
  return plan;
}

/** The concat entries of an exact clip: re-encoded head, copied part, the rest as is. */
export function exactEntries(
  plan: EdgePlan,
  pieces: readonly Piece[],
  files: { head: string; part: string },
): ConcatEntry[] {
  const [firstPiece, ...otherPieces] = pieces;
  const entries: ConcatEntry[] = [];
  if (plan.head) entries.push({ url: fileUrl(files.head), durationS: plan.head.durationS });
  if (plan.part) entries.push({ url: fileUrl(files.part), durationS: plan.part.durationS });
  const rest = firstPiece?.segments.slice(1) ?? [];
  const restFirst = rest[0];
  const restLast = rest.at(-1);
  if (restFirst && restLast) {
    entries.push({
      url: concatUrl(rest.map((segment) => segment.path)),
      durationS: restLast.ptsEnd - restFirst.ptsStart,
    });
  }
  return [...entries, ...pieceEntries(otherPieces)];
}

/** Seconds of an exact clip: the first piece from the origin, then the other pieces. */
export function exactDuration(plan: EdgePlan, pieces: readonly Piece[]): number {
  return pieces.slice(1).reduce((sum, piece) => sum + piece.durationS, plan.firstPieceS);
}

export function edgeFiles(workDir: string): { head: string; part: string } {
  return { head: join(workDir, 'head.ts'), part: join(workDir, 'part.ts') };
}

/** The x264 settings that reproduce the source's SPS essentials, or why there are none. */
export function encodeMatch(video: ProbedStream): EncodeMatch | string {
  if (video.codec_name !== 'h264') return `the video is ${video.codec_name ?? 'unknown'}`;
  const profile = (
    {
      'Constrained Baseline': 'baseline',
      Baseline: 'baseline',
      Main: 'main',
      High: 'high',
    } as const
  )[video.profile ?? ''];
  if (!profile) return `x264 cannot match the ${video.profile ?? 'unknown'} profile`;
  const pixFmt = video.pix_fmt;
  if (pixFmt !== 'yuv420p' && pixFmt !== 'yuvj420p') {
    return `x264 cannot match the ${pixFmt ?? 'unknown'} pixel format`;
  }
  if (!video.level || video.level <= 0) return 'the video has no level';
  return {
    profile,
    level: video.level,
    pixFmt,
    ...(video.color_range ? { colorRange: video.color_range } : {}),
    ...(video.color_space ? { colorSpace: video.color_space } : {}),
    ...(video.color_primaries ? { colorPrimaries: video.color_primaries } : {}),
    ...(video.color_transfer ? { colorTransfer: video.color_transfer } : {}),
  };
}
