import { ExportError, type ExportGap, type SegmentRow } from './types.js';

/**
 * Which footage goes into a clip: pure arithmetic over index rows, no I/O.
 *
 * A *piece* is a run of segments whose stream timestamps continue one into the next (one
 * recorder run, nothing missing), so its files join byte for byte into one valid MPEG-TS.
 * A new recorder run restarts the timeline; a missing segment leaves a hole: either starts
 * a new piece, and the wall-clock time between pieces is reported as a gap. The clip
 * holds the pieces back to back.
 */
export interface Piece {
  runId: number;
  segments: readonly SegmentRow[];
  /** Seconds from the first segment's first frame to where the clip starts in it. */
  offsetS: number;
  /** Seconds of this piece in the clip. */
  durationS: number;
  /** Stream seconds the segments hold, first start to last end. */
  spanS: number;
  /** Wall-clock ms the piece covers within the range. */
  fromMs: number;
  toMs: number;
}

export interface ExportPlan {
  fromMs: number;
  toMs: number;
  pieces: Piece[];
  gaps: ExportGap[];
  /** Seconds of footage in the clip: the sum of the pieces. */
  durationS: number;
}

/** Stream timestamps of consecutive segments of one run differ by at most this. */
const PTS_JOIN_TOLERANCE_S = 0.05;
/** Uncovered stretches shorter than this are rounding, not gaps. */
const MIN_GAP_MS = 50;
/** Pieces shorter than this (a rounding sliver at an edge) are left out. */
const MIN_PIECE_S = 0.001;

export function planExport(rows: readonly SegmentRow[], fromMs: number, toMs: number): ExportPlan {
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || toMs <= fromMs) {
    throw new ExportError('bad_range', 'the range must end after it starts');
  }
  const covering = rows
    .filter((row) => row.startMs < toMs && row.endMs > fromMs)
    .map(checkedRow)
    .sort((a, b) => a.startMs - b.startMs || a.id - b.id);
  const pieces: Piece[] = [];
  for (const group of contiguousGroups(covering)) {
    const piece = pieceOf(group, fromMs, toMs);
    if (piece.durationS >= MIN_PIECE_S) pieces.push(piece);
  }
  if (pieces.length === 0) {
    throw new ExportError(
      'no_footage',
      `no footage between ${new Date(fromMs).toISOString()} and ${new Date(toMs).toISOString()}`,
    );
  }
  const gaps: ExportGap[] = [];
  let cursor = fromMs;
  let clipS = 0;
  for (const piece of pieces) {
    if (piece.fromMs - cursor >= MIN_GAP_MS) {
      gaps.push({ fromMs: cursor, toMs: piece.fromMs, atS: clipS });
    }
    clipS += piece.durationS;
    cursor = Math.max(cursor, piece.toMs);
  }
  if (toMs - cursor >= MIN_GAP_MS) gaps.push({ fromMs: cursor, toMs, atS: clipS });
  return { fromMs, toMs, pieces, gaps, durationS: clipS };
}

/** Stream seconds (the segment's timeline) at wall-clock `ms` inside `row`. */
export function streamTimeAt(row: SegmentRow, ms: number): number {
  const wall = row.endMs - row.startMs;
  if (wall <= 0) return row.ptsStart;
  const fraction = Math.min(1, Math.max(0, (ms - row.startMs) / wall));
  return row.ptsStart + fraction * (row.ptsEnd - row.ptsStart);
}

function contiguousGroups(rows: readonly SegmentRow[]): SegmentRow[][] {
  const groups: SegmentRow[][] = [];
  let current: SegmentRow[] = [];
  for (const row of rows) {
    const previous = current.at(-1);
    const continues =
      previous !== undefined &&
      previous.runId === row.runId &&
      Math.abs(row.ptsStart - previous.ptsEnd) <= PTS_JOIN_TOLERANCE_S;
    if (!continues && current.length > 0) {
      groups.push(current);
      current = [];
    }
    current.push(row);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

function pieceOf(group: readonly SegmentRow[], fromMs: number, toMs: number): Piece {
  const first = group[0] as SegmentRow;
  const last = group.at(-1) as SegmentRow;
  const pieceFrom = Math.max(fromMs, first.startMs);
  const pieceTo = Math.min(toMs, last.endMs);
  const offsetS = streamTimeAt(first, pieceFrom) - first.ptsStart;
  const endS = streamTimeAt(last, pieceTo) - first.ptsStart;
  return {
    runId: first.runId,
    segments: group,
    offsetS,
    durationS: Math.max(0, endS - offsetS),
    spanS: last.ptsEnd - first.ptsStart,
    fromMs: pieceFrom,
    toMs: pieceTo,
  };
}

/**
 * Segment paths become ffmpeg URLs (`concat:a|b`, ffconcat lines): only absolute paths
 * free of the characters those syntaxes give meaning to are accepted.
 */
function checkedRow(row: SegmentRow): SegmentRow {
  const sane =
    row.path.startsWith('/') &&
    !/[|\n\r\\']/.test(row.path) &&
    [row.startMs, row.endMs, row.ptsStart, row.ptsEnd].every(Number.isFinite) &&
    row.endMs >= row.startMs &&
    row.ptsEnd >= row.ptsStart;
  if (!sane) throw new ExportError('bad_segment', `segment ${row.id} has an unusable index row`);
  return row;
}
