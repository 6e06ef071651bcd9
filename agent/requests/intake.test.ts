import nacl from 'tweetnacl';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorld, DEVICE_TOPIC, START, type World } from '../test-support/intake-world.js';
import { buildDelegation, newRequestId } from './build.js';
import { requestPinOwner } from './footage.js';
import { CLOCK_SKEW_MS, MAX_ENVELOPE_BYTES } from './protocol.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('intake accepts', () => {
  const worlds: World[] = [];
  const world = async (options?: Parameters<typeof createWorld>[0]) => {
    const created = await createWorld(options);
    worlds.push(created);
    await created.record(START - 2 * HOUR, START);
    return created;
  };
  afterEach(async () => {
    for (const w of worlds.splice(0)) await w.close();
  });

  it('a valid request with footage: pending, its segments pinned, audited with its id', async () => {
    const w = await world();
    const built = w.request({ window: { start: START - HOUR, end: START - HOUR + 60_000 } });
    const expected = (await w.segments.overlapping(START - HOUR, START - HOUR + 60_000)).map(
      (s) => s.id,
    );
    expect(expected.length).toBeGreaterThan(0);

    const result = await w.intake.handleRequest(DEVICE_TOPIC, built.bytes);

    expect(result).toEqual({ kind: 'pending', requestId: built.id, segmentIds: expected });
    expect(await w.pins.pinnedBy(requestPinOwner(built.id))).toEqual(expected);
    const stored = await w.store.get(built.id);
    expect(stored).toMatchObject({
      state: 'pending',
      agencyId: 'metro-pd',
      agencyName: 'Metro Police Department',
      rootNames: ['root-1', 'root-2'],
      investigationCode: 'MPD-2026/0042',
      window: { start: START - HOUR, end: START - HOUR + 60_000 },
      expiresAt: START + DAY,
      segmentIds: expected,
      uploadUrl: 'https://evidence.example.org/files/',
      contact: { name: 'Det. Rivera', phone: '+1 555 0100', email: 'rivera@example.org' },
    });
    expect(stored?.envelope.toString('utf8')).toBe(built.bytes.toString('utf8'));
    expect((await w.audit.entries()).at(-1)).toMatchObject({
      kind: 'request_accepted',
      requestId: built.id,
    });
  });

  it('a valid request whose window falls in a recording gap: no_footage, nothing pinned', async () => {
    const w = await world();
    await w.record(START - 10 * HOUR, START - 9 * HOUR);
    // Footage exists before and after; none between 9 h and 2 h ago.
    const built = w.request({ window: { start: START - 6 * HOUR, end: START - 5 * HOUR } });
    const result = await w.intake.handleRequest(DEVICE_TOPIC, built.bytes);
    expect(result).toEqual({ kind: 'no_footage', requestId: built.id });
    expect(await w.pins.pinnedBy(requestPinOwner(built.id))).toEqual([]);
    expect((await w.store.get(built.id))?.state).toBe('no_footage');
    expect(await w.store.list({ all: false })).toEqual([]);
    // Redelivered: handled once.
    expect(await w.intake.handleRequest(DEVICE_TOPIC, built.bytes)).toMatchObject({
      reason: 'duplicate',
    });
  });

  it('an envelope of exactly 16 KiB is judged; one byte more is too_large', async () => {
    const w = await world();
    const built = w.request();
    const padded = Buffer.concat([
      built.bytes,
      Buffer.alloc(MAX_ENVELOPE_BYTES - built.bytes.length, 0x20),
    ]);
    expect(padded.length).toBe(MAX_ENVELOPE_BYTES);
    expect(
      await w.intake.handleRequest(DEVICE_TOPIC, Buffer.concat([padded, Buffer.from(' ')])),
    ).toMatchObject({
      reason: 'too_large',
    });
    expect((await w.intake.handleRequest(DEVICE_TOPIC, padded)).kind).toBe('pending');
  });
});

