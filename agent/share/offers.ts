import type { ClipOffer } from './types.js';

/** A span of motion as the motion store keeps it; `end` null while it goes on. */
export interface MotionSpan {
  start: number;
  end: number | null;
}

export interface OfferInput {
  window: { start: number; end: number };
  motion: readonly MotionSpan[];
  /** Segments overlapping the window: `[startMs, endMs)` and bytes. */
  segments: readonly { startMs: number; endMs: number; bytes: number }[];
  preRollMs: number;
  postRollMs: number;
  /** Where an open motion event ends for now. */
  now: number;
}

/**
 * The clips offered for a request (DESIGN.md, "Owner consent"): one per motion event that
 * overlaps the window, widened by the pre- and post-roll and cut to the window, events
 * whose clips touch merged into one; or the whole window when there was no motion.
 * Pure, so the CLI, the page and the share path offer the same clips.
 */
export function offerClips(input: OfferInput): ClipOffer[] {
  const { window } = input;
  const spans: { start: number; end: number }[] = [];
  for (const event of [...input.motion].sort((a, b) => a.start - b.start)) {
    const start = Math.max(window.start, event.start - input.preRollMs);
    const end = Math.min(window.end, (event.end ?? input.now) + input.postRollMs);
    if (end <= start) continue;
    const last = spans.at(-1);
    if (last && start <= last.end) last.end = Math.max(last.end, end);
    else spans.push({ start, end });
  }
  const motion = spans.length > 0;
  if (!motion) spans.push({ start: window.start, end: window.end });
  return spans.map((span, index) => ({
    index,
    start: span.start,
    end: span.end,
    motion,
    bytes: bytesOverlapping(input.segments, span.start, span.end),
  }));
}

/** Bytes of the segments a range overlaps: what cutting it reads. */
export function bytesOverlapping(
  segments: OfferInput['segments'],
  start: number,
  end: number,
): number {
  let bytes = 0;
  for (const segment of segments) {
    if (segment.startMs < end && segment.endMs > start) bytes += segment.bytes;
  }
  return bytes;
}
