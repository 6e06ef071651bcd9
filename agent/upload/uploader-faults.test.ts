import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../test-support/poll.js';
import type { SealedPair, UploadWorld } from './test-support/upload-world.js';
import { uploadWorld } from './test-support/upload-world.js';

/**
 * The uploader against a faulty network, in front of the real receiver: every test ends
 * with the agency's verified clip equal to the plaintext.
 */
let world: UploadWorld;
beforeEach(async () => {
  world = await uploadWorld();
});
afterEach(async () => {
  await world.close();
});

const IDLE_MS = 2_000;

async function delivered(pair: SealedPair): Promise<void> {
  await world.uploader().upload(world.input(pair.custody, 'custody', pair.clipIndex));
  const event = await waitFor(() => world.events.find((e) => e.event === 'clip'), {
    timeoutMs: 30_000,
    what: 'the delivered clip',
  });
  if (event.event !== 'clip') throw new Error('unreachable');
  expect(Buffer.compare(await readFile(event.path), await readFile(pair.plaintextPath))).toBe(0);
}

const patchBytes = () =>
  world.front.requests.filter((r) => r.method === 'PATCH').reduce((sum, r) => sum + r.bodyBytes, 0);

describe('Uploader under network faults', () => {
  it('rides out a 30 s outage of the server mid-upload', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(4 * 1024 * 1024) });
    const size = (await stat(pair.clip)).size;
    const retries: { at: number; error: Error }[] = [];
    let outage: Promise<void> | undefined;
    let outageEnd = 0;
    const uploader = world.uploader({
      ca: world.ca.caFile,
      maxBytesPerSecond: 1024 * 1024,
      idleTimeoutMs: IDLE_MS,
    });
    const input = world.input(pair.clip, 'clip', 0, {
      onProgress: (sent) => {
        if (sent > size / 4 && !outage) {
          outage = world.front.down().then(async () => {
            await new Promise((resolve) => setTimeout(resolve, 30_000));
            await world.front.up();
            outageEnd = performance.now();
          });
        }
      },
      onRetry: (info) => retries.push({ at: performance.now(), error: info.error }),
    });
    await uploader.upload(input);
    await outage;
    expect(retries.length).toBeGreaterThan(5); // it kept trying through the outage …
    // … and recovered at once after it (one late failure allowed on a loaded machine).
    expect(retries.filter((retry) => retry.at > outageEnd).length).toBeLessThanOrEqual(1);
    expect(input.urls).toHaveLength(1); // the same upload, resumed
    expect(patchBytes()).toBeLessThan(size * 1.5);
    await delivered(pair);
  }, 90_000);

  it('resumes after the receiver restarts mid-upload (its state is on disk)', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(4 * 1024 * 1024) });
    const size = (await stat(pair.clip)).size;
    let restart: Promise<void> | undefined;
    const input = world.input(pair.clip, 'clip', 0, {
      onProgress: (sent) => {
        if (sent > size / 4) restart ??= world.restartReceiver();
      },
    });
    await world.uploader({ ca: world.ca.caFile, maxBytesPerSecond: 2 * 1024 * 1024 }).upload(input);
    await restart;
    expect(input.urls).toHaveLength(1);
    const heads = world.front.requests.filter((r) => r.method === 'HEAD' && r.offset);
    expect(heads[0]?.offset).toBeGreaterThan(0);
    expect(patchBytes()).toBeLessThan(size * 1.5);
    await delivered(pair);
  });

  it('retries through 500s', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(200_000) });
    world.front.setFault({ kind: 'status', status: 500, count: 3 });
    const retries: number[] = [];
    await world
      .uploader()
      .upload(world.input(pair.clip, 'clip', 0, { onRetry: (info) => retries.push(info.attempt) }));
    expect(retries).toEqual([1, 2, 3]);
    expect(world.front.requests.slice(0, 4).map((r) => r.status)).toEqual([500, 500, 500, 201]);
    await delivered(pair);
  });

  it('resumes from the server offset after a connection dropped mid-chunk', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(3 * 1024 * 1024) });
    world.front.setFault({ kind: 'drop', afterBytes: 1_000_000 });
    const input = world.input(pair.clip, 'clip', 0);
    await world.uploader().upload(input);
    const methods = world.front.requests.map((r) => r.method);
    expect(methods).toEqual(['POST', 'PATCH', 'HEAD', 'PATCH']);
    const [, cut, head, resumed] = world.front.requests;
    expect(cut?.bodyBytes).toBe(1_000_000);
    // The receiver kept what reached it (up to the cut); the second PATCH sends the rest.
    const stored = head?.offset ?? -1;
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThanOrEqual(1_000_000);
    expect(resumed?.bodyBytes).toBe((await stat(pair.clip)).size - stored);
    await delivered(pair);
  });

  it('detects a server that accepts and never answers within the idle timeout', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(100_000) });
    world.front.setFault({ kind: 'hang' });
    const detected: number[] = [];
    const input = world.input(pair.clip, 'clip', 0, {
      onRetry: (info) => {
        detected.push(performance.now());
        expect(info.error).toMatchObject({ code: 'upload_stalled' });
        world.front.setFault({ kind: 'none' });
      },
    });
    await world.uploader({ ca: world.ca.caFile, idleTimeoutMs: IDLE_MS }).upload(input);
    const heldAt = world.front.heldAt;
    if (heldAt === undefined || detected[0] === undefined) throw new Error('no stall happened');
    const afterMs = detected[0] - heldAt;
    expect(afterMs).toBeGreaterThanOrEqual(IDLE_MS - 100);
    expect(afterMs).toBeLessThan(IDLE_MS + 3_000); // a loaded machine's timers run late
    expect(detected).toHaveLength(1);
    await delivered(pair);
  });

  it('detects a server that stops reading mid-body, and resumes', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(8 * 1024 * 1024) });
    world.front.setFault({ kind: 'stall', afterBytes: 2_000_000 });
    const detected: number[] = [];
    const input = world.input(pair.clip, 'clip', 0, {
      onRetry: (info) => {
        detected.push(performance.now());
        expect(info.error).toMatchObject({ code: 'upload_stalled' });
      },
    });
    await world.uploader({ ca: world.ca.caFile, idleTimeoutMs: IDLE_MS }).upload(input);
    const heldAt = world.front.heldAt;
    if (heldAt === undefined || detected[0] === undefined) throw new Error('no stall happened');
    // Socket buffers fill within milliseconds on loopback; then nothing moves.
    const afterMs = detected[0] - heldAt;
    expect(afterMs).toBeGreaterThanOrEqual(IDLE_MS - 100);
    expect(afterMs).toBeLessThan(IDLE_MS + 3_000); // a loaded machine's timers run late
    // The receiver holds the stalled PATCH's lock until it gives up on it (tus-node-server's
    // lock drain, 3 s): a HEAD in that time waits, and with this short idle timeout it may
    // stall too. The device's default (30 s) outlasts it.
    const head = world.front.requests.find((r) => r.method === 'HEAD' && r.offset !== undefined);
    const resumed = world.front.requests.filter((r) => r.method === 'PATCH').at(-1);
    expect(head?.offset).toBeGreaterThan(0);
    expect(resumed?.bodyBytes).toBe((await stat(pair.clip)).size - (head?.offset ?? 0));
    await delivered(pair);
  });

  it('creates a new upload, stored before its first byte, when the stored URL is gone', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(100_000) });
    const gone = `${world.front.endpoint}/${'0'.repeat(32)}`;
    const order: string[] = [];
    const input = world.input(pair.clip, 'clip', 0, {
      resumeUrl: gone,
      onUrl: async (url) => {
        // A slow disk: still no PATCH may go out before this resolves.
        await new Promise((resolve) => setTimeout(resolve, 300));
        order.push(world.front.requests.map((r) => r.method).join());
        input.urls.push(url);
      },
    });
    await world.uploader().upload(input);
    const requests = world.front.requests.map((r) => `${r.method} ${r.status}`);
    expect(requests).toEqual(['HEAD 404', 'POST 201', 'PATCH 204']);
    expect(order).toEqual(['HEAD,POST']);
    expect(input.urls).toHaveLength(1);
    expect(input.urls[0]).not.toBe(gone);
    expect(world.front.requests[2]?.path).toBe(new URL(input.urls[0] ?? '').pathname);
    await delivered(pair);
  });
});
