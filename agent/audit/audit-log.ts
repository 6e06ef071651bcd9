import { createHash } from 'node:crypto';
import type { Clock } from '../../hal/interfaces.js';
import type { Database, SqlParam, Transaction } from '../db/database.js';

/**
 * The append-only, hash-chained audit log (DESIGN.md, "Audit log"): every request
 * received (accepted or refused, with its reason), every owner decision, every upload.
 *
 * Entry `n` stores `prev` = hash of entry `n-1` (64 zeros for the first) and
 * `hash` = SHA-256 over `prev` and the entry's canonical fields (see `entryHash`), so
 * editing, deleting or reordering any entry breaks the chain from there on.
 *
 * INVARIANTS: entries are written only inside `Database.transaction` (serialised with
 * every other transaction), so no two appends read the same tail. `request_id` is set
 * only for a request whose signature verified (`REQUEST_ID_KINDS`): the log then answers
 * "has this authentic request been handled?" across restarts, and no forger can write
 * an id into it.
 */

export const GENESIS_HASH = '0'.repeat(64);

/** Kinds written by the request code; other parts add their own (`upload_*`, …). */
export const AUDIT_KINDS = {
  requestRefused: 'request_refused',
  requestAccepted: 'request_accepted',
  requestDeclined: 'request_declined',
  requestExpired: 'request_expired',
  requestShared: 'request_shared',
  requestWithdrawn: 'request_withdrawn',
  revocationsAccepted: 'revocations_accepted',
  revocationsRefused: 'revocations_refused',
} as const;

export interface AuditEntryInput {
  /** What happened, `snake_case`, at most 64 characters. */
  kind: string;
  /** Only for a request whose signature verified: an authentic id. */
  requestId?: string;
  reason?: string;
  /** Small facts; never keys, secrets or footage paths. */
  detail?: Record<string, unknown>;
}

export interface AuditEntry {
  seq: number;
  /** ms since the epoch, from the injected clock. */
  time: number;
  kind: string;
  requestId?: string;
  reason?: string;
  detail?: Record<string, unknown>;
  prev: string;
  hash: string;
}

export type AuditVerdict =
  | { ok: true; count: number }
  | { ok: false; seq: number; problem: string };

interface AuditRow {
  seq: number;
  time: number;
  kind: string;
  request_id: string | null;
  reason: string | null;
  detail: string | null;
  prev: string;
  hash: string;
}

/**
 * The hash of an entry: hex SHA-256 of `prev`, a newline, and the JSON array
 * `[seq, time, kind, requestId, reason, detail]` with absent values as null and `detail`
 * as the exact JSON text stored (so verifying never depends on re-serialising objects).
 */
export function entryHash(prev: string, row: Omit<AuditRow, 'prev' | 'hash'>): string {
  const canonical = JSON.stringify([
    row.seq,
    row.time,
    row.kind,
    row.request_id,
    row.reason,
    row.detail,
  ]);
  return createHash('sha256').update(`${prev}\n${canonical}`, 'utf8').digest('hex');
}

const PAGE = 1000;

interface Waiting {
  entry: AuditEntryInput;
  time: number;
  resolve(entry: AuditEntry): void;
  reject(err: unknown): void;
}

