import { AUDIT_KINDS, type AuditLog } from '../audit/audit-log.js';
import type { Database, Transaction } from '../db/database.js';
import { UserError } from '../errors.js';
import type { ClockFloor } from './clock-floor.js';
import { type FootageIndex, requestPinOwner } from './footage.js';

/**
 * Requests that passed intake, and their life afterwards:
 *
 *   pending ──decline──► declined       (local only: nothing is sent)
 *      │  ──markShared─► shared
 *      │  ──expireDue──► expired        (silence means no)
 *      └──withdraw─────► expired        (the agency was revoked)
 *   no_footage                          (recorded, never shown)
 *
 * A pending request pins its segments (owner `request:<id>`); leaving `pending` releases
 * them. Each state change and its audit entry commit in one transaction; the pins change
 * after the commit, and `reconcilePins` at start-up repairs a crash in between (re-pins
 * pending requests, releases decided ones): a pending request's footage is never lost.
 */

export type RequestState = 'pending' | 'no_footage' | 'declined' | 'shared' | 'expired';

export interface StoredRequest {
  id: string;
  state: RequestState;
  agencyId: string;
  agencyName: string;
  /** The agency's signing key, base64 (for revocation by key). */
  signingKey: string;
  /** The trust roots whose signatures vouched for the agency's delegation. */
  rootNames: string[];
  investigationCode: string;
  title: string;
  description: string;
  area: { lat: number; lon: number; radiusM: number };
  /** ms since the epoch. */
  window: { start: number; end: number };
  issuedAt: number;
  expiresAt: number;
  /** The X25519 key shared footage is sealed to, base64. */
  recipient: string;
  uploadUrl: string;
  contact?: { name?: string; phone?: string; email?: string };
  /** Segments matching the window when the request arrived (pinned while pending). */
  segmentIds: number[];
  receivedAt: number;
  decidedAt?: number;
  /** SHA-256 (hex) of the exact request payload bytes, for the custody record. */
  payloadSha256: string;
  /** The envelope exactly as received. */
  envelope: Buffer;
}

export type NewRequest = Omit<StoredRequest, 'decidedAt'> & { state: 'pending' | 'no_footage' };

interface Row {
  id: string;
  state: RequestState;
  agency_id: string;
  agency_name: string;
  signing_key: string;
  root_names: string;
  investigation_code: string;
  title: string;
  description: string;
  area_lat: number;
  area_lon: number;
  area_radius_m: number;
  window_start: number;
  window_end: number;
  issued_at: number;
  expires_at: number;
  recipient: string;
  upload_url: string;
  contact: string | null;
  segment_ids: string;
  received_at: number;
  decided_at: number | null;
  payload_sha256: string;
  envelope: Buffer;
}

const WEEK_MS = 7 * 24 * 3600_000;

export class RequestStore {
  constructor(
    private readonly deps: {
      db: Database;
      footage: FootageIndex;
      clock: ClockFloor;
      audit: AuditLog;
    },
  ) {}

