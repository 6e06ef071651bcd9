import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.js';
import { type UploadWorld, uploadWorld } from './test-support/upload-world.js';

let world: UploadWorld;
beforeEach(async () => {
  world = await uploadWorld();
});
afterEach(async () => {
  await world.close();
});

describe('upload.maxBytesPerSecond', () => {
  it('holds an upload near the cap', async () => {
    const cap = 1024 * 1024;
    const pair = await world.sealPair({ plaintext: randomBytes(3 * 1024 * 1024) });
    const size = (await stat(pair.clip)).size;
    const uploader = world.uploader({ ca: world.ca.caFile, maxBytesPerSecond: cap });
    const started = performance.now();
    await uploader.upload(world.input(pair.clip, 'clip', 0));
    const rate = size / ((performance.now() - started) / 1000);
    // One read (1/8 s at the cap) goes at once; the rest is paced.
    expect(rate).toBeLessThan(cap * 1.1);
    expect(rate).toBeGreaterThan(cap * 0.7);
  });

  it('shares the cap between the uploads of one uploader', async () => {
    const cap = 1024 * 1024;
    const a = await world.sealPair({ plaintext: randomBytes(1536 * 1024), clipIndex: 0 });
    const b = await world.sealPair({ plaintext: randomBytes(1536 * 1024), clipIndex: 1 });
    const bytes = (await stat(a.clip)).size + (await stat(b.clip)).size;
    const uploader = world.uploader({ ca: world.ca.caFile, maxBytesPerSecond: cap });
    const started = performance.now();
    await Promise.all([
      uploader.upload(world.input(a.clip, 'clip', 0)),
      uploader.upload(world.input(b.clip, 'clip', 1)),
    ]);
    const rate = bytes / ((performance.now() - started) / 1000);
    expect(rate).toBeLessThan(cap * 1.15);
    expect(rate).toBeGreaterThan(cap * 0.7);
  });
});

describe('RateLimiter', () => {
  it('paces reads on a virtual clock, one read ahead', async () => {
    let now = 0;
    const limiter = new RateLimiter(1000, () => now);
    expect(limiter.readSize(65_536)).toBe(4096);
    const started = performance.now();
    await limiter.take(100); // the first read goes at once
    expect(performance.now() - started).toBeLessThan(50);
    now = 50; // 50 ms later, the first 100 bytes are "sent" at 100 ms: wait 50 ms
    const waited = performance.now();
    await limiter.take(100);
    expect(performance.now() - waited).toBeGreaterThanOrEqual(45);
  });
});
