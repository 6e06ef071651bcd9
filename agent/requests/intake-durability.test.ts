import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorld, DEVICE_TOPIC, START, type World } from '../test-support/intake-world.js';
import { footageIndexOf } from './footage.js';
import { Intake, MAX_UNFLUSHED_REFUSALS } from './intake.js';

/**
 * When `handleRequest` resolves (and so when the MQTT client acknowledges): a message
 * refused before its signature verified resolves once judged, its audit entry queued; an
 * acceptance or the refusal of an authentic request only once its entry is committed.
 * The database is held by a transaction of the test's own to tell the two apart.
 */

const HOUR = 3600_000;
const junk = () => Buffer.from('garbage, not JSON');

/** Resolves with `promise`, or fails the test if it takes longer than `ms`. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when `promise` is still unsettled after `ms` (for things that must not happen). */
async function stillPending(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !settled;
}

/** Releases the databases still held when a test fails, so the world can close. */
const releases: (() => Promise<void>)[] = [];

/** Holds the database (as a long transaction would) until `release` is called. */
function holdDatabase(w: World): { release: () => Promise<void> } {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const held = w.db.transaction(() => gate);
  const release = async () => {
    open();
    await held;
  };
  releases.push(release);
  return { release };
}

describe('intake durability', () => {
  const worlds: World[] = [];
  const world = async (options?: Parameters<typeof createWorld>[0]) => {
    const created = await createWorld(options);
    worlds.push(created);
    await created.record(START - 2 * HOUR, START);
    return created;
  };
  afterEach(async () => {
    for (const release of releases.splice(0)) await release();
    for (const w of worlds.splice(0)) await w.close();
  });

  it('refusals before the signature resolve while the database is held; the acceptance after them commits after them', async () => {
    const w = await world();
    const expired = w.request({ issuedAt: START - 2 * HOUR, expiresAt: START - HOUR });
    const valid = w.request();
    const db = holdDatabase(w);
    const refused = [];
    for (const message of [junk(), Buffer.from('{"payloadType":"x"}'), expired.bytes]) {
      refused.push(await within(2000, w.intake.handleRequest(DEVICE_TOPIC, message)));
    }
    expect(refused.map((r) => (r.kind === 'rejected' ? r.reason : r.kind))).toEqual([
      'not_json',
      'schema',
      'expired',
    ]);
    const accepted = w.intake.handleRequest(DEVICE_TOPIC, valid.bytes);
    expect(await stillPending(accepted, 100)).toBe(true);
    await db.release();
    expect(await within(5000, accepted)).toMatchObject({ kind: 'pending', requestId: valid.id });

    const entries = await w.audit.entries();
    expect(entries.map((e) => e.reason ?? e.kind)).toEqual([
      'not_json',
      'schema',
      'expired',
      'request_accepted',
    ]);
    expect(entries[2]?.detail).toMatchObject({ claimedId: expired.id });
    expect(await w.audit.verify()).toEqual({ ok: true, count: 4 });
  }, 15_000);

  it('beyond MAX_UNFLUSHED_REFUSALS a refusal waits for the oldest batch to commit', async () => {
    const w = await world();
    const db = holdDatabase(w);
    for (let i = 0; i < MAX_UNFLUSHED_REFUSALS; i += 1) {
      await within(2000, w.intake.handleRequest(DEVICE_TOPIC, junk()));
    }
    const over = w.intake.handleRequest(DEVICE_TOPIC, junk());
    expect(await stillPending(over, 100)).toBe(true);
    await db.release();
    expect(await within(5000, over)).toMatchObject({ reason: 'not_json' });
    await w.intake.flushed();
    expect(await w.audit.verify()).toEqual({ ok: true, count: MAX_UNFLUSHED_REFUSALS + 1 });
  }, 15_000);

  it('a lost refusal entry is logged, the call still resolves, the chain stays valid', async () => {
    const w = await world({ policy: { blockedAgencies: ['metro-pd'] } });
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const intake = new Intake({
      config: w.config,
      floor: w.floor,
      footage: footageIndexOf(w.segments, w.pins),
      audit: w.audit,
      store: w.store,
      trust: w.trust,
      log,
    });
    // The disk refuses these entries (as a full disk would).
    await w.db.exec(`CREATE TRIGGER fail_entries BEFORE INSERT ON audit_log
      WHEN NEW.reason IN ('not_json', 'agency_blocked')
      BEGIN SELECT RAISE(ABORT, 'disk full'); END`);

    expect(await intake.handleRequest(DEVICE_TOPIC, junk())).toMatchObject({ reason: 'not_json' });
    await intake.flushed();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      msg: 'refusal audit entries were lost',
      lost: 1,
      err: expect.stringContaining('disk full'),
    });
    // An authentic request's refusal waits for its entry: the failure reaches the caller
    // (the message stays unacknowledged and is redelivered).
    const blocked = w.request();
    await expect(intake.handleRequest(DEVICE_TOPIC, blocked.bytes)).rejects.toThrow('disk full');

    await w.db.exec('DROP TRIGGER fail_entries');
    expect(await intake.handleRequest(DEVICE_TOPIC, blocked.bytes)).toMatchObject({
      reason: 'agency_blocked',
      requestId: blocked.id,
    });
    expect((await w.audit.entries()).map((e) => e.reason)).toEqual(['agency_blocked']);
    expect(await w.audit.verify()).toEqual({ ok: true, count: 1 });
  }, 15_000);
});
