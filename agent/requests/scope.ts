import type { Config } from '../config/schema.js';
import { circleWithinRegions, withinCircle } from './geo.js';
import type { Delegation, RejectReason, RequestPayload } from './protocol.js';

/** A check's verdict: a reason to refuse with (and facts for the audit entry), or none. */
export type Refusal = { reason: RejectReason; detail?: Record<string, unknown> } | undefined;

/**
 * The scope checks on an authentic request (DESIGN.md promise 4), in the design's order:
 * `out_of_region` (the whole area inside the delegation's geohash prefixes),
 * `out_of_area` (this device inside the area), `radius_too_large` and `window_too_long`
 * (the tighter of the delegation's and the owner's limits).
 */
export function scopeRefusal(
  payload: RequestPayload,
  delegation: Delegation,
  config: Pick<Config, 'device' | 'policy'>,
): Refusal {
  if (!circleWithinRegions(payload.area, delegation.regions)) return { reason: 'out_of_region' };
  if (!withinCircle(config.device.location, payload.area)) return { reason: 'out_of_area' };
  const maxRadiusM = Math.min(delegation.maxRadiusM, config.policy.maxRadiusM);
  if (payload.area.radiusM > maxRadiusM) {
    return { reason: 'radius_too_large', detail: { radiusM: payload.area.radiusM, maxRadiusM } };
  }
  const windowMs = payload.window.end - payload.window.start;
  const maxWindowMs = Math.min(
    delegation.maxWindowS * 1000,
    config.policy.maxWindowHours * 3600_000,
  );
  if (windowMs > maxWindowMs)
    return { reason: 'window_too_long', detail: { windowMs, maxWindowMs } };
  return undefined;
}
