import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../errors.js';
import { createWorld, DEVICE_TOPIC, START, type World } from '../test-support/intake-world.js';
import { buildRevocations } from './build.js';
import { requestPinOwner } from './footage.js';

const HOUR = 3600_000;

describe('RequestStore', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld({ policy: { maxPromptsPerAgencyPerWeek: 20 } });
    await w.record(START - 2 * HOUR, START);
  });
  afterEach(async () => {
    await w.close();
  });

  const pending = async (overrides: Parameters<World['request']>[0] = {}) => {
    const result = await w.intake.handleRequest(DEVICE_TOPIC, w.request(overrides).bytes);
    if (result.kind !== 'pending')
      throw new Error(`expected pending, got ${JSON.stringify(result)}`);
    return result;
  };

  it('decline: declined, footage released, audited; the others keep theirs', async () => {
    const a = await pending();
    const b = await pending();
    expect((await w.pins.pinnedBy(requestPinOwner(a.requestId))).length).toBeGreaterThan(0);
    w.clock.advance(5000);

    const declined = await w.store.decline(a.requestId);

    expect(declined).toMatchObject({ id: a.requestId, state: 'declined', decidedAt: START + 5000 });
    expect(await w.pins.pinnedBy(requestPinOwner(a.requestId))).toEqual([]);
    expect(await w.pins.pinnedBy(requestPinOwner(b.requestId))).toEqual(b.segmentIds);
    expect((await w.store.list({ all: false })).map((r) => r.id)).toEqual([b.requestId]);
    expect((await w.store.list({ all: true })).map((r) => r.state).sort()).toEqual([
      'declined',
      'pending',
    ]);
    expect((await w.audit.entries()).at(-1)).toMatchObject({
      kind: 'request_declined',
      requestId: a.requestId,
    });
  });

  it('decline of an unknown or decided request is a UserError and changes nothing', async () => {
    const a = await pending();
    await w.store.decline(a.requestId);
    const before = await w.snapshot();
    const auditCount = (await w.audit.entries()).length;
    await expect(w.store.decline(a.requestId)).rejects.toMatchObject({
      code: 'request_not_pending',
    });
    await expect(w.store.decline('AAAAAAAAAAAAAAAAAAAAAA')).rejects.toBeInstanceOf(UserError);
    await expect(w.store.decline('AAAAAAAAAAAAAAAAAAAAAA')).rejects.toMatchObject({
      code: 'request_not_found',
    });
    expect(await w.snapshot()).toEqual(before);
    expect(await w.audit.entries()).toHaveLength(auditCount);
  });

  it('expireDue: expires what is due (at expiresAt exactly), releases its footage', async () => {
    const soon = await pending({ expiresAt: START + HOUR });
    const later = await pending({ expiresAt: START + 2 * HOUR });
    expect(await w.store.expireDue()).toEqual([]);
    w.clock.advance(HOUR - 1);
    expect(await w.store.expireDue()).toEqual([]);
    w.clock.advance(1);
    expect(await w.store.expireDue()).toEqual([soon.requestId]);
    expect((await w.store.get(soon.requestId))?.state).toBe('expired');
    expect(await w.pins.pinnedBy(requestPinOwner(soon.requestId))).toEqual([]);
    expect(await w.pins.pinnedBy(requestPinOwner(later.requestId))).toEqual(later.segmentIds);
    expect((await w.audit.entries()).at(-1)).toMatchObject({
      kind: 'request_expired',
      requestId: soon.requestId,
    });
  });

  it('expireDue judges by the floor: setting the clock back does not revive a request', async () => {
    const a = await pending({ expiresAt: START + HOUR });
    w.clock.advance(2 * HOUR);
    w.floor.now(); // the floor saw the time (any reader of the clock does)…
    w.clock.setWall(START); // …then the clock stepped back before expireDue ran
    expect(await w.store.expireDue()).toEqual([a.requestId]);
  });

  it('expireDue persists the time floor', async () => {
    w.clock.advance(HOUR);
    await w.store.expireDue();
    const row = await w.db.get<{ value: string }>(
      "SELECT value FROM agent_state WHERE key = 'time_floor'",
    );
    expect(Number(row?.value)).toBe(START + HOUR);
  });

  it('markShared: shared and released (the uploader holds its own pins)', async () => {
    const a = await pending();
    const shared = await w.store.markShared(a.requestId, { clips: 1 });
    expect(shared.state).toBe('shared');
    expect(await w.pins.pinnedBy(requestPinOwner(a.requestId))).toEqual([]);
    expect((await w.audit.entries()).at(-1)).toMatchObject({
      kind: 'request_shared',
      detail: { clips: 1 },
    });
  });

  it('a revocation withdraws the pending requests of the revoked agency', async () => {
    const a = await pending();
    const list = buildRevocations({
      rootSecretKeys: w.roots.slice(0, 2).map((root) => root.secretKey),
      version: 3,
      agencyIds: [],
      signingKeys: [Buffer.from(w.agency.publicKey).toString('base64')],
      issuedAt: START,
    });
    expect(await w.intake.handleRevocations(Buffer.from(JSON.stringify(list)))).toEqual({
      kind: 'accepted',
      version: 3,
    });
    expect((await w.store.get(a.requestId))?.state).toBe('expired');
    expect(await w.pins.pinnedBy(requestPinOwner(a.requestId))).toEqual([]);
    expect((await w.audit.entries()).map((e) => e.kind)).toContain('request_withdrawn');
  });

  it('reconcilePins repairs a crash between a state change and its pins', async () => {
    const a = await pending();
    const b = await pending();
    await w.store.decline(b.requestId);
    // As if the process died after the commits, before the pins changed.
    await w.db.run('DELETE FROM pins WHERE owner = ?', [requestPinOwner(a.requestId)]);
    await w.pins.pin(requestPinOwner(b.requestId), b.segmentIds);

    await w.store.reconcilePins();

    expect(await w.pins.pinnedBy(requestPinOwner(a.requestId))).toEqual(a.segmentIds);
    expect(await w.pins.pinnedBy(requestPinOwner(b.requestId))).toEqual([]);
  });

  it('list and get return what intake stored', async () => {
    const a = await pending();
    w.clock.advance(1000);
    const b = await pending();
    const listed = await w.store.list({ all: false });
    expect(listed.map((r) => r.id)).toEqual([b.requestId, a.requestId]);
    expect(await w.store.get(a.requestId)).toEqual(listed[1]);
    expect(await w.store.get('nope')).toBeUndefined();
    expect(await w.store.pendingCount()).toBe(2);
    expect(await w.store.promptsThisWeek('metro-pd')).toBe(2);
    expect(await w.store.promptsThisWeek('other')).toBe(0);
  });
});