describe('intake judges time at the edges', () => {
  const worlds: World[] = [];
  afterEach(async () => {
    for (const w of worlds.splice(0)) await w.close();
  });
  const world = async () => {
    const w = await createWorld();
    worlds.push(w);
    await w.record(START - 2 * HOUR, START);
    return w;
  };

  it('expiresAt: valid 1 s before, expired at and 1 s after', async () => {
    const w = await world();
    const issuedAt = START - HOUR;
    const judge = async (expiresAt: number) =>
      w.intake.handleRequest(DEVICE_TOPIC, w.request({ issuedAt, expiresAt }).bytes);
    expect((await judge(START + 1000)).kind).toBe('pending');
    expect(await judge(START)).toMatchObject({ reason: 'expired' });
    expect(await judge(START - 1000)).toMatchObject({ reason: 'expired' });
  });

  it('issuedAt: valid up to 300 s ahead, not_yet_valid 1 s beyond', async () => {
    const w = await world();
    const judge = async (issuedAt: number) =>
      w.intake.handleRequest(DEVICE_TOPIC, w.request({ issuedAt, expiresAt: START + DAY }).bytes);
    expect(await judge(START + CLOCK_SKEW_MS + 1000)).toMatchObject({ reason: 'not_yet_valid' });
    expect((await judge(START + CLOCK_SKEW_MS - 1000)).kind).toBe('pending');
    expect((await judge(START + CLOCK_SKEW_MS)).kind).toBe('pending');
  });

  it('a delegation is valid from notBefore - 300 s until notAfter', async () => {
    const w = await world();
    const delegation = (notBefore: number, notAfter: number) =>
      buildDelegation({
        rootSecretKeys: w.roots.slice(0, 2).map((root) => root.secretKey),
        agencyId: 'metro-pd',
        name: 'Metro Police Department',
        signingKey: w.agency.publicKey,
        regions: ['u33'],
        maxRadiusM: 5000,
        maxWindowS: 86400,
        notBefore,
        notAfter,
      });
    const judge = (d: ReturnType<typeof delegation>) =>
      w.intake.handleRequest(DEVICE_TOPIC, w.request({ delegation: d }).bytes);
    expect(await judge(delegation(START - DAY, START))).toMatchObject({
      reason: 'delegation_expired',
    });
    expect((await judge(delegation(START - DAY, START + 1000))).kind).toBe('pending');
    const early = START + CLOCK_SKEW_MS + 1000;
    expect(await judge(delegation(early, early + DAY))).toMatchObject({
      reason: 'delegation_expired',
    });
    const soon = START + CLOCK_SKEW_MS - 1000;
    expect((await judge(delegation(soon, soon + DAY))).kind).toBe('pending');
  });

  it('a clock set back to 1970 judges no request valid until it passes the floor', async () => {
    const first = await world();
    first.clock.advance(HOUR);
    await first.floor.persist();
    const realNow = first.clock.now();
    await first.close({ keep: true });
    worlds.splice(worlds.indexOf(first), 1);

    // The device restarts with its RTC reset.
    first.clock.setWall(0);
    const w = await createWorld({ from: first });
    worlds.push(w);
    expect(w.floor.isBehind()).toBe(true);
    expect(w.floor.now()).toBe(realNow);
    const agencyTime = { issuedAt: realNow, expiresAt: realNow + DAY };
    const window = { start: START - HOUR, end: START - HOUR / 2 };
    const refused = await w.intake.handleRequest(
      DEVICE_TOPIC,
      w.request({ ...agencyTime, window }).bytes,
    );
    expect(refused).toMatchObject({ reason: 'not_yet_valid' });
    // A request that would be valid by the 1970 clock is no better.
    const old = await w.intake.handleRequest(
      DEVICE_TOPIC,
      w.request({ issuedAt: 0, expiresAt: DAY, window: { start: 0, end: 1000 } }).bytes,
    );
    expect(old).toMatchObject({ reason: 'expired' });

    w.clock.setWall(realNow + 1000); // NTP synced
    expect(w.floor.isBehind()).toBe(false);
    const accepted = await w.intake.handleRequest(
      DEVICE_TOPIC,
      w.request({ ...agencyTime, window }).bytes,
    );
    expect(accepted.kind).toBe('pending');
  });
});