export class AuditLog {
  /** Appends waiting for a transaction that has been queued but has not started. */
  #open: Waiting[] | undefined;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Appends one entry; resolves once it is committed. Appends made while an earlier one
   * waits for the database share its transaction (group commit): a flood of refusals
   * costs one fsync per batch, not one per message, and order is kept (call order).
   */
  append(entry: AuditEntryInput): Promise<AuditEntry> {
    const time = this.clock.now();
    return new Promise<AuditEntry>((resolve, reject) => {
      // A bad kind or a detail JSON cannot encode fails this append, not its batch.
      checkKind(entry.kind);
      JSON.stringify(entry.detail ?? null);
      if (this.#open) {
        this.#open.push({ entry, time, resolve, reject });
        return;
      }
      const batch: Waiting[] = [{ entry, time, resolve, reject }];
      this.#open = batch;
      this.db
        .transaction(async (tx) => {
          // From here on the batch is closed: later appends queue a transaction of their own.
          if (this.#open === batch) this.#open = undefined;
          return this.#write(tx, batch);
        })
        .then(
          (written) => {
            batch.forEach((waiting, i) => {
              const entry = written[i];
              if (entry) waiting.resolve(entry);
            });
          },
          (err: unknown) => {
            if (this.#open === batch) this.#open = undefined;
            for (const waiting of batch) waiting.reject(err);
          },
        );
    });
  }

  /**
   * Appends inside the caller's transaction, so the entry commits (or rolls back)
   * together with the change it records.
   */
  async appendIn(tx: Transaction, entry: AuditEntryInput, time?: number): Promise<AuditEntry> {
    checkKind(entry.kind);
    const [written] = await this.#write(tx, [{ entry, time: time ?? this.clock.now() }]);
    if (!written) throw new Error('unreachable: one entry in, one out');
    return written;
  }

  /** Chains `items` onto the log's tail and inserts them, up to 100 rows a statement. */
  async #write(
    tx: Transaction,
    items: readonly { entry: AuditEntryInput; time: number }[],
  ): Promise<AuditEntry[]> {
    const last = await tx.get<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
    );
    let seq = last?.seq ?? 0;
    let prev = last?.hash ?? GENESIS_HASH;
    const rows: AuditRow[] = items.map(({ entry, time }) => {
      seq += 1;
      const fields = {
        seq,
        time,
        kind: entry.kind,
        request_id: entry.requestId ?? null,
        reason: entry.reason ?? null,
        detail: entry.detail === undefined ? null : JSON.stringify(entry.detail),
      };
      const row = { ...fields, prev, hash: entryHash(prev, fields) };
      prev = row.hash;
      return row;
    });
    for (let i = 0; i < rows.length; i += 100) {
      const chunk = rows.slice(i, i + 100);
      const params: SqlParam[] = chunk.flatMap((r) => [
        r.seq,
        r.time,
        r.kind,
        r.request_id,
        r.reason,
        r.detail,
        r.prev,
        r.hash,
      ]);
      await tx.run(
        `INSERT INTO audit_log (seq, time, kind, request_id, reason, detail, prev, hash)
         VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        params,
      );
    }
    return rows.map(toEntry);
  }

  /** Entries in order, `limit` at a time after `afterSeq`; all of them by default. */
  async entries(options: { afterSeq?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    const rows = await this.db.all<AuditRow>(
      'SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?',
      [options.afterSeq ?? 0, options.limit ?? -1],
    );
    return rows.map(toEntry);
  }

  /** Authentic request ids with an entry at or after `sinceMs`, with their latest time. */
  async requestIdsSince(sinceMs: number): Promise<{ id: string; time: number }[]> {
    return this.db.all<{ id: string; time: number }>(
      `SELECT request_id AS id, MAX(time) AS time FROM audit_log
       WHERE request_id IS NOT NULL AND time >= ? GROUP BY request_id`,
      [sinceMs],
    );
  }

  /** Whether an authentic request with this id was handled before (accepted or refused). */
  async hasRequest(requestId: string, tx?: Transaction): Promise<boolean> {
    const sql = 'SELECT 1 AS found FROM audit_log WHERE request_id = ? LIMIT 1';
    const row = tx
      ? await tx.get<{ found: number }>(sql, [requestId])
      : await this.db.get<{ found: number }>(sql, [requestId]);
    return row !== undefined;
  }

  /**
   * Walks the chain and names the first entry that does not fit: a gap in `seq`, a `prev`
   * that is not the previous entry's hash, or a hash that does not match the entry.
   * Cutting entries off the end leaves a valid chain: only a copy of the last hash kept
   * elsewhere (an export, a witness) can show that.
   */
  async verify(): Promise<AuditVerdict> {
    let prevHash = GENESIS_HASH;
    let expected = 1;
    for (;;) {
      const rows = await this.db.all<AuditRow>(
        'SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?',
        [expected, PAGE],
      );
      for (const row of rows) {
        if (row.seq !== expected) {
          return { ok: false, seq: expected, problem: `entry ${expected} is missing` };
        }
        if (row.prev !== prevHash) {
          return { ok: false, seq: row.seq, problem: 'prev does not match the previous hash' };
        }
        if (entryHash(row.prev, row) !== row.hash) {
          return { ok: false, seq: row.seq, problem: 'hash does not match the entry' };
        }
        prevHash = row.hash;
        expected += 1;
      }
      if (rows.length < PAGE) break;
    }
    return { ok: true, count: expected - 1 };
  }
}

function checkKind(kind: string): void {
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(kind)) {
    throw new RangeError('an audit kind is snake_case, at most 64 characters');
  }
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    time: row.time,
    kind: row.kind,
    ...(row.request_id !== null ? { requestId: row.request_id } : {}),
    ...(row.reason !== null ? { reason: row.reason } : {}),
    ...(row.detail !== null ? { detail: JSON.parse(row.detail) as Record<string, unknown> } : {}),
    prev: row.prev,
    hash: row.hash,
  };
}
