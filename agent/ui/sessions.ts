import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { Database } from '../db/database.js';
import type { PairingCodes } from './pairing.js';

/**
 * Browsers paired with the owner's page. A session is a random 256-bit token in an
 * HttpOnly, SameSite=Strict cookie; the database keeps its SHA-256 (looking a 256-bit
 * token up by its hash leaks nothing worth timing). Sessions last 30 days from their last
 * use. Pairing and revoking are audited; the entries name the session's number only.
 */

export const SESSION_TTL_MS = 30 * 24 * 3600_000;
/** `last_seen_at` is written at most this often (a page load makes several requests). */
const TOUCH_EVERY_MS = 60_000;

export interface Session {
  id: number;
  label: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

interface Row {
  id: number;
  label: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

const toSession = (row: Row): Session => ({
  id: row.id,
  label: row.label,
  createdAt: row.created_at,
  lastSeenAt: row.last_seen_at,
  expiresAt: row.expires_at,
});

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export class Sessions {
  constructor(private readonly deps: { db: Database; audit: AuditLog; pairing: PairingCodes }) {}

  /** Exchanges a pairing code for a session; undefined for a wrong, used or expired code. */
  async pair(
    code: string,
    label: string,
    now: number,
  ): Promise<{ token: string; session: Session } | undefined> {
    const token = randomBytes(32).toString('base64url');
    const result = await this.deps.pairing.redeem(code, now, async (tx) => {
      const { lastId } = await tx.run(
        `INSERT INTO ui_sessions (token_sha256, label, created_at, last_seen_at, expires_at)
         VALUES (?, ?, ?, ?, ?)`,
        [digest(token), label, now, now, now + SESSION_TTL_MS],
      );
      await this.deps.audit.appendIn(
        tx,
        { kind: 'owner_paired', detail: { session: lastId } },
        now,
      );
      return lastId;
    });
    if (!result.ok) return undefined;
    return {
      token,
      session: {
        id: result.value,
        label,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + SESSION_TTL_MS,
      },
    };
  }

  /** The live session a cookie's token names, if any; extends it when used. */
  async find(token: string, now: number): Promise<Session | undefined> {
    const row = await this.deps.db.get<Row>(
      'SELECT * FROM ui_sessions WHERE token_sha256 = ? AND expires_at > ?',
      [digest(token), now],
    );
    if (!row) return undefined;
    if (now - row.last_seen_at >= TOUCH_EVERY_MS) {
      await this.deps.db.run(
        'UPDATE ui_sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?',
        [now, now + SESSION_TTL_MS, row.id],
      );
      return toSession({ ...row, last_seen_at: now, expires_at: now + SESSION_TTL_MS });
    }
    return toSession(row);
  }

  async list(now: number): Promise<Session[]> {
    await this.deps.db.run('DELETE FROM ui_sessions WHERE expires_at <= ?', [now]);
    const rows = await this.deps.db.all<Row>(
      'SELECT * FROM ui_sessions ORDER BY last_seen_at DESC',
    );
    return rows.map(toSession);
  }

  /** Ends a session (revoked on the page, or logged out); false when there was none. */
  async revoke(id: number, reason: 'revoked' | 'logged_out', now: number): Promise<boolean> {
    return this.deps.db.transaction(async (tx) => {
      const { changes } = await tx.run('DELETE FROM ui_sessions WHERE id = ?', [id]);
      if (changes === 0) return false;
      await this.deps.audit.appendIn(
        tx,
        { kind: 'owner_session_ended', reason, detail: { session: id } },
        now,
      );
      return true;
    });
  }
}