describe('duplicates', () => {
  const worlds: World[] = [];
  afterEach(async () => {
    for (const w of worlds.splice(0)) await w.close();
  });

  it('the same valid request 100 times (at once) gives exactly one pending request', async () => {
    const w = await createWorld();
    worlds.push(w);
    await w.record(START - 2 * HOUR, START);
    const built = w.request();
    const results = await Promise.all(
      Array.from({ length: 100 }, () => w.intake.handleRequest(DEVICE_TOPIC, built.bytes)),
    );
    expect(results.filter((r) => r.kind === 'pending')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'rejected' && r.reason === 'duplicate')).toHaveLength(
      99,
    );
    expect(await w.store.list({ all: true })).toHaveLength(1);

    // And after a restart.
    await w.close({ keep: true });
    worlds.pop();
    const again = await createWorld({ from: w });
    worlds.push(again);
    expect(await again.intake.handleRequest(DEVICE_TOPIC, built.bytes)).toMatchObject({
      kind: 'rejected',
      reason: 'duplicate',
    });
    expect(await again.store.list({ all: true })).toHaveLength(1);
    expect(await again.audit.verify()).toEqual({ ok: true, count: 101 });
  });

  it('a refused authentic request is remembered: its redelivery is a duplicate', async () => {
    const w = await createWorld({ policy: { blockedAgencies: ['metro-pd'] } });
    worlds.push(w);
    await w.record(START - 2 * HOUR, START);
    const built = w.request();
    expect(await w.intake.handleRequest(DEVICE_TOPIC, built.bytes)).toEqual({
      kind: 'rejected',
      reason: 'agency_blocked',
      requestId: built.id,
    });
    expect(await w.intake.handleRequest(DEVICE_TOPIC, built.bytes)).toMatchObject({
      reason: 'duplicate',
    });
  });

  it('an outcome that failed to commit does not mark the id handled', async () => {
    const w = await createWorld();
    worlds.push(w);
    await w.record(START - 2 * HOUR, START);
    const built = w.request();
    // The disk refuses the write (as a full disk would).
    await w.db.exec(`CREATE TRIGGER fail_requests BEFORE INSERT ON requests
      BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
    await expect(w.intake.handleRequest(DEVICE_TOPIC, built.bytes)).rejects.toThrow('disk full');
    await w.db.exec(`CREATE TRIGGER fail_refusals BEFORE INSERT ON audit_log
      BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
    const blocked = w.request({ window: { start: START - 5 * HOUR, end: START - 4 * HOUR } });
    await expect(w.intake.handleRequest(DEVICE_TOPIC, blocked.bytes)).rejects.toThrow('disk full');
    await w.db.exec('DROP TRIGGER fail_requests; DROP TRIGGER fail_refusals;');

    expect(await w.intake.handleRequest(DEVICE_TOPIC, built.bytes)).toMatchObject({
      kind: 'pending',
    });
    expect(await w.intake.handleRequest(DEVICE_TOPIC, blocked.bytes)).toMatchObject({
      reason: 'window_beyond_retention',
    });
  });

  it('a forged request carrying a valid request id, sent first, does not block the valid one', async () => {
    const w = await createWorld();
    worlds.push(w);
    await w.record(START - 2 * HOUR, START);
    const id = newRequestId();
    const forger = nacl.sign.keyPair();
    const forged = w.request({ id, agencySecretKey: forger.secretKey, title: 'Forged' });
    const valid = w.request({ id });
    for (let i = 0; i < 3; i += 1) {
      expect(await w.intake.handleRequest(DEVICE_TOPIC, forged.bytes)).toMatchObject({
        reason: 'bad_signature',
      });
    }
    expect(await w.intake.handleRequest(DEVICE_TOPIC, valid.bytes)).toMatchObject({
      kind: 'pending',
      requestId: id,
    });
    expect((await w.store.get(id))?.title).toBe('Burglary on Elm Street');
    // The forger's refusals did not carry the id as authentic.
    const refusals = (await w.audit.entries()).filter((e) => e.reason === 'bad_signature');
    expect(refusals).toHaveLength(3);
    for (const entry of refusals) {
      expect(entry.requestId).toBeUndefined();
      expect(entry.detail).toMatchObject({ claimedId: id });
    }
  });
});

describe('signature work under a flood', () => {
  it('1,000 well-formed requests with bad signatures, then a valid one: answered within 2 s', async () => {
    const w = await createWorld();
    try {
      await w.record(START - 2 * HOUR, START);
      const forger = nacl.sign.keyPair();
      const flood = Array.from({ length: 1000 }, () => {
        const secret = new Uint8Array(64);
        secret.set(forger.secretKey.subarray(0, 32));
        secret.set(w.agency.publicKey, 32); // the agency's key id, a wrong signature
        return w.request({ agencySecretKey: secret }).bytes;
      });
      const valid = w.request().bytes;
      const started = performance.now();
      const floodResults = flood.map((bytes) => w.intake.handleRequest(DEVICE_TOPIC, bytes));
      const queuedAt = performance.now();
      const validResult = await w.intake.handleRequest(DEVICE_TOPIC, valid);
      const latency = performance.now() - queuedAt;
      const results = await Promise.all(floodResults);
      expect(results.every((r) => r.kind === 'rejected' && r.reason === 'bad_signature')).toBe(
        true,
      );
      expect(validResult.kind).toBe('pending');
      expect(latency).toBeLessThan(2000);
      console.log(
        JSON.stringify({
          flood: 1000,
          validLatencyMs: Math.round(latency),
          totalMs: Math.round(performance.now() - started),
        }),
      );
    } finally {
      await w.close();
    }
  });
});
