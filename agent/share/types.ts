/**
 * The owner's side of a request, as the CLI and the owner's page see it: the clips offered,
 * the choice the owner makes, and the jobs an approval becomes (DESIGN.md, "Owner consent").
 * Times are ms since the epoch (UTC).
 */

/** A clip offered for a pending request: a motion event with its pre/post roll, or the window. */
export interface ClipOffer {
  /** 0-based, in time order; stable for a request whose window has passed. */
  index: number;
  start: number;
  end: number;
  /** True when the clip is around motion; false when it is the whole window. */
  motion: boolean;
  /** Bytes of the recorded segments the clip overlaps (what a fast cut reads). */
  bytes: number;
}

/** What the owner chose to send. Ranges must lie inside the request's window. */
export interface ShareChoice {
  /** Offered clips by index, each optionally narrowed (inside the clip). */
  clips: readonly { index: number; start?: number; end?: number }[];
  /** Free ranges inside the window. */
  ranges: readonly { start: number; end: number }[];
  /** `exact`: not one frame outside the range (smart cut); `fast`: stream copy. */
  mode: 'fast' | 'exact';
  /** Audio is stripped unless the owner opts in (promise 7). */
  audio: boolean;
}

/** What an approval will send, shown to the owner before they confirm. */
export interface SharePlan {
  requestId: string;
  agencyName: string;
  investigationCode: string;
  /** The agency's upload endpoint (the host is what the owner sees). */
  uploadUrl: string;
  /** The clips to send, merged where the choice overlapped, in time order. */
  clips: { clipIndex: number; start: number; end: number }[];
  totalMs: number;
  mode: 'fast' | 'exact';
  audio: boolean;
}

/**
 * A clip job's life (DESIGN.md): approved → exported → sealed → uploading → uploaded, or
 * failed(reason) for a permanent refusal only.
 */
export type ShareJobState =
  | 'approved'
  | 'exported'
  | 'sealed'
  | 'uploading'
  | 'uploaded'
  | 'failed';

export interface ShareJob {
  id: number;
  requestId: string;
  clipIndex: number;
  start: number;
  end: number;
  mode: 'fast' | 'exact';
  audio: boolean;
  state: ShareJobState;
  /** Sealed clip plus sealed custody record, once sealed. */
  bytesTotal: number | null;
  /** Bytes the agency has confirmed (both uploads). */
  bytesSent: number;
  attempts: number;
  lastError: string | null;
  /** Why the job failed, for `failed` only. */
  failure: string | null;
  updatedAt: number;
}
