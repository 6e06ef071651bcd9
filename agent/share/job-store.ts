import { randomBytes } from 'node:crypto';
import type { Database, Transaction } from '../db/database.js';
import type { PlannedClip } from './plan.js';
import type { ShareChoice, ShareJob, ShareJobState } from './types.js';

/** What a finished cut used: the custody record names it after a restart too. */
export interface ExportFacts {
  /** SHA-256 of each source segment, in order. */
  segments: string[];
  audio: 'included' | 'dropped' | 'absent';
}

/** The approval facts the custody record carries. */
export interface Approval {
  requestId: string;
  decidedAt: number;
  clockSync: 'synced' | 'unsynced' | 'unknown';
  mode: 'fast' | 'exact';
  audio: boolean;
}

/** A job as the share pipeline works on it: the row, with its file facts. */
export interface JobRecord extends ShareJob {
  /** Random base name of the job's files in the outbox (and of its upload filenames). */
  name: string;
  decidedAt: number;
  clockSync: Approval['clockSync'];
  plainBytes: number | null;
  exportFacts: ExportFacts | null;
  sealedSha256: string | null;
  sealedBytes: number | null;
  custodyBytes: number | null;
  clipUrl: string | null;
  custodyUrl: string | null;
  clipSent: number;
  custodySent: number;
}

interface Row {
  id: number;
  request_id: string;
  clip_index: number;
  range_start: number;
  range_end: number;
  state: ShareJobState;
  name: string;
  plain_bytes: number | null;
  export_facts: string | null;
  sealed_sha256: string | null;
  sealed_bytes: number | null;
  custody_bytes: number | null;
  clip_url: string | null;
  custody_url: string | null;
  clip_sent: number;
  custody_sent: number;
  attempts: number;
  last_error: string | null;
  failure: string | null;
  updated_at: number;
  decided_at: number;
  clock_sync: Approval['clockSync'];
  mode: 'fast' | 'exact';
  audio: number;
}

const SELECT = `SELECT j.*, a.decided_at, a.clock_sync, a.mode, a.audio
  FROM share_jobs j JOIN approvals a ON a.request_id = j.request_id`;

/** Where a job is not finished: the pipeline resumes these after a restart. */
const OPEN_STATES = "('approved', 'exported', 'sealed', 'uploading')";

/**
 * The `approvals` and `share_jobs` tables. A job moves only forward, one state per
 * committed row update: approved → exported → sealed → uploading → uploaded, or failed.
 */
export class JobStore {
  constructor(private readonly db: Database) {}

  /** Inside the approval's transaction: the approval and one job per planned clip. */
  async createIn(
    tx: Transaction,
    approval: Approval,
    choice: ShareChoice,
    clips: readonly PlannedClip[],
  ): Promise<number[]> {
    await tx.run(
      `INSERT INTO approvals (request_id, decided_at, clock_sync, mode, audio, choice)
       VALUES (?, ?, ?, ?, ?, ?)`,
      [
        approval.requestId,
        approval.decidedAt,
        approval.clockSync,
        approval.mode,
        approval.audio ? 1 : 0,
        JSON.stringify(choice),
      ],
    );
    const ids: number[] = [];
    for (const clip of clips) {
      const { lastId } = await tx.run(
        `INSERT INTO share_jobs (request_id, clip_index, range_start, range_end, state, name, updated_at)
         VALUES (?, ?, ?, ?, 'approved', ?, ?)`,
        [
          approval.requestId,
          clip.clipIndex,
          clip.start,
          clip.end,
          randomBytes(16).toString('hex'),
          approval.decidedAt,
        ],
      );
      ids.push(lastId);
    }
    return ids;
  }

  async get(id: number): Promise<JobRecord | undefined> {
    const row = await this.db.get<Row>(`${SELECT} WHERE j.id = ?`, [id]);
    return row ? toRecord(row) : undefined;
  }

  /** Jobs, newest approval first, clips in order; optionally of one request. */
  async list(filter: { requestId?: string } = {}): Promise<JobRecord[]> {
    const rows = filter.requestId
      ? await this.db.all<Row>(`${SELECT} WHERE j.request_id = ? ORDER BY j.clip_index`, [
          filter.requestId,
        ])
      : await this.db.all<Row>(`${SELECT} ORDER BY a.decided_at DESC, j.request_id, j.clip_index`);
    return rows.map(toRecord);
  }

  /** Unfinished jobs, oldest first. */
  async open(): Promise<JobRecord[]> {
    const rows = await this.db.all<Row>(`${SELECT} WHERE j.state IN ${OPEN_STATES} ORDER BY j.id`);
    return rows.map(toRecord);
  }

