import { UserError } from '../errors.js';
import type { ClipOffer, ShareChoice } from './types.js';

/** The shortest clip worth cutting: less than a frame of 10 fps video is no clip. */
const MIN_CLIP_MS = 100;

export interface PlannedClip {
  clipIndex: number;
  start: number;
  end: number;
}

/**
 * Turns the owner's choice into the clips to send: each named clip (optionally narrowed
 * inside itself) and each free range, all inside the request's window, overlapping ones
 * merged so that no footage is sent twice. Throws a `UserError` naming the first thing
 * wrong; it decides nothing and changes nothing.
 */
export function planClips(
  window: { start: number; end: number },
  offers: readonly ClipOffer[],
  choice: Pick<ShareChoice, 'clips' | 'ranges'>,
): PlannedClip[] {
  const ranges: { start: number; end: number }[] = [];
  const everything = choice.clips.length === 0 && choice.ranges.length === 0;
  const picked: ShareChoice['clips'] = everything
    ? offers.map((offer) => ({ index: offer.index }))
    : choice.clips;
  for (const pick of picked) {
    const offer = offers.find((candidate) => candidate.index === pick.index);
    if (!offer) {
      throw new UserError(
        'no_such_clip',
        `clip ${pick.index}: no such clip (this request offers ${offers.length === 1 ? 'clip 0' : `clips 0–${offers.length - 1}`})`,
      );
    }
    const start = pick.start ?? offer.start;
    const end = pick.end ?? offer.end;
    if (start < offer.start || end > offer.end) {
      throw new UserError(
        'range_outside_clip',
        `clip ${pick.index}: a narrowed range must lie inside the clip (${iso(offer.start)} – ${iso(offer.end)})`,
      );
    }
    ranges.push(checked({ start, end }, `clip ${pick.index}`));
  }
  for (const range of choice.ranges) {
    if (!Number.isFinite(range.start) || !Number.isFinite(range.end)) {
      throw new UserError('range_empty', 'a range: not a time range');
    }
    if (range.start < window.start || range.end > window.end) {
      throw new UserError(
        'range_outside_window',
        `range ${iso(range.start)}/${iso(range.end)}: outside the request's window (${iso(window.start)} – ${iso(window.end)})`,
      );
    }
    ranges.push(checked(range, `range ${iso(range.start)}/${iso(range.end)}`));
  }
  if (ranges.length === 0) throw new UserError('nothing_to_share', 'nothing chosen to share');
  ranges.sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const range of ranges) {
    const last = merged.at(-1);
    if (last && range.start <= last.end) last.end = Math.max(last.end, range.end);
    else merged.push({ ...range });
  }
  return merged.map((range, clipIndex) => ({ clipIndex, ...range }));
}

function checked(range: { start: number; end: number }, what: string) {
  if (!Number.isFinite(range.start) || !Number.isFinite(range.end)) {
    throw new UserError('range_empty', `${what}: not a time range`);
  }
  if (range.end - range.start < MIN_CLIP_MS) {
    throw new UserError(
      'range_empty',
      `${what}: the range must be at least ${MIN_CLIP_MS} ms long`,
    );
  }
  return range;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
