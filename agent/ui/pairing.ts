import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { Database, Transaction } from '../db/database.js';

/**
 * One-time pairing codes (`threshold pair`): 10 characters of Crockford's base32 (50
 * random bits), valid 10 minutes, used once. Only their SHA-256 is stored. A login
 * compares the hash of what was typed with every live code's hash in constant time, so
 * neither the comparison nor an index lookup tells how close a guess came.
 */

export const PAIRING_CODE_TTL_MS = 10 * 60_000;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LENGTH = 10;
/** More live codes than this are not kept: the oldest go first. */
const MAX_LIVE_CODES = 8;

export const PAIRING_AUDIT_KIND = 'owner_pairing_code_issued';

/** How a code is shown: two groups of five, e.g. `7K2QM-X9D4P`. */
export function formatCode(code: string): string {
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/**
 * What the owner typed, in canonical form: case, spaces and dashes do not matter, and
 * Crockford's look-alikes are read as the digits they resemble (O→0, I and L→1).
 * Undefined when it cannot be a code.
 */
export function normalizeCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return code.length === CODE_LENGTH && [...code].every((c) => ALPHABET.includes(c))
    ? code
    : undefined;
}

function digest(code: string): Buffer {
  return createHash('sha256').update(`threshold/ui/pairing/${code}`).digest();
}

export class PairingCodes {
  constructor(private readonly deps: { db: Database; audit: AuditLog }) {}

  /** A new code, stored hashed with an audit entry (which never holds the code). */
  async issue(now: number): Promise<{ code: string; expiresAt: number }> {
    let code = '';
    for (let i = 0; i < CODE_LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
    const expiresAt = now + PAIRING_CODE_TTL_MS;
    await this.deps.db.transaction(async (tx) => {
      await tx.run('DELETE FROM ui_pairing_codes WHERE expires_at <= ? OR used_at IS NOT NULL', [
        now,
      ]);
      await tx.run(
        `DELETE FROM ui_pairing_codes WHERE id NOT IN
           (SELECT id FROM ui_pairing_codes ORDER BY id DESC LIMIT ?)`,
        [MAX_LIVE_CODES - 1],
      );
      await tx.run(
        'INSERT INTO ui_pairing_codes (code_sha256, created_at, expires_at) VALUES (?, ?, ?)',
        [digest(code).toString('hex'), now, expiresAt],
      );
      await this.deps.audit.appendIn(tx, { kind: PAIRING_AUDIT_KIND, detail: { expiresAt } }, now);
    });
    return { code, expiresAt };
  }

  /**
   * Uses a code: true once for a live code, false for a wrong, used or expired one. The
   * code is marked used in the same transaction that `then` runs in (the session it
   * opens), so a code opens one session at most.
   */
  async redeem<T>(
    typed: string,
    now: number,
    then: (tx: Transaction) => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false }> {
    const code = normalizeCode(typed);
    // Hash even a malformed guess, so it costs the same as a well-formed one.
    const given = digest(code ?? typed.slice(0, 64));
    return this.deps.db.transaction(async (tx) => {
      const live = await tx.all<{ id: number; code_sha256: string }>(
        'SELECT id, code_sha256 FROM ui_pairing_codes WHERE used_at IS NULL AND expires_at > ?',
        [now],
      );
      let match: number | undefined;
      for (const row of live) {
        if (timingSafeEqual(Buffer.from(row.code_sha256, 'hex'), given) && code !== undefined) {
          match = row.id;
        }
      }
      if (match === undefined) return { ok: false as const };
      await tx.run('UPDATE ui_pairing_codes SET used_at = ? WHERE id = ?', [now, match]);
      return { ok: true as const, value: await then(tx) };
    });
  }
}
