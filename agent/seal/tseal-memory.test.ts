import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SealMemoryProbe } from './memory-probe.js';

/**
 * Memory stays flat while sealing a stream: measured in a child process with
 * `--expose-gc` so the baseline follows a full collection, and V8's nursery fixed small
 * (see memory-probe.ts: its lazy regrowth is bounded by V8, not by the input, and would
 * hide what the seal holds). 256 MiB here keeps the suite quick on two cores;
 * scripts/bench/seal.ts runs the same probe on 1 GiB, with and without that setting.
 */
const BYTES = 256 * 1024 * 1024;
const LIMIT = 4 * 1024 * 1024;

function probe(bytes: number): Promise<SealMemoryProbe> {
  const script = join(import.meta.dirname, 'memory-probe.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--max-semi-space-size=1', '--import', 'tsx', script, String(bytes)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(stdout) as SealMemoryProbe);
      else reject(new Error(`memory probe exited with ${code}: ${stderr}`));
    });
  });
}

describe('sealing memory', () => {
  it(`grows RSS by less than 4 MiB sealing a ${BYTES / 1024 / 1024} MiB stream`, async () => {
    const result = await probe(BYTES);
    expect(result.bytes).toBe(BYTES);
    expect(result.baselineRss).toBeGreaterThan(0);
    expect(result.growth).toBeLessThan(LIMIT);
  }, 180_000);
});
