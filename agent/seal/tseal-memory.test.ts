import { describe, expect, it } from 'vitest';
import { runSealMemoryProbe } from '../test-support/seal-memory-probe.js';

/**
 * Memory stays flat while sealing a stream: measured in a child process with
 * `--expose-gc` so the baseline follows a full collection, and V8's nursery fixed small
 * (see test-support/seal-memory-probe.ts: its lazy regrowth is bounded by V8, not by the
 * input, and would hide what the seal holds). 256 MiB here keeps the suite quick on two
 * cores; scripts/bench/seal.ts runs the same probe on 1 GiB, with and without that setting.
 */
const BYTES = 256 * 1024 * 1024;
const LIMIT = 4 * 1024 * 1024;

describe('sealing memory', () => {
  it(`grows RSS by less than 4 MiB sealing a ${BYTES / 1024 / 1024} MiB stream`, async () => {
    const result = await runSealMemoryProbe(BYTES, ['--max-semi-space-size=1']);
    expect(result.bytes).toBe(BYTES);
    expect(result.secretbox).toBe('libsodium');
    expect(result.baselineRss).toBeGreaterThan(0);
    expect(result.growth).toBeLessThan(LIMIT);
  }, 180_000);
});
