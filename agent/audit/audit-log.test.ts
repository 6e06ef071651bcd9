import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hal/emulated/clock.js';
import { Database } from '../db/database.js';
import { AuditLog, entryHash, GENESIS_HASH } from './audit-log.js';

describe('AuditLog', () => {
  let dir: string;
  let db: Database;
  let clock: ManualClock;
  let audit: AuditLog;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'threshold-audit-'));
    db = await Database.open(join(dir, 'threshold.db'));
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    audit = new AuditLog(db, clock);
  });
  afterEach(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Lets a test edit rows, as someone with the database file could. */
  const dropGuards = () =>
    db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');

  async function fill(n: number) {
    for (let i = 1; i <= n; i += 1) {
      clock.advance(1000);
      await audit.append({
        kind: 'request_refused',
        reason: 'bad_signature',
        ...(i % 2 === 0 ? { requestId: `id-${i}` } : {}),
        detail: { i },
      });
    }
  }

  it('chains entries: prev is the previous hash, the first prev is 64 zeros', async () => {
    await fill(5);
    const entries = await audit.entries();
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(entries[0]?.prev).toBe(GENESIS_HASH);
    for (let i = 1; i < entries.length; i += 1) expect(entries[i]?.prev).toBe(entries[i - 1]?.hash);
    const third = entries[2];
    expect(third).toMatchObject({
      kind: 'request_refused',
      reason: 'bad_signature',
      detail: { i: 3 },
    });
    expect(third?.hash).toBe(
      entryHash(third?.prev ?? '', {
        seq: 3,
        time: third?.time ?? 0,
        kind: 'request_refused',
        request_id: null,
        reason: 'bad_signature',
        detail: '{"i":3}',
      }),
    );
    expect(await audit.verify()).toEqual({ ok: true, count: 5 });
  });

  it('concurrent appends share commits but keep call order and a valid chain', async () => {
    const written = await Promise.all(
      Array.from({ length: 300 }, (_, i) => audit.append({ kind: 'test_entry', detail: { i } })),
    );
    expect(written.map((e) => e.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect((await audit.entries()).map((e) => e.detail?.i)).toEqual(
      Array.from({ length: 300 }, (_, i) => i),
    );
    expect(await audit.verify()).toEqual({ ok: true, count: 300 });
  });

  it('a bad entry fails alone, not the entries that share its commit', async () => {
    const results = await Promise.allSettled([
      audit.append({ kind: 'ok_one' }),
      audit.append({ kind: 'Not Snake Case' }),
      audit.append({ kind: 'ok_two', detail: { big: 1n } as unknown as Record<string, unknown> }),
      audit.append({ kind: 'ok_three' }),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect((await audit.entries()).map((e) => e.kind)).toEqual(['ok_one', 'ok_three']);
    expect(await audit.verify()).toEqual({ ok: true, count: 2 });
  });

  it('appendBatched shares its batch commit and keeps call order with append and appendIn', async () => {
    const first = audit.appendBatched({ kind: 'batched', detail: { i: 0 } });
    expect(audit.appendBatched({ kind: 'batched', detail: { i: 1 } })).toBe(first);
    const appended = audit.append({ kind: 'appended', requestId: 'r1' });
    // appendIn writes when its transaction runs: after the batch queued before it, and
    // after an entry that joined that batch meanwhile (its append came first).
    const inTx = db.transaction((tx) => audit.appendIn(tx, { kind: 'in_tx', reason: 'later' }));
    expect(audit.appendBatched({ kind: 'batched', detail: { i: 2 } })).toBe(first);
    await first;
    const next = audit.appendBatched({ kind: 'batched', detail: { i: 3 } });
    expect(next).not.toBe(first);
    await Promise.all([appended, inTx, next]);
    expect(await appended).toMatchObject({ seq: 3, kind: 'appended', requestId: 'r1' });
    expect(await inTx).toMatchObject({ seq: 5, kind: 'in_tx', reason: 'later' });
    expect((await audit.entries()).map((e) => [e.seq, e.kind, e.detail?.i])).toEqual([
      [1, 'batched', 0],
      [2, 'batched', 1],
      [3, 'appended', undefined],
      [4, 'batched', 2],
      [5, 'in_tx', undefined],
      [6, 'batched', 3],
    ]);
    expect(await audit.verify()).toEqual({ ok: true, count: 6 });
  });

  it('appendBatched refuses a bad entry at once; a failed batch fails all its entries alone', async () => {
    expect(() => audit.appendBatched({ kind: 'Bad Kind' })).toThrow(RangeError);
    await db.exec(`CREATE TRIGGER fail_one BEFORE INSERT ON audit_log WHEN NEW.kind = 'doomed'
      BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
    const doomed = audit.appendBatched({ kind: 'doomed' });
    const neighbour = audit.append({ kind: 'same_batch' });
    await expect(doomed).rejects.toThrow('disk full');
    await expect(neighbour).rejects.toThrow('disk full');
    await audit.appendBatched({ kind: 'next_batch' });
    expect((await audit.entries()).map((e) => e.kind)).toEqual(['next_batch']);
    expect(await audit.verify()).toEqual({ ok: true, count: 1 });
  });

  it('writes a batch of 5,000 in one transaction with the stored types the hash covers', async () => {
    const last = await Promise.all(
      Array.from({ length: 5000 }, (_, i) =>
        audit.appendBatched({
          kind: 'bulk',
          ...(i % 3 === 0 ? { requestId: `id-${i}` } : {}),
          ...(i % 2 === 0 ? { detail: { i, text: 'quote " and \\ and \u2028' } } : {}),
        }),
      ),
    );
    expect(new Set(last).size).toBeLessThanOrEqual(2); // the first append's batch, then the rest
    const types = await db.all<{ seq: string; time: string; request_id: string; detail: string }>(
      `SELECT DISTINCT typeof(seq) AS seq, typeof(time) AS time, typeof(request_id) AS request_id,
         typeof(detail) AS detail FROM audit_log ORDER BY 1, 2, 3, 4`,
    );
    expect(types).toEqual([
      { seq: 'integer', time: 'integer', request_id: 'null', detail: 'null' },
      { seq: 'integer', time: 'integer', request_id: 'null', detail: 'text' },
      { seq: 'integer', time: 'integer', request_id: 'text', detail: 'null' },
      { seq: 'integer', time: 'integer', request_id: 'text', detail: 'text' },
    ]);
    const row = await db.get<{ detail: string }>('SELECT detail FROM audit_log WHERE seq = 1');
    expect(row?.detail).toBe(JSON.stringify({ i: 0, text: 'quote " and \\ and \u2028' }));
    expect(await audit.verify()).toEqual({ ok: true, count: 5000 });
  });

  it('stores text that is not well-formed UTF-16 as it hashes it (U+FFFD), so it verifies', async () => {
    const odd = 'x\ud800y';
    await audit.appendBatched({ kind: 'odd', reason: odd, requestId: odd, detail: { odd } });
    await audit.append({ kind: 'odd', reason: '\udc00' });
    const [first, second] = await audit.entries();
    expect(first).toMatchObject({ reason: 'x\ufffdy', requestId: 'x\ufffdy', detail: { odd } });
    expect(second?.reason).toBe('\ufffd');
    expect(await audit.verify()).toEqual({ ok: true, count: 2 });
  });

  it('an entry appended in a transaction that rolls back leaves no trace', async () => {
    await fill(2);
    await expect(
      db.transaction(async (tx) => {
        await audit.appendIn(tx, { kind: 'request_accepted', requestId: 'x' });
        throw new Error('the change it records failed');
      }),
    ).rejects.toThrow('the change it records failed');
    expect(await audit.hasRequest('x')).toBe(false);
    await fill(1);
    expect(await audit.verify()).toEqual({ ok: true, count: 3 });
  });

  it('the database refuses updates and deletes of entries', async () => {
    await fill(2);
    await expect(db.run("UPDATE audit_log SET reason = 'x' WHERE seq = 1")).rejects.toThrow(
      /append-only/,
    );
    await expect(db.run('DELETE FROM audit_log WHERE seq = 2')).rejects.toThrow(/append-only/);
  });

  const edits: Record<string, string> = {
    time: 'UPDATE audit_log SET time = time + 1 WHERE seq = 3',
    kind: "UPDATE audit_log SET kind = 'request_accepted' WHERE seq = 3",
    requestId: "UPDATE audit_log SET request_id = 'forged' WHERE seq = 3",
    reason: "UPDATE audit_log SET reason = 'duplicate' WHERE seq = 3",
    detail: 'UPDATE audit_log SET detail = \'{"i":33}\' WHERE seq = 3',
    hash: `UPDATE audit_log SET hash = '${'f'.repeat(64)}' WHERE seq = 3`,
    prev: `UPDATE audit_log SET prev = '${'e'.repeat(64)}' WHERE seq = 3`,
  };
  for (const [field, sql] of Object.entries(edits)) {
    it(`an entry with its ${field} changed fails verify, naming that entry`, async () => {
      await fill(6);
      await dropGuards();
      await db.run(sql);
      const verdict = await audit.verify();
      expect(verdict).toMatchObject({ ok: false, seq: 3 });
    });
  }

  it('an entry changed and its hash recomputed breaks the next link', async () => {
    await fill(6);
    await dropGuards();
    const row = await db.get<{ prev: string; time: number }>(
      'SELECT prev, time FROM audit_log WHERE seq = 3',
    );
    const forged = {
      seq: 3,
      time: row?.time ?? 0,
      kind: 'request_accepted',
      request_id: null,
      reason: null,
      detail: null,
    };
    await db.run(
      "UPDATE audit_log SET kind = 'request_accepted', reason = NULL, detail = NULL, hash = ? WHERE seq = 3",
      [entryHash(row?.prev ?? '', forged)],
    );
    expect(await audit.verify()).toMatchObject({
      ok: false,
      seq: 4,
      problem: expect.stringMatching(/prev/),
    });
  });

  it('a deleted entry fails verify, naming the missing seq', async () => {
    await fill(6);
    await dropGuards();
    await db.run('DELETE FROM audit_log WHERE seq = 2');
    expect(await audit.verify()).toEqual({ ok: false, seq: 2, problem: 'entry 2 is missing' });
  });

  it('verifies long logs page by page', async () => {
    await Promise.all(
      Array.from({ length: 2500 }, (_, i) => audit.append({ kind: 'bulk', detail: { i } })),
    );
    expect(await audit.verify()).toEqual({ ok: true, count: 2500 });
  });

  it('knows the authentic request ids it holds', async () => {
    await fill(4);
    expect(await audit.hasRequest('id-2')).toBe(true);
    expect(await audit.hasRequest('id-3')).toBe(false);
    const since = (await audit.entries())[2]?.time ?? 0;
    expect(await audit.requestIdsSince(since)).toEqual([{ id: 'id-4', time: since + 1000 }]);
  });
});
