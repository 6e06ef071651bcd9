import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtomicOutput } from './atomic-output.js';

/**
 * The sealed (or opened) file appears whole or not at all, and the background flushes that
 * let the disk write while the seal computes never hide a write error.
 */
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threshold-atomic-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MIB = 1024 * 1024;

/** Writes MiB number `from` up to `to` (excluded), each filled with its number. */
async function writeMiB(output: AtomicOutput, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await output.write(new Uint8Array(MIB).fill(i), i * MIB);
}

/** Counts (and, when told, fails) the output's fdatasync calls. */
function watchDatasync(output: AtomicOutput, fail?: Error): { calls: number } {
  const seen = { calls: 0 };
  const real = output.handle.datasync.bind(output.handle);
  output.handle.datasync = async () => {
    seen.calls++;
    if (fail) throw fail;
    return real();
  };
  return seen;
}

describe('AtomicOutput', () => {
  it('flushes behind the writes every 8 MiB, and commits the whole file', async () => {
    const path = join(dir, 'clip.tseal');
    const output = await AtomicOutput.create(path);
    const seen = watchDatasync(output);
    await writeMiB(output, 0, 7);
    expect(seen.calls).toBe(0);
    await writeMiB(output, 7, 8);
    expect(seen.calls).toBe(1);
    await writeMiB(output, 8, 12);
    await output.commit();
    const bytes = await readFile(path);
    expect(bytes.length).toBe(12 * MIB);
    expect([bytes[0], bytes[8 * MIB - 1], bytes[11 * MIB]]).toEqual([0, 7, 11]);
    expect(await readdir(dir)).toEqual(['clip.tseal']);
  });

  it('fails the commit when a background flush failed, leaving nothing at the path', async () => {
    const path = join(dir, 'clip.tseal');
    const output = await AtomicOutput.create(path);
    const seen = watchDatasync(output, Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    await writeMiB(output, 0, 9);
    expect(seen.calls).toBe(1);
    const error = await output.commit().catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'EIO' });
    await output.abort();
    expect(await readdir(dir)).toEqual([]);
  });
});
