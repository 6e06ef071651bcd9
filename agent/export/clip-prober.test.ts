import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSegments } from '../../test-fixtures/make-segments.js';
import { MediaToolError } from '../errors.js';
import { tempDir } from '../test-support/cli.js';
import { waitFor } from '../test-support/poll.js';
import { ClipProber } from './clip-prober.js';
import { Exporter } from './exporter.js';
import { spareWaiting } from './test-support/spare-ffprobe.js';

/**
 * The clip check's ffprobe started ahead of need. A wrapper script runs the real ffprobe
 * and writes down each start, so the tests see which process did the check; /proc tells
 * when the spare has loaded (test-support/spare-ffprobe.ts).
 */
const BASE = Date.UTC(2026, 0, 31, 12, 0, 0);

let dir: string;
let cleanup: () => Promise<void>;
let clip: string;
let ffprobe: string;
let starts: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-prober-'));
  const rows = await makeSegments({ dir: join(dir, 'segments'), durationS: 4, baseMs: BASE });
  clip = join(dir, 'clip.mp4');
  await new Exporter({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' }).export({
    segments: rows,
    fromMs: BASE + 500,
    toMs: BASE + 3500,
    output: clip,
    mode: 'fast',
  });
  starts = join(dir, 'starts');
  await writeFile(starts, '');
  ffprobe = join(dir, 'ffprobe');
  // `exec` keeps the pid: the one written down is ffprobe's own.
  await writeFile(ffprobe, `#!/bin/sh\necho $$ >> '${starts}'\nexec ffprobe "$@"\n`, {
    mode: 0o700,
  });
}, 60_000);

afterAll(async () => {
  await cleanup();
});

async function started(): Promise<string[]> {
  return (await readFile(starts, 'utf8')).split('\n').filter(Boolean);
}

const gone = (pid: string) => !existsSync(`/proc/${pid}`);

/** The pid of the spare once it waits loaded on its input, as the wrapper wrote it down. */
async function loadedSpare(): Promise<string> {
  const [pid] = await waitFor(async () => {
    const pids = await started();
    return pids.length > 0 && pids;
  });
  await spareWaiting({ pid: Number(pid) });
  return pid ?? '';
}

describe('ClipProber', () => {
  it('checks with the spare it warmed, which waits loaded on its input', async () => {
    await writeFile(starts, '');
    const prober = new ClipProber(ffprobe);
    prober.warm();
    prober.warm(); // one spare, not two
    const pid = await loadedSpare();
    expect(await spareWaiting()).toBe(Number(pid)); // this process's only ffprobe
    expect(await started()).toHaveLength(1);
    expect(await readFile(`/proc/${pid}/wchan`, 'utf8')).toMatch(/unix_stream_read|pipe_read/);
    const probe = await prober.probe(Promise.resolve(clip));
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264']);
    expect(probe.durationS).toBeCloseTo(3, 1);
    expect(await started()).toEqual([pid]);
    // No spare left: the next check starts its own.
    await prober.probe(Promise.resolve(clip));
    expect(await started()).toHaveLength(2);
  });

  it('replaces a spare that died while it waited, and checks with the new one', async () => {
    await writeFile(starts, '');
    const prober = new ClipProber(ffprobe);
    prober.warm();
    const pid = await loadedSpare();
    prober.warm(); // alive: kept
    expect(await started()).toEqual([pid]);
    process.kill(Number(pid), 'SIGKILL');
    // Warming again starts a new spare once the prober has seen the old one exit.
    const [, replacement] = await waitFor(
      async () => {
        prober.warm();
        const pids = await started();
        return pids.length === 2 && pids;
      },
      { what: 'a replacement spare' },
    );
    await spareWaiting({ pid: Number(replacement) });
    const probe = await prober.probe(Promise.resolve(clip));
    expect(probe.streams.map((s) => s.codec_name)).toEqual(['h264']);
    expect(await started()).toHaveLength(2);
    expect(gone(replacement ?? '')).toBe(true);
  });

  it('ends an unused spare on close', async () => {
    await writeFile(starts, '');
    const prober = new ClipProber(ffprobe);
    prober.warm();
    const pid = await loadedSpare();
    expect(gone(pid)).toBe(false);
    prober.close();
    await waitFor(() => gone(pid) || undefined, { what: 'the spare to exit' });
  });

  it('fails the check when no clip was made, and kills ffprobe on abort', async () => {
    const prober = new ClipProber('ffprobe');
    await expect(prober.probe(Promise.resolve(undefined))).rejects.toBeInstanceOf(MediaToolError);
    await writeFile(starts, '');
    const aborting = new ClipProber(ffprobe);
    aborting.warm();
    await loadedSpare();
    const controller = new AbortController();
    const never = new Promise<string | undefined>(() => {});
    const probing = aborting.probe(never, controller.signal);
    const [pid] = await started();
    controller.abort();
    await expect(probing).rejects.toMatchObject({ code: 'export_cancelled' });
    expect(gone(pid ?? '')).toBe(true);
  });

  it('says which ffprobe could not be run', async () => {
    const prober = new ClipProber(join(dir, 'no-such-ffprobe'));
    await expect(prober.probe(Promise.resolve(clip))).rejects.toThrow(/cannot run/);
  });
});
