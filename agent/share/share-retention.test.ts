import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { basename, join } from 'node:path';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../hal/linux/clock.js';
import { LinuxStorage } from '../../hal/linux/storage.js';
import { makeSegments } from '../../test-fixtures/make-segments.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { type DeviceParts, openDeviceParts } from '../parts.js';
import { Retention } from '../recording/retention.js';
import { SegmentStore } from '../recording/segment-store.js';
import { tempDir, writeConfig } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import { Uploader } from '../upload/uploader.js';
import { agentVersion } from '../version.js';
import { jobFiles, pipelineParts, SharePipeline } from './share-pipeline.js';

/**
 * Retention pressure while shared clips wait to upload (promise 6): the agency is
 * unreachable, so the sealed clip sits in the outbox; retention, with a quota well under
 * what is recorded, evicts unpinned footage, oldest first, and never an approved clip's
 * footage or a sealed clip. The outbox counts toward the quota.
 */

const log = createLogger({ level: 'silent' });
const REQUEST_ID = 'QUJDREVGR0hJSktMTU5PUA';

let dir: string;
let cleanup: () => Promise<void>;
let config: Config;
let parts: DeviceParts;
let store: SegmentStore;
let base: number;
let trap: Server;
let connections = 0;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-share-retention-'));
  // The agency's endpoint accepts connections and drops them: every upload attempt fails.
  trap = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
  const port = (trap.address() as { port: number }).port;
  config = await loadConfig(
    await writeConfig(dir, {
      dataDir: join(dir, 'data'),
      device: { location: { lat: 52.37, lon: 4.9 } },
      camera: { source: 'emulated' },
      retention: { minFreeBytes: 0, bufferMinutes: 60, motionDays: 7 },
      log: { level: 'error' },
    }),
  );
  parts = await openDeviceParts(config, { log });
  base = Date.now() - 5 * 60_000;
  const { lastId: runId } = await parts.db.run(
    'INSERT INTO recorder_runs (started_at, ended_at, end_reason) VALUES (?, ?, ?)',
    [base, base + 40_000, 'stopped'],
  );
  const rows = await makeSegments({
    dir: parts.paths.segments,
    durationS: 40,
    runId,
    baseMs: base,
    width: 640,
    height: 360,
  });
  store = new SegmentStore(parts.db, new LinuxStorage(), parts.paths.segments);
  for (const [seq, row] of rows.entries()) {
    await store.add({ ...row, runId, seq, file: basename(row.path) });
  }
  const footage = await parts.segments.overlapping(base, base + 40_000);
  await parts.requests.accept(
    {
      id: REQUEST_ID,
      state: 'pending',
      agencyId: 'metro-police',
      agencyName: 'Metropolitan Police',
      signingKey: Buffer.alloc(32).toString('base64'),
      rootNames: ['Test Root'],
      investigationCode: 'CASE-1',
      title: 'A test request',
      description: 'Footage, please.',
      area: { lat: 52.37, lon: 4.9, radiusM: 500 },
      window: { start: base, end: base + 40_000 },
      issuedAt: Date.now(),
      expiresAt: Date.now() + 3600_000,
      recipient: Buffer.from(nacl.box.keyPair().publicKey).toString('base64'),
      uploadUrl: `https://127.0.0.1:${port}/files/`,
      segmentIds: footage.map((segment) => segment.id),
      receivedAt: Date.now(),
      payloadSha256: createHash('sha256').update('payload').digest('hex'),
      envelope: Buffer.from('{}'),
    },
    {},
  );
}, 120_000);

afterAll(async () => {
  await parts?.close();
  await new Promise((resolve) => trap?.close(resolve));
  await cleanup?.();
});

async function segmentBytes(): Promise<number> {
  let total = 0;
  for (const name of await readdir(parts.paths.segments)) {
    total += (await stat(join(parts.paths.segments, name))).size;
  }
  return total;
}

function retention(maxBytes: number): Retention {
  return new Retention({
    db: parts.db,
    store,
    storage: new LinuxStorage(),
    clock: new SystemClock(),
    log,
    retention: { ...config.retention, maxBytes },
    motion: config.motion,
    outboxBytes: () => parts.jobs.outboxBytes(),
  });
}

describe('retention while shared clips wait to upload', () => {
  it('keeps approved footage and sealed clips, evicts unpinned footage first, and holds the quota', async () => {
    const clip = { start: base + 20_000, end: base + 26_000 };
    await parts.consent.share(REQUEST_ID, {
      clips: [],
      ranges: [clip],
      mode: 'fast',
      audio: false,
    });
    const approved = await parts.segments.overlapping(clip.start, clip.end);
    const total = await segmentBytes();

    // Approved, not yet cut: its footage is pinned, everything else may go.
    const quota = Math.floor(total / 3);
    await retention(quota).enforce();
    const kept = new Set((await parts.segments.overlapping(base, base + 40_000)).map((s) => s.id));
    for (const segment of approved) expect(kept.has(segment.id)).toBe(true);
    expect(await segmentBytes()).toBeLessThanOrEqual(quota);

    // The pipeline cuts and seals, then cannot reach the agency: the sealed clip waits.
    const pipeline = new SharePipeline({
      ...pipelineParts(parts),
      storage: new LinuxStorage(),
      uploader: new Uploader({
        settings: { idleTimeoutMs: 5_000 },
        log,
        backoff: { initialMs: 100, maxMs: 500 },
      }),
      versions: async () => ({ agent: await agentVersion(), ffmpeg: 'test' }),
      log,
    });
    await pipeline.start(new AbortController().signal);
    try {
      const waiting = await waitFor(
        async () => {
          const [job] = await parts.jobs.list();
          return job && job.sealedBytes !== null && job.attempts >= 2 ? job : undefined;
        },
        { timeoutMs: 60_000, what: 'the sealed clip to wait for the agency' },
      );
      expect(waiting.state === 'sealed' || waiting.state === 'uploading').toBe(true);
      expect(connections).toBeGreaterThanOrEqual(1);
      const sealed = jobFiles(parts.paths.outbox, waiting);
      const outbox = (await stat(sealed.sealed)).size + (await stat(sealed.custody)).size;
      expect(await parts.jobs.outboxBytes()).toBe(outbox);

      // Once sealed the footage is released; with the outbox counted, the quota still holds.
      const tighter = outbox + Math.floor(total / 6);
      const outcome = await retention(tighter).enforce();
      expect(outcome.evicted).toBeGreaterThan(0);
      expect((await segmentBytes()) + outbox).toBeLessThanOrEqual(tighter);
      // The oldest footage went first: what is left is the newest.
      const left = await parts.segments.overlapping(base, base + 40_000);
      const newest = Math.max(...left.map((s) => s.endMs));
      expect(newest).toBe(base + 40_000);
      // The sealed clip and its record survive, unchanged.
      expect((await stat(sealed.sealed)).size).toBe(waiting.sealedBytes);
      const [after] = await parts.jobs.list();
      expect(after?.state).not.toBe('failed');
    } finally {
      await pipeline.stop();
    }
  }, 180_000);
});
