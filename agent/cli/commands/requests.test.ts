import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../../hal/linux/clock.js';
import { Pins } from '../../recording/pins.js';
import { requestTopics } from '../../requests/build.js';
import { createRequestService, type RequestService } from '../../requests/request-service.js';
import { cliInProcess as cli } from '../../test-support/cli-in-process.js';
import {
  createRequestWorld,
  DEVICE_LOCATION,
  type RequestWorld,
} from '../../test-support/request-world.js';

/** `threshold requests | decline | audit` on a real database filled by the real intake. */

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const topic = requestTopics({ ...DEVICE_LOCATION, radiusM: 500 })[0] ?? '';

let world: RequestWorld;
let service: RequestService;
let pendingId: string;
let noFootageId: string;

beforeEach(async () => {
  world = await createRequestWorld();
  service = createRequestService({
    config: world.config,
    db: world.db,
    clock: new SystemClock(),
    footage: world.footage,
    log: pino({ level: 'silent' }),
  });
  await service.start(new AbortController().signal);
  const pending = world.request({ contact: { name: 'Det. Moreau', phone: '+33 1 23 45 67 89' } });
  const now = Date.now();
  const noFootage = world.request({ window: { start: now + 60_000, end: now + 120_000 } });
  expect(await service.intake.handleRequest(topic, pending.bytes)).toMatchObject({
    kind: 'pending',
  });
  expect(await service.intake.handleRequest(topic, noFootage.bytes)).toMatchObject({
    kind: 'no_footage',
  });
  expect(await service.intake.handleRequest(topic, Buffer.from('{'))).toMatchObject({
    kind: 'rejected',
    reason: 'not_json',
  });
  pendingId = pending.id;
  noFootageId = noFootage.id;
});

afterEach(async () => {
  await service.stop();
  await world.close();
});

describe('threshold requests', () => {
  it('lists pending requests as JSON with ISO-8601 times', async () => {
    const run = await cli(['requests', '--config', world.configPath, '--json']);
    expect(run.code).toBe(0);
    const listed = JSON.parse(run.out) as Record<string, unknown>[];
    expect(listed).toHaveLength(1);
    const [request] = listed;
    expect(request).toMatchObject({
      id: pendingId,
      state: 'pending',
      agencyId: 'metro-police',
      agencyName: 'Metropolitan Police',
      investigationCode: 'CASE-2026/001',
      title: 'Break-in on Rue de Rivoli',
      rootNames: ['Test Root'],
      contact: { name: 'Det. Moreau', phone: '+33 1 23 45 67 89' },
      distanceM: 0,
    });
    const window = request?.window as { start: string; end: string };
    expect(window.start).toMatch(ISO);
    expect(window.end).toMatch(ISO);
    expect(request?.expiresAt).toMatch(ISO);
    expect(request?.segments).toEqual((await service.store.get(pendingId))?.segmentIds);
    expect(((request?.segments ?? []) as number[]).length).toBeGreaterThan(20);
  });

  it('lists every state with --all, and prints a table without --json', async () => {
    const all = JSON.parse(
      (await cli(['requests', '--config', world.configPath, '--all', '--json'])).out,
    );
    expect((all as { id: string; state: string }[]).map((r) => [r.id, r.state]).sort()).toEqual(
      [
        [pendingId, 'pending'],
        [noFootageId, 'no_footage'],
      ].sort(),
    );
    const table = await cli(['requests', '--config', world.configPath]);
    expect(table.code).toBe(0);
    expect(table.out.split('\n')[0]).toMatch(
      /^ID\s+STATE\s+AGENCY\s+CODE\s+TITLE\s+WINDOW\s+EXPIRES\s+SEGMENTS$/,
    );
    expect(table.out).toContain(pendingId);
    expect(table.out).not.toContain(noFootageId);
  });
});

describe('threshold decline', () => {
  it('declines locally, releases the footage and says nothing was sent', async () => {
    expect((await new Pins(world.db).pinnedBy(`request:${pendingId}`)).length).toBeGreaterThan(0);
    const run = await cli(['decline', '--config', world.configPath, pendingId]);
    expect(run.code).toBe(0);
    expect(run.out).toContain('nothing was sent');
    expect((await service.store.get(pendingId))?.state).toBe('declined');
    expect(await new Pins(world.db).pinnedBy(`request:${pendingId}`)).toEqual([]);
    const entries = await service.audit.entries();
    expect(entries.at(-1)).toMatchObject({ kind: 'request_declined', requestId: pendingId });

    const again = await cli(['decline', '--config', world.configPath, pendingId]);
    expect(again.code).toBe(2);
    expect(again.err).toContain('is declined');
  });

  it('names the argument when the id is malformed, and refuses unknown ids', async () => {
    const bad = await cli(['decline', '--config', world.configPath, 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^threshold: id: /);
    const unknown = await cli(['decline', '--config', world.configPath, 'A'.repeat(22)]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('no request');
  });
});

describe('threshold audit', () => {
  it('prints the chain as JSON: seq, time, kind, requestId, reason, hash, prev', async () => {
    const run = await cli(['audit', '--config', world.configPath, '--json']);
    expect(run.code).toBe(0);
    const entries = JSON.parse(run.out) as Record<string, unknown>[];
    expect(entries.map((e) => [e.seq, e.kind, e.requestId, e.reason])).toEqual([
      [1, 'request_accepted', pendingId, undefined],
      [2, 'request_accepted', noFootageId, undefined],
      [3, 'request_refused', undefined, 'not_json'],
    ]);
    for (const [i, entry] of entries.entries()) {
      expect(entry.time).toMatch(ISO);
      expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(entry.prev).toBe(i === 0 ? '0'.repeat(64) : entries[i - 1]?.hash);
    }
  });

  it('--verify passes on an intact chain and fails naming the first edited entry', async () => {
    const ok = await cli(['audit', '--config', world.configPath, '--verify']);
    expect(ok.code).toBe(0);
    expect(ok.out).toBe('audit log intact: 3 entries');
    // Someone with the SD card edits history (the triggers only stop honest mistakes).
    await world.db.exec('DROP TRIGGER audit_log_no_update');
    await world.db.run("UPDATE audit_log SET reason = 'schema' WHERE seq = 3");
    const broken = await cli(['audit', '--config', world.configPath, '--verify']);
    expect(broken.code).toBe(1);
    expect(broken.err).toContain('entry 3');
  });

  it('lists the entries as a table', async () => {
    const run = await cli(['audit', '--config', world.configPath]);
    expect(run.code).toBe(0);
    const lines = run.out.split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+TIME\s+KIND\s+REQUEST\s+REASON$/);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/request_refused\s+-\s+not_json$/);
  });
});
