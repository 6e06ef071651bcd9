import { mkdir, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinuxStorage } from '../../hal/linux/storage.js';
import { makeSegments } from '../../test-fixtures/make-segments.js';
import { Database } from '../db/database.js';
import { agentPaths } from '../db/open.js';
import { SegmentStore } from '../recording/segment-store.js';
import { exited, runCli } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import { withDatabase } from '../test-support/recording.js';
import { createShareWorld, type ShareWorld } from '../test-support/share-world.js';

/**
 * Promise 6 on the share path: the agent is killed (SIGKILL, no chance to tidy up) at ten
 * seeded random moments while it cuts, seals and uploads a 60 s clip, and the agency's
 * receiver is restarted once. The clip still arrives exactly once, sealed once: the same
 * sealed bytes (SHA-256) across every restart, and those are the bytes the agency opened.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = 10;

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

let world: ShareWorld;
let base: number;

interface JobRow {
  state: string;
  sealed_sha256: string | null;
  clip_url: string | null;
  attempts: number;
  last_error: string | null;
}

const job = (): Promise<JobRow | undefined> =>
  withDatabase(world.dataDir, (db) =>
    db.get<JobRow>('SELECT state, sealed_sha256, clip_url, attempts, last_error FROM share_jobs'),
  );

beforeAll(async () => {
  world = await createShareWorld({
    // A cap keeps the upload going for several seconds, so kills land inside it too.
    config: { upload: { idleTimeoutSeconds: 5, maxBytesPerSecond: 700_000 } },
  });
  // 64 s of recorder-like footage, indexed as the recorder indexes it.
  base = Date.now() - 120_000;
  const segmentsDir = agentPaths(world.dataDir).segments;
  await mkdir(world.dataDir, { recursive: true, mode: 0o700 });
  const db = await Database.open(agentPaths(world.dataDir).database);
  try {
    const { lastId: runId } = await db.run(
      'INSERT INTO recorder_runs (started_at, ended_at, end_reason) VALUES (?, ?, ?)',
      [base, base + 64_000, 'stopped'],
    );
    const rows = await makeSegments({
      dir: segmentsDir,
      durationS: 64,
      runId,
      baseMs: base,
      width: 1280,
      height: 720,
      bitrate: '2M',
    });
    const store = new SegmentStore(db, new LinuxStorage(), segmentsDir);
    for (const [seq, row] of rows.entries()) {
      await store.add({ ...row, runId, seq, file: basename(row.path) });
    }
  } finally {
    await db.close();
  }
}, 180_000);

afterAll(async () => {
  await world?.close();
});

describe('share survives kill -9', () => {
  it(`delivers a 60 s clip exactly once, sealed once, through ${KILLS} kills (seed ${SEED})`, async () => {
    console.log(`share crash seed ${SEED} (rerun with FUZZ_SEED=${SEED})`);
    const next = random(SEED);
    const window = { start: base, end: base + 64_000 };
    let agent = world.startAgent();
    // A request is never retained: the agent must be subscribed before it is published.
    await waitFor(() => world.broker.logText().includes('Received SUBSCRIBE'), {
      timeoutMs: 60_000,
      what: 'the agent to subscribe',
    });
    const { id } = await world.publishRequest(window);
    await waitFor(
      async () => {
        const listed = await runCli(['requests', '--config', world.configPath, '--json']);
        return (JSON.parse(listed.stdout) as { id: string }[]).some((r) => r.id === id);
      },
      { timeoutMs: 60_000, what: 'the request to be pending' },
    );
    const from = new Date(base + 2000).toISOString();
    const to = new Date(base + 62_000).toISOString();
    const shared = await runCli(
      ['share', '--config', world.configPath, id, '--range', `${from}/${to}`, '--yes'],
      60_000,
    );
    expect(shared.stderr).toBe('');

    const killedIn: string[] = [];
    const sealedHashes = new Set<string>();
    for (let kill = 0; kill < KILLS; kill++) {
      // Somewhere in the first seconds of work once the agent runs.
      const running = agent;
      await waitFor(() => running.log().includes('agent running'), {
        timeoutMs: 60_000,
        what: 'the agent to start',
      });
      // The first kills come early, into the cut and the seal; later ones into the upload.
      await new Promise((resolve) => setTimeout(resolve, next() * (kill < 4 ? 800 : 3000)));
      const row = await job();
      agent.child.kill('SIGKILL');
      await exited(agent.child);
      killedIn.push(row?.state ?? 'none');
      const after = await job();
      if (after?.sealed_sha256) sealedHashes.add(after.sealed_sha256);
      if (after?.state === 'uploaded') break;
      if (kill === Math.floor(KILLS / 2)) await world.restartReceiver();
      agent = world.startAgent();
    }
    console.log(`share crash: killed while ${killedIn.join(', ')}`);
    expect(killedIn).toHaveLength(KILLS);
    if ((await job())?.state !== 'uploaded') agent = world.startAgent();

    const done = await waitFor(
      async () => {
        const row = await job();
        return row?.state === 'uploaded' ? row : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500, what: 'the upload to finish' },
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message}; the job: ${JSON.stringify(await job())}; the agent's log ends: ${agent.log().slice(-3000)}`,
      );
    });
    if (done.sealed_sha256) sealedHashes.add(done.sealed_sha256);
    expect(sealedHashes.size).toBe(1);
    const delivered = await waitFor(
      () => {
        const clips = world.receiver.events.filter((e) => e.event === 'clip' && e.requestId === id);
        return clips.length > 0 ? clips : undefined;
      },
      { timeoutMs: 30_000, what: 'the delivered clip' },
    );
    expect(delivered).toHaveLength(1);
    const custody = delivered[0]?.custody as { sealedSha256: string; start: string } | undefined;
    expect(custody?.sealedSha256).toBe([...sealedHashes][0]);
    expect(custody?.start).toBe(from);
    expect(world.receiver.events.filter((e) => e.event === 'quarantined')).toEqual([]);
    expect((await readdir(join(world.receivedDir, id))).sort()).toEqual([
      'clip-0.custody.json',
      'clip-0.mp4',
    ]);
    agent.child.kill('SIGKILL');
  }, 600_000);
});
