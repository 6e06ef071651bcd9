import type { Piece } from '../plan.js';
import { isRunStart } from '../probe.js';
import type { SegmentRow } from '../types.js';
import { RemuxUnsupported } from './errors.js';
import type { Edit } from './mp4-boxes.js';
import { type PesTimes, TICKS_PER_S, tickDelta } from './mpegts.js';

/**
 * Which access units go into a fast clip, and when each is decoded: pure arithmetic over
 * the PES times of the first pass. The clip copies from the keyframe at or before the
 * range's start; the frames before the start stay in the file and the edit list hides
 * them, so the clip presents exactly the range. Pieces (see `planExport`) sit back to
 * back where the plan puts them, whatever lies between them in the footage.
 */

/** The first pass over one segment file. */
export interface FileTimes {
  row: SegmentRow;
  times: PesTimes;
}

export interface PieceTimes {
  piece: Piece;
  files: readonly FileTimes[];
}

/** Access units [from, to) of one file, stored as one chunk. */
export interface Slice {
  row: SegmentRow;
  from: number;
  to: number;
}

export interface Timeline {
  slices: Slice[];
  /** Per sample in clip order: decoding time (90 kHz, from 0), duration, sync sample. */
  dts: number[];
  durations: number[];
  keys: boolean[];
  edits: Edit[];
}

/** A frame's length when a file gives nothing to measure it by (25 fps). */
const DEFAULT_FRAME_TICKS = 3600;

interface PieceUnits {
  /** Ticks from the piece's first access unit, unwrapped. */
  rel: number[];
  key: boolean[];
  /** Which file and which unit in it. */
  file: number[];
  unit: number[];
}

export function clipTimeline(pieces: readonly PieceTimes[], durationS: number): Timeline {
  const timeline: Timeline = { slices: [], dts: [], durations: [], keys: [], edits: [] };
  let shift: number | undefined; // the edit's media time: where the range starts in the track
  let clipS = 0;
  for (const { piece, files } of pieces) {
    const units = unitsOf(files);
    const origin = windowStart(piece, files, units);
    const windowEnd = origin + Math.round(piece.durationS * TICKS_PER_S);
    let first = -1;
    for (let i = 0; i < units.rel.length && (units.rel[i] ?? 0) <= origin; i++) {
      if (units.key[i]) first = i;
    }
    if (first < 0) {
      // The range starts before the piece's first picture (a run's audio lead-in).
      if (!units.key[0]) throw new RemuxUnsupported('a piece does not open with a keyframe');
      first = 0;
    }
    let end = first;
    while (end < units.rel.length && (units.rel[end] ?? 0) < windowEnd) end++;
    if (end === first) throw new RemuxUnsupported('a piece has no picture in the range');
    const firstRel = units.rel[first] ?? 0;
    shift ??= origin - firstRel;
    // Where this piece's first unit is decoded: the piece's place in the clip, plus how far
    // its first unit lies from the piece's own start.
    const base = Math.max(
      shift + Math.round(clipS * TICKS_PER_S) + (firstRel - origin),
      (timeline.dts.at(-1) ?? -1) + 1,
    );
    const previous = timeline.durations.length - 1;
    if (previous >= 0) timeline.durations[previous] = base - (timeline.dts.at(-1) ?? 0);
    for (let i = first; i < end; i++) {
      timeline.dts.push(base + (units.rel[i] ?? 0) - firstRel);
      timeline.keys.push(units.key[i] ?? false);
      const next = units.rel[i + 1];
      timeline.durations.push(next !== undefined ? next - (units.rel[i] ?? 0) : 0);
    }
    const last = timeline.durations.length - 1;
    timeline.durations[last] = frameTicks(units, end - 1);
    addSlices(timeline.slices, files, units, first, end);
    clipS += piece.durationS;
  }
  if (timeline.durations.some((d) => d <= 0)) {
    throw new RemuxUnsupported('decoding times do not increase');
  }
  const lead = shift ?? 0;
  timeline.edits =
    lead >= 0
      ? [{ mediaTime: lead, durationS }]
      : [
          { mediaTime: -1, durationS: -lead / TICKS_PER_S },
          { mediaTime: 0, durationS: durationS + lead / TICKS_PER_S },
        ];
  return timeline;
}

/** A piece's access units in order, times relative to its first, across 33-bit wraps. */
function unitsOf(files: readonly FileTimes[]): PieceUnits {
  const units: PieceUnits = { rel: [], key: [], file: [], unit: [] };
  let previous: number | undefined;
  let rel = 0;
  for (const [f, { times }] of files.entries()) {
    for (let i = 0; i < times.pts.length; i++) {
      const pts = times.pts[i] ?? 0;
      if (times.dts[i] !== pts) throw new RemuxUnsupported('the video reorders frames');
      if (previous !== undefined) rel += tickDelta(previous, pts);
      previous = pts;
      units.rel.push(rel);
      units.key.push(times.key[i] ?? false);
      units.file.push(f);
      units.unit.push(i);
    }
  }
  if (units.rel.length === 0) throw new RemuxUnsupported('a piece holds no video');
  return units;
}

/**
 * Ticks from the piece's first access unit to where its part of the range starts. The
 * index counts stream time from ffmpeg's first packet of the run; a segment inside a run
 * starts with the keyframe its `ptsStart` names. A run's first segment may open with audio
 * ahead of its first picture, so its end is used instead: the next segment's keyframe, or
 * one frame after its last picture (as `fileOffsetS` reasons for the ffmpeg path).
 */
function windowStart(piece: Piece, files: readonly FileTimes[], units: PieceUnits): number {
  const first = files[0]?.row;
  if (!first) throw new RangeError('a piece has at least one file');
  const startS = first.ptsStart + piece.offsetS;
  if (!isRunStart(first)) return Math.round((startS - first.ptsStart) * TICKS_PER_S);
  const lastOfFirst = (files[0]?.times.pts.length ?? 0) - 1;
  // The next segment's first unit is that end exactly; without one, a frame is estimated.
  const endRel =
    units.rel[lastOfFirst + 1] ?? (units.rel[lastOfFirst] ?? 0) + frameTicks(units, lastOfFirst);
  return endRel - Math.round((first.ptsEnd - startS) * TICKS_PER_S);
}

/** The length of unit `i`: the step before it, as a camera's frame rate holds steady. */
function frameTicks(units: PieceUnits, i: number): number {
  const step = i > 0 ? (units.rel[i] ?? 0) - (units.rel[i - 1] ?? 0) : 0;
  return step > 0 ? step : DEFAULT_FRAME_TICKS;
}

function addSlices(
  slices: Slice[],
  files: readonly FileTimes[],
  units: PieceUnits,
  first: number,
  end: number,
): void {
  let i = first;
  while (i < end) {
    const f = units.file[i] ?? 0;
    let j = i;
    while (j < end && units.file[j] === f) j++;
    const row = files[f]?.row;
    if (!row) throw new RangeError('a unit names a file that is not there');
    slices.push({ row, from: units.unit[i] ?? 0, to: (units.unit[j - 1] ?? 0) + 1 });
    i = j;
  }
}
