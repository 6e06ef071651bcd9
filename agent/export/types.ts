import { ThresholdError } from '../errors.js';
import type { SegmentRow } from '../recording/segment-index.js';

export type { SegmentRow };

/**
 * How a clip is cut. `fast`: stream copy from the keyframe before the range, the frames
 * before the range hidden by the MP4 edit list. `exact`: the partial group of pictures at
 * the start is re-encoded, the rest copied, so the file holds no frame outside the range.
 */
export type CutMode = 'fast' | 'exact';

/** A stretch of the requested range with no footage, wall-clock ms UTC. */
export interface ExportGap {
  fromMs: number;
  toMs: number;
  /** Where the clip jumps over the gap: seconds from the clip's start. */
  atS: number;
}

/** What the G.711 private stream of the recorder's MPEG-TS holds (it has no codec tag). */
export interface RawAudioFormat {
  codec: 'mulaw' | 'alaw';
  sampleRate: number;
  channels: number;
}

export interface ExportRequest {
  /** Segments overlapping the range, any order (the caller's index query). */
  segments: readonly SegmentRow[];
  fromMs: number;
  toMs: number;
  /** The MP4 to write; it appears only once complete and checked. */
  output: string;
  mode: CutMode;
  /** Keep the audio (transcoded to AAC); dropped by default (promise 7). */
  audio?: boolean;
  /** Also write a JPEG thumbnail of a frame of the clip here. */
  thumbnail?: string;
  signal?: AbortSignal;
  /** Fraction done, 0..1, as ffmpeg reports it. */
  onProgress?: (fraction: number) => void;
}

export interface ExportResult {
  output: string;
  bytes: number;
  /** Duration of the clip as ffprobe reads it, seconds. */
  durationS: number;
  /** Seconds of footage the plan put into the clip (the range minus its gaps). */
  plannedS: number;
  mode: CutMode;
  /** The cut actually made: `exact` on a source the smart cut cannot join is re-encoded. */
  method: 'copy' | 'smart-cut' | 're-encode';
  audio: 'included' | 'dropped' | 'absent';
  gaps: ExportGap[];
  /** The segments the clip was cut from, in order (for the custody record). */
  segments: SegmentRow[];
  thumbnail?: string;
}

export type ExportErrorCode =
  | 'bad_range'
  | 'bad_segment'
  | 'no_footage'
  | 'export_cancelled'
  | 'export_invalid_output';

export class ExportError extends ThresholdError {
  constructor(
    override readonly code: ExportErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The error an export ends with once its signal is aborted. */
export function exportCancelled(signal: AbortSignal): ExportError {
  return new ExportError('export_cancelled', 'the export was cancelled', { cause: signal.reason });
}
