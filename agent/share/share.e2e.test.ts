import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameHashes, presentedFrames } from '../export/test-support/clip-readers.js';
import { type CliResult, runCli } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import { indexedSegments, withDatabase } from '../test-support/recording.js';
import { createShareWorld, type ShareWorld } from '../test-support/share-world.js';

/**
 * The whole share path with every real part (DESIGN.md, "Owner consent", "Upload"): the
 * agent as a process recording an emulated RTSP camera, Mosquitto, `threshold-agency
 * request` publishing a signed request, `threshold clips` and `threshold share --wait`,
 * and the agency's receiver over HTTPS on loopback verifying what arrives.
 */

const iso = (ms: number) => new Date(ms).toISOString();

let world: ShareWorld;

const cli = (...args: string[]): Promise<CliResult> =>
  runCli([...args.slice(0, 1), '--config', world.configPath, ...args.slice(1)], 120_000);

async function requestState(id: string): Promise<string | undefined> {
  const listed = await cli('requests', '--all', '--json');
  return (JSON.parse(listed.stdout) as { id: string; state: string }[]).find((r) => r.id === id)
    ?.state;
}

beforeAll(async () => {
  world = await createShareWorld({ camera: { width: 1280, height: 720 } });
  world.startAgent();
  await waitFor(async () => (await indexedSegments(world.dataDir).catch(() => [])).length >= 9, {
    timeoutMs: 90_000,
    what: '18 s of footage',
  });
}, 150_000);

afterAll(async () => {
  await world?.close();
});

describe('share, end to end', () => {
  it('delivers the approved range to the agency, verified, and records every step', async () => {
    const segments = await indexedSegments(world.dataDir);
    const window = {
      start: (segments[1]?.startMs ?? 0) + 500,
      end: (segments.at(-1)?.endMs ?? 0) - 500,
    };
    const { id, payloadSha256 } = await world.publishRequest(window);
    await waitFor(async () => (await requestState(id)) === 'pending', {
      timeoutMs: 30_000,
      what: 'the request to be pending',
    });

    const clips = await cli('clips', id, '--json');
    expect(clips.stderr).toBe('');
    const offered = JSON.parse(clips.stdout) as { index: number; thumbnail: string | null }[];
    expect(offered.length).toBeGreaterThanOrEqual(1);
    const jpeg = await readFile(offered[0]?.thumbnail ?? '');
    expect(jpeg.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));

    const from = window.start + 2000;
    const to = from + 6000;
    const shared = await cli('share', id, '--range', `${iso(from)}/${iso(to)}`, '--yes', '--wait');
    expect(shared.stderr).not.toMatch(/threshold:/);
    expect(shared.code).toBe(0);
    expect(shared.stdout).toContain('the agency has every clip (1)');

    const delivered = await waitFor(
      () => world.receiver.events.find((event) => event.event === 'clip' && event.requestId === id),
      { timeoutMs: 30_000, what: "the receiver's verified clip" },
    );
    const clip = String(delivered.path);
    expect(clip).toBe(join(world.receivedDir, id, 'clip-0.mp4'));
    expect(Math.abs((await presentedFrames(clip)).length - 150)).toBeLessThanOrEqual(1);
    expect(delivered.custody).toMatchObject({
      requestPayloadSha256: payloadSha256,
      start: iso(from),
      end: iso(to),
      cutMode: 'fast',
      audio: false,
    });
    // The right frames: the same pictures as the owner's own export of the range.
    const local = join(world.dir, 'local.mp4');
    const exported = await cli('export', '--from', iso(from), '--to', iso(to), '--out', local);
    expect(exported.code).toBe(0);
    expect(await frameHashes(clip)).toEqual(await frameHashes(local));

    expect(await requestState(id)).toBe('shared');
    const uploads = JSON.parse((await cli('uploads', '--json')).stdout) as Record<
      string,
      unknown
    >[];
    expect(uploads).toEqual([
      expect.objectContaining({ requestId: id, clipIndex: 0, state: 'uploaded', failure: null }),
    ]);
    const status = JSON.parse((await cli('status', '--json')).stdout) as { uploads: unknown };
    expect(status.uploads).toEqual({ waiting: 0, failed: 0, outboxBytes: 0 });
    // The outbox is empty once the agency has every byte.
    await withDatabase(world.dataDir, async (db) => {
      const jobs = await db.all<{ name: string }>('SELECT name FROM share_jobs');
      for (const { name } of jobs) {
        await expect(stat(join(world.dataDir, 'outbox', `${name}.tseal`))).rejects.toThrow();
      }
    });

    const verified = await cli('audit', '--verify');
    expect(verified.code).toBe(0);
    const audit = JSON.parse((await cli('audit', '--json')).stdout) as {
      kind: string;
      requestId?: string;
    }[];
    expect(audit.filter((entry) => entry.requestId === id).map((entry) => entry.kind)).toEqual([
      'request_accepted',
      'request_shared',
      'upload_completed',
    ]);
  }, 300_000);

  it('refuses what cannot be shared without a row, an audit entry or a connection', async () => {
    // A second agency endpoint that only counts connections: nothing may reach it.
    let connections = 0;
    const trap: Server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    try {
      const segments = await indexedSegments(world.dataDir);
      const window = {
        start: (segments[2]?.startMs ?? 0) + 100,
        end: (segments[6]?.endMs ?? 0) - 100,
      };
      const endpoint = world.receiver.endpoint;
      const port = (trap.address() as { port: number }).port;
      const declined = await world.publishRequest(window, `https://127.0.0.1:${port}/files/`);
      const pending = await world.publishRequest(window, `https://127.0.0.1:${port}/files/`);
      await waitFor(
        async () =>
          (await requestState(declined.id)) === 'pending' &&
          (await requestState(pending.id)) === 'pending',
        { timeoutMs: 30_000, what: 'two pending requests' },
      );
      expect((await cli('decline', declined.id)).code).toBe(0);
      const before = await withDatabase(world.dataDir, async (db) => ({
        jobs: await db.all('SELECT id, state FROM share_jobs ORDER BY id'),
        approvals: await db.all('SELECT request_id FROM approvals'),
        audit: await db.all<{ seq: number }>('SELECT seq FROM audit_log ORDER BY seq'),
      }));
      const attempts: string[][] = [
        [declined.id],
        ['A'.repeat(22)],
        [pending.id, '--clip', '7'],
        [pending.id, '--range', `${iso(window.start - 5000)}/${iso(window.start + 1000)}`],
      ];
      for (const args of attempts) {
        const run = await cli('share', ...args, '--yes');
        expect(run.code, args.join(' ')).toBe(2);
        expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      }
      // The agent looks for new jobs every second: give it several.
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const after = await withDatabase(world.dataDir, async (db) => ({
        jobs: await db.all('SELECT id, state FROM share_jobs ORDER BY id'),
        approvals: await db.all('SELECT request_id FROM approvals'),
        audit: await db.all<{ seq: number }>('SELECT seq FROM audit_log ORDER BY seq'),
      }));
      expect(after).toEqual(before);
      expect(connections).toBe(0);
      expect(world.receiver.endpoint).toBe(endpoint);
    } finally {
      await new Promise((resolve) => trap.close(resolve));
    }
  }, 180_000);
});
