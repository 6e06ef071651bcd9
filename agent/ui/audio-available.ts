import { probeSegment } from '../export/probe.js';
import type { SegmentIndex } from '../recording/segment-index.js';
import type { StoredRequest } from '../requests/store.js';

/**
 * Whether the footage of a request has sound, so the page offers the audio choice only
 * when there is something to choose (promise 7: off unless the owner opts in). The
 * recording's first segment in the window is asked once (ffprobe) and the answer kept.
 */
export function audioAvailability(deps: {
  segments: SegmentIndex;
  ffprobePath: string;
}): (request: StoredRequest, signal?: AbortSignal) => Promise<boolean> {
  const known = new Map<string, boolean>();
  return async (request, signal) => {
    const cached = known.get(request.id);
    if (cached !== undefined) return cached;
    const [first] = await deps.segments.overlapping(request.window.start, request.window.end);
    if (!first) return false;
    const probe = await probeSegment(deps.ffprobePath, first.path, {
      packets: false,
      ...(signal ? { signal } : {}),
    });
    const has = probe.audio !== undefined;
    if (known.size > 1000) known.clear();
    known.set(request.id, has);
    return has;
  };
}
