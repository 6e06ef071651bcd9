import { createHash } from 'node:crypto';
import { AUDIT_KINDS, type AuditLog } from '../audit/audit-log.js';
import type { Config } from '../config/schema.js';
import { pae } from '../crypto/dsse.js';
import { ed25519Verify } from '../crypto/ed25519.js';
import type { Logger } from '../log.js';
import type { ClockFloor } from './clock-floor.js';
import type { FootageIndex } from './footage.js';
import { cellsTouching, cellTouchesCircle } from './geo.js';
import { type ParsedRequest, parseRequestMessage } from './parse.js';
import {
  CLOCK_SKEW_MS,
  REQUEST_TOPIC_PREFIX,
  type RejectReason,
  TOPIC_GEOHASH_LENGTH,
} from './protocol.js';
import { type Refusal, scopeRefusal } from './scope.js';
import { SeenRequests } from './seen-requests.js';
import type { RequestStore } from './store.js';
import type { DelegationVerdict, RevocationOutcome, TrustState } from './trust.js';
import { UnflushedRefusals } from './unflushed-refusals.js';

export { MAX_UNFLUSHED_REFUSALS } from './unflushed-refusals.js';

/**
 * The device's judge of community requests (DESIGN.md, "Community request protocol").
 * Checks run cheapest first and the first failure is the reason in the audit log:
 *
 *   here:     requests_off (the owner turned requests off; the device unsubscribes too, so
 *             this only meets a message already on its way)
 *   parse.ts: too_large, not_json, schema, unsupported_version
 *   here:     wrong_topic, expired, not_yet_valid, duplicate, delegation_invalid,
 *             delegation_expired, revoked, bad_signature   (at most one Ed25519 check for
 *             the request; the delegation's are cached by its hash)
 *   scope.ts: out_of_region, out_of_area, radius_too_large, window_too_long
 *   here:     window_beyond_retention, agency_blocked, rate_limited
 *
 * Accepted: `pending` when segments overlap the window (pinned as `request:<id>`), else
 * `no_footage` (recorded, never shown to the owner).
 *
 * A refused request changes nothing but the audit log and the device answers no one.
 * `duplicate` looks up the ids of authentic requests (`SeenRequests`: in memory, loaded
 * from the audit log, where a request id is written only after the request's signature
 * verified): a redelivered request is handled once (also across restarts), and a forger
 * who sends a valid request's id first cannot block it.
 * `window_beyond_retention`: the window ends at or before the start of the oldest
 * footage retained (or none is retained), so no footage could ever match it.
 *
 * Durability: an acceptance, and a refusal of an authentic request (its signature
 * verified), resolve only once their audit entry is committed, so an MQTT PUBACK is never
 * sent for them before it (a kill -9 cannot lose an accepted request: the broker
 * redelivers whatever was not acknowledged). A message refused *before* its signature
 * verified (too_large … duplicate, delegation_*, revoked, bad_signature) resolves as soon
 * as it is judged: its entry is queued in the audit log's group commit and written with
 * the entries around it, one transaction per batch. That is what makes a flood of junk
 * cheap (no fsync per message). The trade-off, on purpose: a crash (kill -9, power cut)
 * may lose the last unflushed refusal entries — at most `MAX_UNFLUSHED_REFUSALS` — whose
 * messages were already acknowledged. It never loses an acceptance or anything that
 * changed state, and the chain stays valid: a batch commits whole or not at all, and
 * batches commit in call order, before any later write (the database runs transactions
 * in the order they were queued), so the chain's order is the arrival order.
 *
 * INVARIANTS: messages are judged one at a time, in call order (`#serial`), so the
 * duplicate, rate and pending checks see every earlier decision: an acceptance commits
 * before the next message is judged, and a refusal's id is in `#seen` before it is.
 * Refusals change no state, so their audit entries may commit after the next judgement.
 * An audit entry is queued (its transaction enqueued) during its message's judgement, so
 * every later database read or write of this process sees it.
 */

export type IntakeResult =
  | { kind: 'rejected'; reason: RejectReason; requestId?: string }
  | { kind: 'pending'; requestId: string; segmentIds: number[] }
  | { kind: 'no_footage'; requestId: string };