  /** Bytes the outbox holds or will hold for unfinished jobs (counted against the quota). */
  async outboxBytes(): Promise<number> {
    const row = await this.db.get<{ bytes: number | null }>(
      `SELECT SUM(COALESCE(sealed_bytes, plain_bytes, 0) + COALESCE(custody_bytes, 0)) AS bytes
       FROM share_jobs WHERE state IN ${OPEN_STATES}`,
    );
    return row?.bytes ?? 0;
  }

  /** Moves a job and records what the step learned, in one statement. */
  async update(
    id: number,
    now: number,
    change: Partial<{
      state: ShareJobState;
      plainBytes: number | null;
      exportFacts: ExportFacts;
      sealedSha256: string;
      sealedBytes: number;
      custodyBytes: number;
      clipUrl: string | null;
      custodyUrl: string | null;
      clipSent: number;
      custodySent: number;
      failure: string;
      lastError: string | null;
    }>,
    tx?: Transaction,
  ): Promise<void> {
    const columns: Record<string, string> = {
      state: 'state',
      plainBytes: 'plain_bytes',
      exportFacts: 'export_facts',
      sealedSha256: 'sealed_sha256',
      sealedBytes: 'sealed_bytes',
      custodyBytes: 'custody_bytes',
      clipUrl: 'clip_url',
      custodyUrl: 'custody_url',
      clipSent: 'clip_sent',
      custodySent: 'custody_sent',
      failure: 'failure',
      lastError: 'last_error',
    };
    const sets: string[] = ['updated_at = ?'];
    const params: (string | number | null)[] = [now];
    for (const [key, value] of Object.entries(change)) {
      const column = columns[key];
      if (!column || value === undefined) continue;
      sets.push(`${column} = ?`);
      params.push(
        typeof value === 'object' && value !== null
          ? JSON.stringify(value)
          : (value as string | number | null),
      );
    }
    params.push(id);
    await (tx ?? this.db).run(`UPDATE share_jobs SET ${sets.join(', ')} WHERE id = ?`, params);
  }

  /** Sends every `exported` job back to `approved` (its cut is not kept across restarts). */
  async recutExported(now: number): Promise<void> {
    await this.db.run(
      `UPDATE share_jobs SET state = 'approved', plain_bytes = NULL, export_facts = NULL,
         updated_at = ? WHERE state = 'exported'`,
      [now],
    );
  }

  /** Counts a failed attempt and keeps its message (already free of secrets). */
  async attemptFailed(id: number, now: number, message: string): Promise<void> {
    await this.db.run(
      'UPDATE share_jobs SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?',
      [message.slice(0, 500), now, id],
    );
  }
}

function toRecord(row: Row): JobRecord {
  const sealed = row.sealed_bytes !== null ? row.sealed_bytes + (row.custody_bytes ?? 0) : null;
  return {
    id: row.id,
    requestId: row.request_id,
    clipIndex: row.clip_index,
    start: row.range_start,
    end: row.range_end,
    mode: row.mode,
    audio: row.audio === 1,
    state: row.state,
    bytesTotal: sealed,
    bytesSent: row.state === 'uploaded' ? (sealed ?? 0) : row.clip_sent + row.custody_sent,
    attempts: row.attempts,
    lastError: row.last_error,
    failure: row.failure,
    updatedAt: row.updated_at,
    name: row.name,
    decidedAt: row.decided_at,
    clockSync: row.clock_sync,
    plainBytes: row.plain_bytes,
    exportFacts: row.export_facts ? (JSON.parse(row.export_facts) as ExportFacts) : null,
    sealedSha256: row.sealed_sha256,
    sealedBytes: row.sealed_bytes,
    custodyBytes: row.custody_bytes,
    clipUrl: row.clip_url,
    custodyUrl: row.custody_url,
    clipSent: row.clip_sent,
    custodySent: row.custody_sent,
  };
}

/** The public view of a job (what `threshold uploads --json` and the page show). */
export function publicJob(job: JobRecord): ShareJob {
  return {
    id: job.id,
    requestId: job.requestId,
    clipIndex: job.clipIndex,
    start: job.start,
    end: job.end,
    mode: job.mode,
    audio: job.audio,
    state: job.state,
    bytesTotal: job.bytesTotal,
    bytesSent: job.bytesSent,
    attempts: job.attempts,
    lastError: job.lastError,
    failure: job.failure,
    updatedAt: job.updatedAt,
  };
}
