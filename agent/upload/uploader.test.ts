import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../test-support/poll.js';
import { UploadError, UploadRefused } from './errors.js';
import { type UploadWorld, uploadWorld } from './test-support/upload-world.js';

let world: UploadWorld;
beforeEach(async () => {
  world = await uploadWorld();
});
afterEach(async () => {
  await world.close();
});

describe('Uploader', () => {
  it('uploads a sealed clip and its custody record; the receiver writes the same MP4', async () => {
    const pair = await world.sealPair();
    const uploader = world.uploader();
    const clip = world.input(pair.clip, 'clip', 0);
    const custody = world.input(pair.custody, 'custody', 0);
    await Promise.all([uploader.upload(clip), uploader.upload(custody)]);
    // One URL each, stored before the first PATCH.
    expect(clip.urls).toHaveLength(1);
    expect(custody.urls).toHaveLength(1);
    const patches = world.front.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path).sort()).toEqual(
      [...clip.urls, ...custody.urls].map((url) => new URL(url).pathname).sort(),
    );
    const event = await waitFor(() => world.events.find((e) => e.event === 'clip'), {
      timeoutMs: 30_000,
      what: 'the delivered clip',
    });
    if (event.event !== 'clip') throw new Error('unreachable');
    const plaintext = await readFile(pair.plaintextPath);
    expect(plaintext.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(Buffer.compare(await readFile(event.path), plaintext)).toBe(0);
    expect(event).toMatchObject({
      requestId: world.requestId,
      clipIndex: 0,
      bytes: plaintext.length,
    });
    expect(((await stat(event.path)).mode & 0o777).toString(8)).toBe('600');
    expect(((await stat(event.custodyPath)).mode & 0o777).toString(8)).toBe('600');
  });

  it('resumes a stored URL after a restart from the server offset, sending fewer bytes', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(8 * 1024 * 1024) });
    const size = (await stat(pair.clip)).size;
    const first = new AbortController();
    const firstInput = world.input(pair.clip, 'clip', 0, {
      signal: first.signal,
      onProgress: (sent) => {
        if (sent >= size / 2) first.abort(new Error('power cut'));
      },
    });
    // A cap keeps the first run mid-way when it is cut.
    const capped = { ca: world.ca.caFile, maxBytesPerSecond: 8 * 1024 * 1024 };
    const cut = await world
      .uploader(capped)
      .upload(firstInput)
      .catch((err: unknown) => err);
    expect((cut as Error).message).toBe('power cut');
    const url = firstInput.urls[0];
    if (!url) throw new Error('no URL stored');
    const before = world.front.requests.length;
    const second = world.input(pair.clip, 'clip', 0, { resumeUrl: url });
    await world.uploader().upload(second);
    const resumed = world.front.requests.slice(before);
    expect(resumed.map((r) => r.method)).toEqual(['HEAD', 'PATCH']);
    expect(resumed[1]?.path).toBe(new URL(url).pathname);
    // Counted now: bytes of the cut PATCH may have reached the front after the cut.
    const firstSent = world.front.requests
      .slice(0, before)
      .reduce((sum, r) => sum + r.bodyBytes, 0);
    expect(firstSent).toBeGreaterThan(0);
    expect(firstSent).toBeLessThan(size);
    const secondSent = resumed.reduce((sum, r) => sum + r.bodyBytes, 0);
    expect(secondSent).toBeLessThan(size);
    expect(firstSent + secondSent).toBeGreaterThanOrEqual(size);
    expect(second.urls).toEqual([]); // the same upload: nothing new to store

    await world.uploader().upload(world.input(pair.custody, 'custody', 0));
    const event = await waitFor(() => world.events.find((e) => e.event === 'clip'), {
      timeoutMs: 30_000,
    });
    if (event.event !== 'clip') throw new Error('unreachable');
    expect(Buffer.compare(await readFile(event.path), await readFile(pair.plaintextPath))).toBe(0);
  });

  it('refuses bad metadata and a non-https endpoint before anything is sent', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(1000) });
    const uploader = world.uploader();
    const bad = world.input(pair.clip, 'clip', 0);
    for (const input of [
      { ...bad, metadata: { ...bad.metadata, filename: '/home/owner/front-door.mp4' } },
      { ...bad, metadata: { ...bad.metadata, requestId: 'not-an-id' } },
      { ...bad, metadata: { ...bad.metadata, clientId: 'x' } as typeof bad.metadata },
      { ...bad, endpoint: bad.endpoint.replace('https:', 'http:') },
    ]) {
      const error = await uploader.upload(input).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(UploadError);
      expect((error as UploadError).code).toBe('upload_invalid');
    }
    expect(world.front.requests).toEqual([]);
  });

  it('throws UploadRefused on a permanent 4xx, after one request and no retry', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(1000) });
    world.front.setFault({ kind: 'status', status: 403, count: 1 });
    const retries: number[] = [];
    const input = world.input(pair.clip, 'clip', 0, {
      onRetry: (info) => retries.push(info.attempt),
    });
    const error = await world
      .uploader()
      .upload(input)
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(UploadRefused);
    expect(error).toMatchObject({ code: 'upload_refused', status: 403 });
    expect(retries).toEqual([]);
    expect(world.front.requests.map((r) => r.method)).toEqual(['POST']);
  });

  it('rejects with the signal reason when aborted while waiting to retry', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(1000) });
    world.front.setFault({ kind: 'status', status: 503, count: 1000 });
    const controller = new AbortController();
    const input = world.input(pair.clip, 'clip', 0, {
      signal: controller.signal,
      onRetry: (info) => {
        if (info.attempt === 3) controller.abort(new Error('owner revoked'));
      },
    });
    const error = await world
      .uploader()
      .upload(input)
      .catch((err: unknown) => err);
    expect((error as Error).message).toBe('owner revoked');
    expect(world.front.requests.length).toBe(3);
  });
});