export interface IntakeDeps {
  config: Pick<Config, 'device' | 'policy'>;
  /** The owner's effective policy (the file's, overridden on the page); else `config.policy`. */
  policy?: { current(): Config['policy'] };
  /** The clock that never goes back: judges expiry and not-before. */
  floor: ClockFloor;
  footage: FootageIndex;
  audit: AuditLog;
  store: RequestStore;
  trust: TrustState;
  log: Logger;
}

/** An outcome, and the audit write the caller must wait for (if any). */
interface Decided {
  result: IntakeResult;
  written?: Promise<unknown>;
}

type Verified = ParsedRequest & { delegation: Extract<DelegationVerdict, { ok: true }> };

export class Intake {
  #tail: Promise<unknown> = Promise.resolve();
  readonly #unflushed: UnflushedRefusals;
  readonly #seen: SeenRequests;
  /** The 4-character cells the device subscribes to (DESIGN.md: 1 to 4 of them), by radius. */
  #cells: { radiusM: number; cells: ReadonlySet<string> } | undefined;

  constructor(private readonly deps: IntakeDeps) {
    this.#seen = new SeenRequests({ audit: deps.audit, clock: deps.floor });
    this.#unflushed = new UnflushedRefusals({ log: deps.log });
  }

  #policy(): Config['policy'] {
    return this.deps.policy?.current() ?? this.deps.config.policy;
  }

  #subscribedCells(): ReadonlySet<string> {
    const radiusM = this.#policy().maxRadiusM;
    if (this.#cells?.radiusM !== radiusM) {
      const { location } = this.deps.config.device;
      const cells = new Set(cellsTouching({ ...location, radiusM }, TOPIC_GEOHASH_LENGTH));
      this.#cells = { radiusM, cells };
    }
    return this.#cells.cells;
  }

  /**
   * Judges one message from a request topic. Resolves once its outcome is durable, except
   * for a message refused before its signature verified: that resolves once judged, its
   * audit entry queued for the next group commit (see the class comment). Never throws for
   * a bad message; throws when the database fails to record an outcome it must wait for.
   * Calls may overlap (they are judged in call order).
   */
  async handleRequest(topic: string, message: Buffer): Promise<IntakeResult> {
    const decided = await this.#serial(() => this.#handle(topic, message));
    if (decided.written) await decided.written;
    return decided.result;
  }

  /** Resolves once every refusal entry queued so far has been written (or failed). */
  flushed(): Promise<void> {
    return this.#unflushed.settled();
  }

  /** Judges a revocation list from the retained topic; withdraws revoked pending requests. */
  handleRevocations(message: Buffer): Promise<RevocationOutcome> {
    return this.#serial(async () => {
      const { trust, audit, store } = this.deps;
      const outcome = await trust.acceptRevocations(message, audit);
      if (outcome.kind === 'accepted') {
        const withdrawn = await store.withdrawRevoked((agency, key) =>
          trust.isRevoked(agency, key),
        );
        this.deps.log.info(
          { version: outcome.version, withdrawn: withdrawn.length },
          'revocations',
        );
      }
      return outcome;
    });
  }

  #serial<T>(step: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(step, step);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async #handle(topic: string, message: Buffer): Promise<Decided> {
    if (this.#policy().requestsOff) return this.#refuseUnverified({ reason: 'requests_off' });
    const parsed = parseRequestMessage(message);
    if (parsed.kind === 'rejected') {
      const detail: Record<string, unknown> = {};
      if (parsed.problem) detail.problem = parsed.problem;
      if (parsed.claimedId) detail.claimedId = parsed.claimedId;
      return this.#refuseUnverified({ reason: parsed.reason, detail });
    }
    const request = parsed.request;
    // Unauthenticated until the signature verifies: recorded as claims.
    const claimed = { claimedId: request.payload.id, claimedAgencyId: request.payload.agencyId };

    const unsigned = await this.#unsigned(topic, request);
    if (unsigned) {
      return this.#refuseUnverified({ ...unsigned, detail: { ...claimed, ...unsigned.detail } });
    }
    const checked = this.#delegation(request);
    if (checked.kind === 'refused') {
      return this.#refuseUnverified({
        ...checked.refusal,
        detail: { ...claimed, ...checked.refusal.detail },
      });
    }
    const verified: Verified = { ...request, delegation: checked.verdict };
    if (!this.#signatureValid(verified)) {
      return this.#refuseUnverified({ reason: 'bad_signature', detail: claimed });
    }

    // From here the request is authentic: refusals carry its id, which marks it handled.
    const id = request.payload.id;
    const scope = (await this.#scope(verified)) ?? (await this.#limits(verified));
    if (scope) {
      return this.#refuse(
        { ...scope, detail: { agencyId: request.payload.agencyId, ...scope.detail } },
        id,
      );
    }
    return this.#accept(verified);
  }

  /** wrong_topic, expired, not_yet_valid, duplicate: no signature work yet. */
  async #unsigned(topic: string, { payload }: ParsedRequest): Promise<Refusal> {
    const cell = topic.startsWith(REQUEST_TOPIC_PREFIX)
      ? topic.slice(REQUEST_TOPIC_PREFIX.length)
      : '';
    if (!this.#subscribedCells().has(cell) || !cellTouchesCircle(cell, payload.area)) {
      return { reason: 'wrong_topic', detail: { topic: printable(topic.slice(0, 100)) } };
    }
    const { floor } = this.deps;
    const now = floor.now();
    if (now >= payload.expiresAt) return { reason: 'expired' };
    if (floor.isBehind()) return { reason: 'not_yet_valid', detail: { clock: 'behind_floor' } };
    if (payload.issuedAt > now + CLOCK_SKEW_MS) return { reason: 'not_yet_valid' };
    if (await this.#seen.has(payload.id)) return { reason: 'duplicate' };
    return undefined;
  }

  /** delegation_invalid, delegation_expired, revoked. */
  #delegation({
    envelope,
    payload,
  }: ParsedRequest):
    | { kind: 'refused'; refusal: NonNullable<Refusal> }
    | { kind: 'ok'; verdict: Verified['delegation'] } {
    const refused = (refusal: NonNullable<Refusal>) => ({ kind: 'refused' as const, refusal });
    const verdict = this.deps.trust.verifyDelegation(envelope.delegation);
    if (!verdict.ok) {
      return refused({ reason: 'delegation_invalid', detail: { problem: verdict.problem } });
    }
    const { delegation } = verdict;
    if (delegation.agencyId !== payload.agencyId) {
      return refused({ reason: 'delegation_invalid', detail: { problem: 'agencyId differs' } });
    }
    const now = this.deps.floor.now();
    if (now >= delegation.notAfter || now + CLOCK_SKEW_MS < delegation.notBefore) {
      return refused({ reason: 'delegation_expired' });
    }
    if (this.deps.trust.isRevoked(delegation.agencyId, delegation.signingKey)) {
      return refused({ reason: 'revoked' });
    }
    return { kind: 'ok', verdict };
  }

  /**
   * One Ed25519 check, with the signature whose keyid names the delegated key (the hint
   * chooses the key, DSSE-style; a request without such a signature is refused unchecked,
   * so no message costs more than one verification).
   */
  #signatureValid({ envelope, payloadBytes, delegation }: Verified): boolean {
    const signature = envelope.signatures.find((s) => s.keyid === delegation.signingKeyId);
    if (!signature) return false;
    const message = pae(envelope.payloadType, payloadBytes);
    return ed25519Verify(message, Buffer.from(signature.sig, 'base64'), delegation.signingKey);
  }

  /** The scope checks (scope.ts), then window_beyond_retention. */
  async #scope({ payload, delegation: { delegation } }: Verified): Promise<Refusal> {
    const refusal = scopeRefusal(payload, delegation, {
      device: this.deps.config.device,
      policy: this.#policy(),
    });
    if (refusal) return refusal;
    const oldest = await this.deps.footage.oldestStart();
    if (oldest === null || payload.window.end <= oldest) {
      return { reason: 'window_beyond_retention', detail: { oldest } };
    }
    return undefined;
  }

  /** agency_blocked, rate_limited. */
  async #limits({ payload }: Verified): Promise<Refusal> {
    const policy = this.#policy();
    if (policy.blockedAgencies.includes(payload.agencyId)) return { reason: 'agency_blocked' };
    const prompts = await this.deps.store.promptsThisWeek(payload.agencyId);
    if (prompts >= policy.maxPromptsPerAgencyPerWeek) {
      return { reason: 'rate_limited', detail: { prompts } };
    }
    const pending = await this.deps.store.pendingCount();
    if (pending >= policy.maxPending) return { reason: 'rate_limited', detail: { pending } };
    return undefined;
  }

  async #accept({ payload, payloadBytes, delegation, message }: Verified): Promise<Decided> {
    const { footage, store, floor, log } = this.deps;
    const segments = await footage.overlapping(payload.window.start, payload.window.end);
    const segmentIds = segments.map((segment) => segment.id);
    const state = segmentIds.length > 0 ? 'pending' : 'no_footage';
    const inserted = await store.accept(
      {
        id: payload.id,
        state,
        agencyId: payload.agencyId,
        agencyName: delegation.delegation.name,
        signingKey: delegation.delegation.signingKey,
        rootNames: delegation.rootNames,
        investigationCode: payload.investigationCode,
        title: payload.title,
        description: payload.description,
        area: payload.area,
        window: payload.window,
        issuedAt: payload.issuedAt,
        expiresAt: payload.expiresAt,
        recipient: payload.recipient.boxPublicKey,
        uploadUrl: payload.upload.url,
        ...(payload.contact ? { contact: payload.contact } : {}),
        segmentIds,
        receivedAt: floor.now(),
        payloadSha256: createHash('sha256').update(payloadBytes).digest('hex'),
        envelope: Buffer.from(message),
      },
      { agencyId: payload.agencyId, segments: segmentIds.length },
    );
    if (!inserted) return this.#refuse({ reason: 'duplicate' });
    this.#seen.add(payload.id);
    log.info({ requestId: payload.id, agencyId: payload.agencyId, state }, 'request accepted');
    const result: IntakeResult =
      state === 'pending'
        ? { kind: 'pending', requestId: payload.id, segmentIds }
        : { kind: 'no_footage', requestId: payload.id };
    return { result };
  }

  /**
   * Refuses a message whose signature has not verified: nothing about it is authentic, it
   * changes nothing, and its audit entry is not waited for. Beyond
   * `MAX_UNFLUSHED_REFUSALS` such entries, the call waits for the oldest batch of them
   * to commit before it resolves (back-pressure on a disk slower than the flood).
   */
  #refuseUnverified(refusal: NonNullable<Refusal>): Decided {
    const { result, written } = this.#refuse(refusal);
    const wait = this.#unflushed.track(written);
    return wait ? { result, written: wait } : { result };
  }

  /**
   * Writes the refusal to the audit log; nothing else changes. `requestId` is given only
   * for an authentic request: it makes a redelivery a `duplicate`. The entry is queued in
   * the audit log's open batch; the caller decides whether to wait for its commit.
   */
  #refuse(
    refusal: NonNullable<Refusal>,
    requestId?: string,
  ): { result: IntakeResult; written: Promise<void> } {
    if (requestId) this.#seen.add(requestId);
    const written = this.deps.audit.appendBatched({
      kind: AUDIT_KINDS.requestRefused,
      reason: refusal.reason,
      ...(requestId ? { requestId } : {}),
      ...(refusal.detail && Object.keys(refusal.detail).length > 0
        ? { detail: refusal.detail }
        : {}),
    });
    if (requestId) {
      // Not recorded after all: a redelivery must be judged again, not called a duplicate.
      written.catch(() => this.#seen.delete(requestId));
    }
    this.deps.log.debug({ reason: refusal.reason, requestId }, 'request refused');
    return {
      result: { kind: 'rejected', reason: refusal.reason, ...(requestId ? { requestId } : {}) },
      written,
    };
  }
}

/** Text from the network made fit for a log line or a terminal: controls become "?". */
function printable(text: string): string {
  return text.replace(/\p{C}/gu, '?');
}
