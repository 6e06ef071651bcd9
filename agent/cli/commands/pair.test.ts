import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../../hal/linux/clock.js';
import { AuditLog } from '../../audit/audit-log.js';
import { createRequestWorld, type RequestWorld } from '../../test-support/request-world.js';
import { normalizeCode, PairingCodes } from '../../ui/pairing.js';
import { defaultContext } from '../context.js';
import { main } from '../main.js';

/** `threshold pair`: one-time codes, stored hashed, each audited without the code. */

let world: RequestWorld;

async function pair(args: string[] = []): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await main(['pair', '--config', world.configPath, ...args], {
    ...defaultContext(),
    out: (text) => out.push(text),
  });
  return { code, out: out.join('\n') };
}

beforeEach(async () => {
  world = await createRequestWorld();
});

afterEach(async () => {
  await world.close();
});

describe('threshold pair', () => {
  it('prints a fresh code and where to enter it; only its hash is stored', async () => {
    const first = await pair();
    expect(first.code).toBe(0);
    const code = /pairing code: ([0-9A-Z]{5}-[0-9A-Z]{5})/.exec(first.out)?.[1] ?? '';
    expect(first.out).toContain('open http://127.0.0.1:8470/ in a browser');
    expect(first.out).toContain('10 minutes');
    const second = JSON.parse((await pair(['--json'])).out) as { code: string; url: string };
    expect(second.code).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    expect(second.code).not.toBe(code);

    const rows = await world.db.all<Record<string, unknown>>('SELECT * FROM ui_pairing_codes');
    expect(rows).toHaveLength(2);
    const stored = JSON.stringify(rows);
    const audit = JSON.stringify(
      await world.db.all("SELECT * FROM audit_log WHERE kind = 'owner_pairing_code_issued'"),
    );
    for (const printed of [code, second.code]) {
      const bare = normalizeCode(printed) ?? '';
      expect(stored).not.toContain(bare);
      expect(audit).not.toContain(bare);
      const digest = createHash('sha256').update(`threshold/ui/pairing/${bare}`).digest('hex');
      expect(stored).toContain(digest);
    }
    expect(JSON.parse(audit)).toHaveLength(2);
  });

  it('a code works once and not after 10 minutes', async () => {
    const { code } = JSON.parse((await pair(['--json'])).out) as { code: string };
    const codes = new PairingCodes({
      db: world.db,
      audit: new AuditLog(world.db, new SystemClock()),
    });
    const now = Date.now();
    const use = (at: number) => codes.redeem(code, at, async () => 'session');
    expect(await use(now + 10 * 60_000 + 1)).toEqual({ ok: false });
    expect(await use(now)).toEqual({ ok: true, value: 'session' });
    expect(await use(now)).toEqual({ ok: false });
  });
});
