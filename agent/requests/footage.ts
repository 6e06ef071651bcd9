import type { Pins } from '../recording/pins.js';
import type { SegmentIndex } from '../recording/segment-index.js';

/**
 * What the request code needs of the footage index: which segments a window overlaps,
 * how far back footage goes, and holds on segments. `footageIndexOf` adapts the
 * recorder's `SegmentIndex` and `Pins`.
 */
export interface FootageIndex {
  /** Segments with start < `toMs` and end > `fromMs`, oldest first. */
  overlapping(fromMs: number, toMs: number): Promise<readonly { readonly id: number }[]>;
  /** Start of the oldest retained footage (ms), or null when there is none. */
  oldestStart(): Promise<number | null>;
  /** Holds the segments for `owner` (idempotent). */
  pin(owner: string, segmentIds: readonly number[]): Promise<void>;
  /** Releases every hold of `owner` (idempotent). */
  unpin(owner: string): Promise<void>;
}

export function footageIndexOf(segments: SegmentIndex, pins: Pins): FootageIndex {
  return {
    overlapping: (fromMs, toMs) => segments.overlapping(fromMs, toMs),
    oldestStart: () => segments.oldestStart(),
    pin: (owner, ids) => pins.pin(owner, ids),
    unpin: (owner) => pins.unpin(owner),
  };
}

/** The pin owner of a pending request's footage. */
export function requestPinOwner(requestId: string): string {
  return `request:${requestId}`;
}
