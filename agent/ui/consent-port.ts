import type { StoredRequest } from '../requests/store.js';
import type { ClipOffer, ShareChoice, ShareJob, SharePlan } from '../share/types.js';

/**
 * What the owner's page asks of the agent's consent service (`agent.consent`): the page
 * shows and forwards, and every rule about what may be shared lives there. Errors are
 * `UserError`s with the codes listed on `plan`.
 */
export interface ConsentPort {
  offers(requestId: string): Promise<ClipOffer[]>;
  /** Path of a JPEG thumbnail made on the device. */
  thumbnail(requestId: string, index: number, signal?: AbortSignal): Promise<string>;
  /** Path of an MP4 preview made on the device (never leaves it). */
  preview(requestId: string, index: number, signal?: AbortSignal): Promise<string>;
  /**
   * Validates without changing anything; throws UserError with codes request_not_found,
   * request_not_pending, request_expired, no_such_clip, range_outside_window,
   * range_outside_clip, range_empty, nothing_to_share.
   */
  plan(requestId: string, choice: ShareChoice): Promise<SharePlan>;
  share(requestId: string, choice: ShareChoice): Promise<SharePlan>;
  decline(requestId: string): Promise<StoredRequest>;
  jobs(filter?: { requestId?: string }): Promise<ShareJob[]>;
}
