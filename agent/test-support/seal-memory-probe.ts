import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
import nacl from 'tweetnacl';
import { sealFile } from '../seal/seal-file.js';
import { chosenSecretbox } from '../seal/secretbox-choice.js';
import { CHUNK_BYTES } from '../seal/tseal-format.js';

/**
 * Measures the resident memory of sealing a generated stream of `bytes` (nothing stored
 * but the sealed output), for the memory test and the seal bench. Run in its own process
 * with `--expose-gc`, so the baseline is taken after a full collection (`runSealMemoryProbe`
 * starts it so):
 *
 *   node --expose-gc [--max-semi-space-size=1] --import tsx \
 *     agent/test-support/seal-memory-probe.ts BYTES
 *
 * prints one JSON object. The generator reuses one buffer, so the only memory that could
 * grow with the size is the seal's own.
 *
 * The forced collection before the baseline also shrinks V8's nursery (new space), which
 * then grows back lazily while sealing, up to 16 MiB by default, touching fresh pages.
 * That growth is bounded by V8's settings, not by the input size; `--max-semi-space-size=1`
 * fixes the nursery small so that what remains is what the seal itself holds.
 */
export interface SealMemoryProbe {
  readonly bytes: number;
  /** The chunk secretbox that sealed (libsodium unless its addon could not load). */
  readonly secretbox: string;
  readonly ms: number;
  readonly baselineRss: number;
  readonly peakRss: number;
  readonly afterGcRss: number;
  /** Peak RSS during sealing minus the baseline. */
  readonly growth: number;
  /** V8's new-space size at the end, bytes (the nursery; see above). */
  readonly newSpaceBytes: number;
}

export async function probeSealMemory(bytes: number, dir: string): Promise<SealMemoryProbe> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const recipient = nacl.box.keyPair().publicKey;
  const context = { requestId: 'memory-probe', clipIndex: 0 };
  // Warm up first: compiled code, the thread pool and fs paths are not what is measured.
  const warm = join(dir, 'warm.tseal');
  await sealFile({
    input: generate(512 * CHUNK_BYTES, () => {}),
    output: warm,
    recipient,
    context,
  });
  await rm(warm);
  gc();
  gc();
  const baselineRss = process.memoryUsage.rss();
  let peakRss = baselineRss;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  };
  const started = performance.now();
  const output = join(dir, 'probe.tseal');
  await sealFile({ input: generate(bytes, sample), output, recipient, context });
  const ms = performance.now() - started;
  sample();
  await rm(output);
  gc();
  const afterGcRss = process.memoryUsage.rss();
  const newSpaceBytes =
    getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
  return {
    bytes,
    secretbox: chosenSecretbox().secretbox.name,
    ms,
    baselineRss,
    peakRss,
    afterGcRss,
    growth: peakRss - baselineRss,
    newSpaceBytes,
  };
}

/** Runs the probe on `bytes` in a child process with `nodeFlags` added to `--expose-gc`. */
export function runSealMemoryProbe(
  bytes: number,
  nodeFlags: readonly string[],
): Promise<SealMemoryProbe> {
  const args = [
    '--expose-gc',
    ...nodeFlags,
    '--import',
    'tsx',
    import.meta.filename,
    String(bytes),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
      else reject(new Error(`the seal memory probe exited with ${code}: ${stderr}`));
    });
  });
}

/** `bytes` of varying content from one reused chunk buffer; `onChunk` runs every 16 chunks. */
async function* generate(bytes: number, onChunk: () => void): AsyncIterable<Uint8Array> {
  const chunk = new Uint8Array(CHUNK_BYTES);
  const view = new DataView(chunk.buffer);
  for (let offset = 0, index = 0; offset < bytes; offset += CHUNK_BYTES, index++) {
    view.setUint32(0, index);
    view.setUint32(CHUNK_BYTES - 4, index ^ 0x5a5a5a5a);
    if (index % 16 === 0) onChunk();
    yield chunk.subarray(0, Math.min(CHUNK_BYTES, bytes - offset));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const bytes = Number(process.argv[2]);
  if (!Number.isSafeInteger(bytes) || bytes < 0)
    throw new Error('usage: seal-memory-probe.ts BYTES');
  const dir = await mkdtemp(join(tmpdir(), 'threshold-seal-probe-'));
  try {
    process.stdout.write(`${JSON.stringify(await probeSealMemory(bytes, dir))}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
