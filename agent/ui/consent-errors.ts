import { UserError } from '../errors.js';
import { HttpError } from './http.js';

/** The consent service's refusals in plain words, with the status the page answers. */
const REFUSALS: Record<string, [number, string]> = {
  request_not_found: [404, 'There is no such request on this camera.'],
  request_not_pending: [409, 'This request has already been answered or has expired.'],
  request_expired: [409, 'This request has expired: nothing can be shared for it any more.'],
  no_such_clip: [400, 'That clip is not offered for this request.'],
  range_outside_window: [400, 'The times you chose are outside the window the agency asked for.'],
  range_outside_clip: [400, 'The times you chose are outside the clip.'],
  range_empty: [400, 'The part you chose is empty: "To" must come after "From".'],
  nothing_to_share: [400, 'Tick at least one clip to share.'],
};

/** A `UserError` from the consent service as the page's refusal; anything else as is. */
export function asHttpError(err: unknown): unknown {
  if (err instanceof UserError) {
    const known = REFUSALS[err.code];
    if (known) return new HttpError(known[0], err.code, known[1]);
  }
  return err;
}