  /**
   * Records an accepted request and its audit entry in one transaction, then pins its
   * segments. Returns false (and changes nothing) when the id was handled before.
   */
  async accept(request: NewRequest, detail: Record<string, unknown>): Promise<boolean> {
    const { db, audit, footage } = this.deps;
    const inserted = await db.transaction(async (tx) => {
      if (await audit.hasRequest(request.id, tx)) return false;
      await tx.run(
        `INSERT INTO requests (id, state, agency_id, agency_name, signing_key, root_names,
           investigation_code, title, description, area_lat, area_lon, area_radius_m,
           window_start, window_end, issued_at, expires_at, recipient, upload_url, contact,
           segment_ids, received_at, payload_sha256, envelope)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          request.id,
          request.state,
          request.agencyId,
          request.agencyName,
          request.signingKey,
          JSON.stringify(request.rootNames),
          request.investigationCode,
          request.title,
          request.description,
          request.area.lat,
          request.area.lon,
          request.area.radiusM,
          request.window.start,
          request.window.end,
          request.issuedAt,
          request.expiresAt,
          request.recipient,
          request.uploadUrl,
          request.contact ? JSON.stringify(request.contact) : null,
          JSON.stringify(request.segmentIds),
          request.receivedAt,
          request.payloadSha256,
          request.envelope,
        ],
      );
      await audit.appendIn(tx, {
        kind: AUDIT_KINDS.requestAccepted,
        requestId: request.id,
        detail: { ...detail, state: request.state },
      });
      return true;
    });
    if (inserted && request.state === 'pending') {
      await footage.pin(requestPinOwner(request.id), request.segmentIds);
    }
    return inserted;
  }

  /** Pending requests (newest first), or every request with `all`. */
  async list(options: { all: boolean }): Promise<StoredRequest[]> {
    const rows = await this.deps.db.all<Row>(
      options.all
        ? 'SELECT * FROM requests ORDER BY received_at DESC, id'
        : "SELECT * FROM requests WHERE state = 'pending' ORDER BY received_at DESC, id",
    );
    return rows.map(toStored);
  }

  async get(id: string): Promise<StoredRequest | undefined> {
    const row = await this.deps.db.get<Row>('SELECT * FROM requests WHERE id = ?', [id]);
    return row ? toStored(row) : undefined;
  }

  /** Prompts (requests that reached the owner) from an agency in the last 7 days. */
  async promptsThisWeek(agencyId: string): Promise<number> {
    const row = await this.deps.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM requests
       WHERE agency_id = ? AND state <> 'no_footage' AND received_at > ?`,
      [agencyId, this.deps.clock.now() - WEEK_MS],
    );
    return row?.n ?? 0;
  }

  async pendingCount(): Promise<number> {
    const row = await this.deps.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM requests WHERE state = 'pending'",
    );
    return row?.n ?? 0;
  }

  /** The owner says no. Nothing is sent anywhere; the footage hold is released. */
  decline(id: string): Promise<StoredRequest> {
    return this.#leavePending(id, 'declined', { kind: AUDIT_KINDS.requestDeclined });
  }

  /**
   * The owner shared footage for the request. `within` runs inside the same transaction,
   * before the state changes (the approval and its jobs, their pins); a throw there
   * changes nothing. This releases the request's hold after the commit.
   */
  markShared(
    id: string,
    detail: Record<string, unknown> = {},
    within?: (tx: Transaction, request: StoredRequest) => Promise<void>,
  ): Promise<StoredRequest> {
    return this.#leavePending(id, 'shared', { kind: AUDIT_KINDS.requestShared, detail }, within);
  }

  /** Expires pending requests whose `expiresAt` has passed; returns their ids. */
  async expireDue(): Promise<string[]> {
    await this.deps.clock.persist();
    const due = await this.deps.db.all<{ id: string }>(
      "SELECT id FROM requests WHERE state = 'pending' AND expires_at <= ? ORDER BY expires_at",
      [this.deps.clock.now()],
    );
    const expired: string[] = [];
    for (const { id } of due) {
      await this.#leavePending(id, 'expired', { kind: AUDIT_KINDS.requestExpired });
      expired.push(id);
    }
    return expired;
  }

  /** Withdraws pending requests of revoked agencies or keys (they become expired). */
  async withdrawRevoked(isRevoked: (agencyId: string, signingKey: string) => boolean) {
    const pending = await this.list({ all: false });
    const withdrawn: string[] = [];
    for (const request of pending) {
      if (!isRevoked(request.agencyId, request.signingKey)) continue;
      await this.#leavePending(request.id, 'expired', {
        kind: AUDIT_KINDS.requestWithdrawn,
        reason: 'revoked',
      });
      withdrawn.push(request.id);
    }
    return withdrawn;
  }

  /** At start-up: pins every pending request's segments and releases decided ones'. */
  async reconcilePins(): Promise<void> {
    const rows = await this.deps.db.all<{ id: string; state: RequestState; segment_ids: string }>(
      "SELECT id, state, segment_ids FROM requests WHERE state <> 'no_footage'",
    );
    for (const row of rows) {
      const owner = requestPinOwner(row.id);
      if (row.state === 'pending') {
        await this.deps.footage.pin(owner, JSON.parse(row.segment_ids) as number[]);
      } else {
        await this.deps.footage.unpin(owner);
      }
    }
  }

  async #leavePending(
    id: string,
    state: 'declined' | 'shared' | 'expired',
    entry: { kind: string; reason?: string; detail?: Record<string, unknown> },
    within?: (tx: Transaction, request: StoredRequest) => Promise<void>,
  ): Promise<StoredRequest> {
    const { db, audit, clock, footage } = this.deps;
    const row = await db.transaction(async (tx) => {
      const current = await tx.get<Row>('SELECT * FROM requests WHERE id = ?', [id]);
      if (!current) throw new UserError('request_not_found', `no request ${id}`);
      if (current.state !== 'pending') {
        throw new UserError('request_not_pending', `request ${id} is ${current.state}`);
      }
      const now = clock.now();
      await within?.(tx, toStored(current));
      await tx.run('UPDATE requests SET state = ?, decided_at = ? WHERE id = ?', [state, now, id]);
      await audit.appendIn(tx, { ...entry, requestId: id });
      return { ...current, state, decided_at: now };
    });
    await footage.unpin(requestPinOwner(id));
    return toStored(row);
  }
}

function toStored(row: Row): StoredRequest {
  return {
    id: row.id,
    state: row.state,
    agencyId: row.agency_id,
    agencyName: row.agency_name,
    signingKey: row.signing_key,
    rootNames: JSON.parse(row.root_names) as string[],
    investigationCode: row.investigation_code,
    title: row.title,
    description: row.description,
    area: { lat: row.area_lat, lon: row.area_lon, radiusM: row.area_radius_m },
    window: { start: row.window_start, end: row.window_end },
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    recipient: row.recipient,
    uploadUrl: row.upload_url,
    ...(row.contact ? { contact: JSON.parse(row.contact) as StoredRequest['contact'] } : {}),
    segmentIds: JSON.parse(row.segment_ids) as number[],
    receivedAt: row.received_at,
    ...(row.decided_at !== null ? { decidedAt: row.decided_at } : {}),
    payloadSha256: row.payload_sha256,
    envelope: row.envelope,
  };
}
