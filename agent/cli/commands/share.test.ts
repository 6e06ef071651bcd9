import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

/**
 * `threshold clips | share | uploads` on a real database filled by the real intake: an
 * approval commits its jobs, pins and audit entry together, and every refusal is one line
 * on stderr, exit 2, with nothing written anywhere.
 */

const topic = requestTopics({ ...DEVICE_LOCATION, radiusM: 500 })[0] ?? '';

let world: RequestWorld;
let service: RequestService;
let pendingId: string;
let window: { start: number; end: number };

/** Every row an approval or a refusal could touch. */
async function snapshot() {
  return {
    requests: await world.db.all('SELECT id, state, decided_at FROM requests ORDER BY id'),
    approvals: await world.db.all('SELECT * FROM approvals'),
    jobs: await world.db.all('SELECT * FROM share_jobs'),
    pins: await world.db.all('SELECT * FROM pins ORDER BY owner, segment_id'),
    audit: await world.db.all('SELECT seq, kind FROM audit_log ORDER BY seq'),
  };
}

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
  const now = Date.now();
  window = { start: now - 90_000, end: now - 30_000 };
  const pending = world.request({ window });
  expect(await service.intake.handleRequest(topic, pending.bytes)).toMatchObject({
    kind: 'pending',
  });
  pendingId = pending.id;
});

afterEach(async () => {
  await service.stop();
  await world.close();
});

const isoOf = (ms: number) => new Date(ms).toISOString();

describe('threshold clips', () => {
  it('offers the whole window when there was no motion', async () => {
    const run = await cli(['clips', '--config', world.configPath, pendingId, '--json']);
    expect(run.code).toBe(0);
    const clips = JSON.parse(run.out) as { index: number; start: string; end: string }[];
    expect(clips).toEqual([
      {
        index: 0,
        start: isoOf(window.start),
        end: isoOf(window.end),
        motion: false,
        bytes: 31 * 500_000,
        // The world's segment rows have no files: the thumbnail cannot be made.
        thumbnail: null,
      },
    ]);
  });
});

describe('threshold share', () => {
  it('commits the approval, its jobs, their pins and the audit entry together', async () => {
    const from = window.start + 10_000;
    const to = window.start + 16_000;
    const run = await cli([
      ...['share', '--config', world.configPath, pendingId],
      ...['--range', `${isoOf(from)}/${isoOf(to)}`, '--yes', '--json'],
    ]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({
      requestId: pendingId,
      agencyName: 'Metropolitan Police',
      clips: [{ clipIndex: 0, start: isoOf(from), end: isoOf(to) }],
      totalMs: 6000,
      mode: 'fast',
      audio: false,
    });
    const after = await snapshot();
    expect(after.requests).toContainEqual(
      expect.objectContaining({ id: pendingId, state: 'shared' }),
    );
    expect(after.approvals).toEqual([
      expect.objectContaining({ request_id: pendingId, mode: 'fast', audio: 0 }),
    ]);
    expect(after.jobs).toEqual([
      expect.objectContaining({
        clip_index: 0,
        range_start: from,
        range_end: to,
        state: 'approved',
      }),
    ]);
    const jobId = (after.jobs[0] as { id: number }).id;
    // The clip's footage is held by the job now, the request's hold is gone.
    const pins = new Pins(world.db);
    expect(await pins.pinnedBy(`request:${pendingId}`)).toEqual([]);
    expect((await pins.pinnedBy(`share:${jobId}`)).length).toBe(4);
    expect(after.audit.at(-1)).toEqual({ seq: 2, kind: 'request_shared' });

    const uploads = await cli(['uploads', '--config', world.configPath, '--json']);
    expect(JSON.parse(uploads.out)).toEqual([
      expect.objectContaining({
        requestId: pendingId,
        clipIndex: 0,
        state: 'approved',
        bytesSent: 0,
      }),
    ]);
  });

  it('asks for --yes when there is no terminal to confirm on', async () => {
    const before = await snapshot();
    const run = await cli(['share', '--config', world.configPath, pendingId]);
    expect(run.code).toBe(2);
    expect(run.err).toBe('threshold: no terminal to confirm on: add --yes to share\n');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses, in one line and changing nothing, what cannot be shared', async () => {
    const now = Date.now();
    const expired = world.request({ window, expiresAt: now + 1500 });
    expect(await service.intake.handleRequest(topic, expired.bytes)).toMatchObject({
      kind: 'pending',
    });
    const declined = world.request({ window });
    expect(await service.intake.handleRequest(topic, declined.bytes)).toMatchObject({
      kind: 'pending',
    });
    expect((await cli(['decline', '--config', world.configPath, declined.id])).code).toBe(0);
    // Past its expiry but not yet swept by the expiry loop: still refused.
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(now + 1600), { timeout: 5000 });

    const cases: [string[], RegExp][] = [
      [[declined.id], /is declined$/],
      [[expired.id], /expired at/],
      [['A'.repeat(22)], /no request A{22}$/],
      [['short'], /^threshold: id: not a request id/],
      [[pendingId, '--clip', '1'], /clip 1: no such clip/],
      [[pendingId, '--clip', 'x'], /--clip: x is not a clip number/],
      [
        [pendingId, '--range', `${isoOf(window.start - 1000)}/${isoOf(window.start + 5000)}`],
        /outside the request's window/,
      ],
      [
        [pendingId, '--range', `${isoOf(window.end - 1000)}/${isoOf(window.end + 1000)}`],
        /outside the request's window/,
      ],
      [[pendingId, '--range', 'yesterday/today'], /--range: not an ISO-8601 time/],
      [
        [pendingId, '--range', `${isoOf(window.end)}/${isoOf(window.start)}`],
        /--range: TO must be after FROM/,
      ],
    ];
    const before = await snapshot();
    for (const [args, message] of cases) {
      const run = await cli(['share', '--config', world.configPath, ...args, '--yes']);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.err.split('\n').filter(Boolean), args.join(' ')).toHaveLength(1);
      expect(run.err.trim(), args.join(' ')).toMatch(message);
    }
    expect(await snapshot()).toEqual(before);
  });
});
