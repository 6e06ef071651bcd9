import { hash } from 'node:crypto';
import type { Clock } from '../../hal/interfaces.js';
import type { Database, Transaction } from '../db/database.js';

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

/** Kinds written by the request and share code. */
export const AUDIT_KINDS = {
  requestRefused: 'request_refused',
  requestAccepted: 'request_accepted',
  requestDeclined: 'request_declined',
  requestExpired: 'request_expired',
  requestShared: 'request_shared',
  requestWithdrawn: 'request_withdrawn',
  uploadCompleted: 'upload_completed',
  uploadFailed: 'upload_failed',
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
  return hash('sha256', `${prev}\n${canonical}`, 'hex');
}

const PAGE = 1000;

/**
 * One statement for a whole batch, whatever its size: the rows travel as one JSON array
 * parameter and SQLite unpacks them (`json_each`, `->>` as SQL values: numbers stay
 * integers, the detail stays the exact text that was hashed). Binding eight parameters
 * per row instead costs the event loop more than the rest of an append together, and a
 * statement per chunk would be prepared anew each time.
 */
const INSERT_BATCH = `INSERT INTO audit_log (seq, time, kind, request_id, reason, detail, prev, hash)
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
         value ->> 6, value ->> 7
  FROM json_each(?)`;

/** An entry checked and serialised once, when it is appended: its columns but seq. */
interface Pending {
  kind: string;
  requestId: string | null;
  reason: string | null;
  time: number;
  /** The detail as the JSON text stored and hashed, or null. */
  detail: string | null;
}

/** A row as inserted: seq, time, kind, request_id, reason, detail, prev, hash. */
type Written = [
  number,
  number,
  string,
  string | null,
  string | null,
  string | null,
  string,
  string,
];

/** Entries that share one transaction, and its outcome. */
interface Batch {
  readonly items: Pending[];
  readonly committed: Promise<Written[]>;
  /** `committed` without the entries, made on first use (see `appendBatched`). */
  done?: Promise<void>;
}

export class AuditLog {
  /** The batch whose transaction has been queued but has not started, if any. */
  #open: Batch | undefined;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Appends one entry; resolves once it is committed. Appends made while an earlier one
   * waits for the database share its transaction (group commit): a flood of refusals
   * costs one fsync per batch, not one per message, and order is kept (call order).
   * The batch's transaction is queued by the first append of the batch, so a write or
   * read queued on the database after an append returns comes after that append's entry.
   * The entry it resolves with carries `detail` as given (stored as its JSON text).
   */
  append(entry: AuditEntryInput): Promise<AuditEntry> {
    let item: Pending;
    try {
      // A bad kind or a detail JSON cannot encode fails this append, not its batch.
      item = prepare(entry, this.clock.now());
    } catch (err) {
      return Promise.reject(err);
    }
    const batch = this.#batch();
    const index = batch.items.push(item) - 1;
    return batch.committed.then((written) => entryOf(written[index], entry));
  }

  /**
   * `append` for callers that need no entry back: queues the entry in the open batch and
   * returns that batch's commit, shared by all its entries (no promise or entry object
   * per call, which counts in a flood). Throws at once for a bad kind or detail.
   */
  appendBatched(entry: AuditEntryInput): Promise<void> {
    const item = prepare(entry, this.clock.now());
    const batch = this.#batch();
    batch.items.push(item);
    batch.done ??= batch.committed.then(() => undefined);
    return batch.done;
  }

  /**
   * Appends inside the caller's transaction, so the entry commits (or rolls back)
   * together with the change it records.
   */
  async appendIn(tx: Transaction, entry: AuditEntryInput, time?: number): Promise<AuditEntry> {
    const [written] = await this.#write(tx, [prepare(entry, time ?? this.clock.now())]);
    return entryOf(written, entry);
  }

  /** The open batch, or a new one whose transaction is queued now. */
  #batch(): Batch {
    if (this.#open) return this.#open;
    const items: Pending[] = [];
    const close = () => {
      // From here on later appends queue a transaction of their own.
      if (this.#open === batch) this.#open = undefined;
    };
    const batch: Batch = {
      items,
      committed: this.db.transaction(async (tx) => {
        close();
        return this.#write(tx, items);
      }),
    };
    // Also when the transaction fails before it starts (BEGIN refused); callers see the error.
    batch.committed.catch(close);
    this.#open = batch;
    return batch;
  }

  /** Chains `items` onto the log's tail and inserts them, in one statement. */
  async #write(tx: Transaction, items: readonly Pending[]): Promise<Written[]> {
    const last = await tx.get<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
    );
    let seq = last?.seq ?? 0;
    let prev = last?.hash ?? GENESIS_HASH;
    const rows = items.map(({ kind, requestId, reason, time, detail }): Written => {
      seq += 1;
      const fields = { seq, time, kind, request_id: requestId, reason, detail };
      const row: Written = [seq, time, kind, requestId, reason, detail, prev, ''];
      prev = entryHash(prev, fields);
      row[7] = prev;
      return row;
    });
    await tx.run(INSERT_BATCH, [JSON.stringify(rows)]);
    return rows;
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

const KIND = /^[a-z][a-z0-9_]{0,63}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * Checks an entry and serialises its detail; throws for a bad kind or detail. Text that
 * is not well-formed UTF-16 gets U+FFFD for each lone surrogate (what UTF-8 storage makes
 * of it anyway), so that the text hashed is the text stored. The detail's JSON text needs
 * no such care: JSON.stringify escapes lone surrogates.
 */
function prepare(entry: AuditEntryInput, time: number): Pending {
  if (!KIND.test(entry.kind)) {
    throw new RangeError('an audit kind is snake_case, at most 64 characters');
  }
  return {
    kind: entry.kind,
    requestId: entry.requestId === undefined ? null : wellFormed(entry.requestId),
    reason: entry.reason === undefined ? null : wellFormed(entry.reason),
    time,
    detail: entry.detail === undefined ? null : JSON.stringify(entry.detail),
  };
}

function wellFormed(text: string): string {
  return LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATES, '\uFFFD') : text;
}

/** The entry a written row stands for, with `detail` as the caller gave it. */
function entryOf(row: Written | undefined, input: AuditEntryInput): AuditEntry {
  if (!row) throw new Error('unreachable: every entry of a batch is written');
  const [seq, time, kind, requestId, reason, , prev, hash] = row;
  return {
    seq,
    time,
    kind,
    ...(requestId !== null ? { requestId } : {}),
    ...(reason !== null ? { reason } : {}),
    ...(input.detail !== undefined ? { detail: input.detail } : {}),
    prev,
    hash,
  };
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
