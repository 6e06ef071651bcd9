import type { Database } from '../db/database.js';
import { UserError } from '../errors.js';
import type { AgentEvents } from '../events.js';
import type { MotionStore } from '../recording/motion-store.js';
import type { Pins } from '../recording/pins.js';
import type { SegmentIndex } from '../recording/segment-index.js';
import type { ClockFloor } from '../requests/clock-floor.js';
import type { RequestStore, StoredRequest } from '../requests/store.js';
import type { ClockSync } from './clock-sync.js';
import { type JobStore, publicJob } from './job-store.js';
import { offerClips } from './offers.js';
import { planClips } from './plan.js';
import type { Previews } from './previews.js';
import type { ClipOffer, ShareChoice, ShareJob, SharePlan } from './types.js';

export interface ConsentDeps {
  db: Database;
  requests: RequestStore;
  jobs: JobStore;
  pins: Pins;
  segments: SegmentIndex;
  motion: MotionStore;
  clock: ClockFloor;
  previews: Previews;
  roll: { preRollSeconds: number; postRollSeconds: number };
  clockSync: () => Promise<ClockSync>;
  events?: AgentEvents;
  /** Told after an approval commits (the share pipeline wakes). */
  onShared?: () => void;
}

/** The pin owner of a share job's source footage, until the clip is sealed. */
export function sharePinOwner(jobId: number): string {
  return `share:${jobId}`;
}

/**
 * The owner's decisions on a request, the one API the CLI and the owner's page share
 * (DESIGN.md, "Owner consent"). Offers and plans only read. An approval commits in one
 * transaction: the approval, one job per clip, the pins on each clip's footage, the
 * request's move to `shared` and its audit entry. A refusal (unknown, decided or
 * expired request, a range outside the window, a clip that does not exist) throws a
 * `UserError` before anything is written, and nothing is sent anywhere.
 */
export class Consent {
  constructor(private readonly deps: ConsentDeps) {}

  /** The clips offered for a request (any state: history shows them too). */
  async offers(requestId: string): Promise<ClipOffer[]> {
    return this.#offersFor(await this.#request(requestId));
  }

  async thumbnail(requestId: string, index: number, signal?: AbortSignal): Promise<string> {
    const request = await this.#pending(requestId);
    const offer = await this.#offer(request, index);
    const pre = this.deps.roll.preRollSeconds * 1000;
    const at = offer.motion
      ? Math.min(offer.end - 1, offer.start + (offer.start > request.window.start ? pre : 0))
      : offer.start + (offer.end - offer.start) / 2;
    return this.deps.previews.thumbnail(request.id, offer, Math.round(at), signal);
  }

  async preview(requestId: string, index: number, signal?: AbortSignal): Promise<string> {
    const request = await this.#pending(requestId);
    return this.deps.previews.preview(request.id, await this.#offer(request, index), signal);
  }

  /** What `choice` would send; throws a `UserError` when it cannot be shared. */
  async plan(requestId: string, choice: ShareChoice): Promise<SharePlan> {
    const request = await this.#pending(requestId);
    return this.#plan(request, choice, await this.#offersFor(request));
  }

  /** Commits the approval; the share pipeline takes it from there. */
  async share(requestId: string, choice: ShareChoice): Promise<SharePlan> {
    const { requests, jobs, pins, segments, clock } = this.deps;
    // Planned before the write lock (queries inside it would wait for it): the request's
    // footage is pinned while it is pending, and its state and expiry are checked again
    // inside the transaction, so the plan cannot go stale under the commit.
    const plan = await this.plan(requestId, choice);
    const footage = await Promise.all(
      plan.clips.map((clip) => segments.overlapping(clip.start, clip.end)),
    );
    const clockSync = await this.deps.clockSync();
    await requests.markShared(
      requestId,
      { clips: plan.clips.length, totalMs: plan.totalMs, mode: plan.mode, audio: plan.audio },
      async (tx, request) => {
        if (request.expiresAt <= clock.now()) throw expired(request);
        const ids = await jobs.createIn(
          tx,
          { requestId, decidedAt: clock.now(), clockSync, mode: choice.mode, audio: choice.audio },
          choice,
          plan.clips,
        );
        for (const [i, id] of ids.entries()) {
          await pins.pin(
            sharePinOwner(id),
            (footage[i] ?? []).map((segment) => segment.id),
            tx,
          );
        }
      },
    );
    this.deps.events?.emit('requests', { requestId });
    this.deps.onShared?.();
    return plan;
  }

  /** The owner says no: recorded here, nothing sent anywhere (promise 2). */
  async decline(requestId: string): Promise<StoredRequest> {
    const declined = await this.deps.requests.decline(requestId);
    this.deps.events?.emit('requests', { requestId });
    return declined;
  }

  async jobs(filter: { requestId?: string } = {}): Promise<ShareJob[]> {
    return (await this.deps.jobs.list(filter)).map(publicJob);
  }

  #plan(request: StoredRequest, choice: ShareChoice, offers: ClipOffer[]): SharePlan {
    const clips = planClips(request.window, offers, choice);
    return {
      requestId: request.id,
      agencyName: request.agencyName,
      investigationCode: request.investigationCode,
      uploadUrl: request.uploadUrl,
      clips,
      totalMs: clips.reduce((sum, clip) => sum + (clip.end - clip.start), 0),
      mode: choice.mode,
      audio: choice.audio,
    };
  }

  async #offersFor(request: StoredRequest): Promise<ClipOffer[]> {
    const { window } = request;
    const pre = this.deps.roll.preRollSeconds * 1000;
    const post = this.deps.roll.postRollSeconds * 1000;
    return offerClips({
      window,
      motion: await this.deps.motion.overlapping(window.start - post, window.end + pre),
      segments: await this.deps.segments.overlapping(window.start, window.end),
      preRollMs: pre,
      postRollMs: post,
      now: this.deps.clock.now(),
    });
  }

  async #offer(request: StoredRequest, index: number): Promise<ClipOffer> {
    const offer = (await this.#offersFor(request)).find((candidate) => candidate.index === index);
    if (!offer) throw new UserError('no_such_clip', `clip ${index}: no such clip`);
    return offer;
  }

  async #request(requestId: string): Promise<StoredRequest> {
    const request = await this.deps.requests.get(requestId);
    if (!request) throw new UserError('request_not_found', `no request ${requestId}`);
    return request;
  }

  async #pending(requestId: string): Promise<StoredRequest> {
    const request = await this.#request(requestId);
    if (request.state !== 'pending') {
      throw new UserError('request_not_pending', `request ${requestId} is ${request.state}`);
    }
    if (request.expiresAt <= this.deps.clock.now()) throw expired(request);
    return request;
  }
}

function expired(request: StoredRequest): UserError {
  return new UserError(
    'request_expired',
    `request ${request.id} expired at ${new Date(request.expiresAt).toISOString()}`,
  );
}
