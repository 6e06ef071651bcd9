import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { z } from 'zod';
import type { SealMemoryProbe } from '../../agent/seal/memory-probe.js';
import { CHUNK_BYTES, openSealedFile, sealFile } from '../../agent/seal/tseal.js';

/**
 * Seal throughput against its floor measured in the same run: raw tweetnacl secretbox of
 * the same bytes in 64 KiB chunks, in memory (no file I/O, no hashing). The seal is timed
 * end to end, file to file, including its SHA-256s, fsync and rename. Runs alternate
 * floor and seal; medians are compared. Then the resident memory growth of sealing a
 * generated 1 GiB stream, measured in a child process (agent/seal/memory-probe.ts), with
 * V8's nursery fixed small (the seal's own memory; this is the target) and with defaults.
 *
 *   npx tsx scripts/bench/seal.ts [--mib 64] [--runs 5] [--memory-mib 1024]
 *
 * Targets (DESIGN.md): throughput ≥ 0.9× the floor; ≤ 4 MiB growth on 1 GiB.
 */
const argsSchema = z.object({
  mib: z.coerce.number().int().min(1).max(4096).default(64),
  runs: z.coerce.number().int().min(1).max(50).default(5),
  'memory-mib': z.coerce.number().int().min(0).max(16_384).default(1024),
});

function parseArgs(argv: readonly string[]): z.infer<typeof argsSchema> {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i] ?? '';
    if (!flag.startsWith('--')) throw new Error(`unexpected argument ${flag}`);
    raw[flag.slice(2)] = argv[i + 1] ?? '';
  }
  return argsSchema.parse(raw);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/** Boxes of `data` in 64 KiB chunks, made once for the open floor (not timed). */
interface RawBoxes {
  readonly boxes: Uint8Array[];
  readonly nonce: Uint8Array;
}

function makeBoxes(data: Uint8Array, key: Uint8Array): RawBoxes {
  const nonce = nacl.randomBytes(24);
  const boxes: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) {
    boxes.push(nacl.secretbox(data.subarray(offset, offset + CHUNK_BYTES), nonce, key));
  }
  return { boxes, nonce };
}

/** The seal floor: each box is made and dropped (one byte kept so none is optimised out). */
function timeRawSecretbox(data: Uint8Array, key: Uint8Array): number {
  const nonce = nacl.randomBytes(24);
  let sink = 0;
  const started = performance.now();
  for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) {
    sink ^= nacl.secretbox(data.subarray(offset, offset + CHUNK_BYTES), nonce, key)[0] ?? 0;
  }
  const ms = performance.now() - started;
  if (sink === 256) throw new Error('unreachable');
  return ms;
}

function timeRawOpen(raw: RawBoxes, key: Uint8Array): number {
  const started = performance.now();
  for (const box of raw.boxes) {
    if (!nacl.secretbox.open(box, raw.nonce, key)) throw new Error('raw open failed');
  }
  return performance.now() - started;
}

async function probeMemory(bytes: number, nodeFlags: string[]): Promise<SealMemoryProbe> {
  const probe = join(import.meta.dirname, '../../agent/seal/memory-probe.ts');
  const args = ['--expose-gc', ...nodeFlags, '--import', 'tsx', probe, String(bytes)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`memory probe exited with ${code}`);
  return JSON.parse(stdout) as SealMemoryProbe;
}

function describeProbe(probe: SealMemoryProbe) {
  return {
    bytes: probe.bytes,
    growthBytes: probe.growth,
    growthMiB: Number((probe.growth / 1024 / 1024).toFixed(2)),
    newSpaceMiB: Number((probe.newSpaceBytes / 1024 / 1024).toFixed(1)),
    ms: Math.round(probe.ms),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'threshold-bench-seal-'));
  try {
    const bytes = args.mib * 1024 * 1024;
    const data = randomBytes(bytes);
    const input = join(dir, 'clip.mp4');
    await writeFile(input, data);
    const recipient = nacl.box.keyPair();
    const key = nacl.randomBytes(32);
    const rawBoxes = makeBoxes(data, key);
    const floor: number[] = [];
    const seal: number[] = [];
    const floorOpen: number[] = [];
    const open: number[] = [];
    for (let run = 0; run < args.runs; run++) {
      floor.push(timeRawSecretbox(data, key));
      let started = performance.now();
      await sealFile({
        input,
        output: join(dir, 'clip.tseal'),
        recipient: recipient.publicKey,
        context: { requestId: 'bench', clipIndex: run },
      });
      seal.push(performance.now() - started);
      floorOpen.push(timeRawOpen(rawBoxes, key));
      started = performance.now();
      await openSealedFile({
        input: join(dir, 'clip.tseal'),
        output: join(dir, 'clip.out'),
        boxSecretKey: recipient.secretKey,
      });
      open.push(performance.now() - started);
    }
    const memoryBytes = args['memory-mib'] * 1024 * 1024;
    // The seal's own growth (nursery fixed small), then the same with V8's default nursery.
    const memory =
      memoryBytes > 0 ? await probeMemory(memoryBytes, ['--max-semi-space-size=1']) : null;
    const memoryDefaults = memoryBytes > 0 ? await probeMemory(memoryBytes, []) : null;
    const mibPerS = (ms: number) => Number((args.mib / (ms / 1000)).toFixed(1));
    const ratio = median(floor) / median(seal);
    const result = {
      bench: 'seal',
      bytes,
      runs: args.runs,
      floor: {
        what: 'raw tweetnacl secretbox, 64 KiB chunks, in memory',
        medianMs: median(floor),
        mibPerS: mibPerS(median(floor)),
      },
      seal: {
        what: 'sealFile file to file (hashes, fsync, rename)',
        medianMs: median(seal),
        mibPerS: mibPerS(median(seal)),
      },
      ratio: Number(ratio.toFixed(3)),
      open: {
        floorMedianMs: median(floorOpen),
        medianMs: median(open),
        ratio: Number((median(floorOpen) / median(open)).toFixed(3)),
      },
      memory: memory && {
        what: 'peak RSS growth sealing a generated stream, V8 nursery fixed at 1 MiB',
        ...describeProbe(memory),
      },
      memoryV8Defaults: memoryDefaults && {
        what: 'the same with V8 default flags: the nursery regrows after the forced GC',
        ...describeProbe(memoryDefaults),
      },
      targets: { ratio: 0.9, growthBytes: 4 * 1024 * 1024 },
      pass: ratio >= 0.9 && (memory === null || memory.growth <= 4 * 1024 * 1024),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
