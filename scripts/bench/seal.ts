import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { z } from 'zod';
import { BOX_OFFSET, MESSAGE_OFFSET } from '../../agent/seal/bulk-secretbox.js';
import { chosenSecretbox } from '../../agent/seal/secretbox-choice.js';
import { CHUNK_BYTES, openSealedFile, sealFile } from '../../agent/seal/tseal.js';
import {
  runSealMemoryProbe,
  type SealMemoryProbe,
} from '../../agent/test-support/seal-memory-probe.js';

/**
 * Seal and open throughput against their floor measured in the same run: raw tweetnacl
 * secretbox (and secretbox.open) of the same bytes in 64 KiB chunks, in memory, no file
 * I/O, no hashing: what sealing cost before libsodium took over the chunks. The seal and
 * the open are timed end to end, file to file, with their SHA-256s, fsync and rename.
 * Runs alternate floor, seal, floor, open; medians are compared. For scale it also times
 * the chunk secretbox alone (libsodium, in memory: what no file seal can beat), then the
 * resident memory growth of sealing a generated 1 GiB stream in a child process
 * (agent/test-support/seal-memory-probe.ts), with V8's nursery fixed small (the seal's own
 * memory; this is the target) and with V8's defaults.
 *
 *   npx tsx scripts/bench/seal.ts [--mib 64] [--runs 5] [--memory-mib 1024]
 *
 * Targets (DESIGN.md): seal and open ≥ 3× the floor; ≤ 4 MiB growth on 1 GiB.
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

const TARGET_RATIO = 3;
const TARGET_GROWTH = 4 * 1024 * 1024;

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

/** The chunk secretbox the seal uses, in place in one chunk buffer, in memory. */
function timeChunkSecretbox(data: Uint8Array, key: Uint8Array): number {
  const { secretbox } = chosenSecretbox();
  const nonce = nacl.randomBytes(24);
  const buffer = new Uint8Array(MESSAGE_OFFSET + CHUNK_BYTES);
  let sink = 0;
  const started = performance.now();
  for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) {
    const chunk = data.subarray(offset, offset + CHUNK_BYTES);
    buffer.set(chunk, MESSAGE_OFFSET);
    secretbox.seal(buffer, chunk.length, nonce, key);
    sink ^= buffer[BOX_OFFSET] ?? 0;
  }
  const ms = performance.now() - started;
  if (sink === 256) throw new Error('unreachable');
  return ms;
}

function describeProbe(probe: SealMemoryProbe) {
  return {
    bytes: probe.bytes,
    secretbox: probe.secretbox,
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
    const times = { floor: [], seal: [], floorOpen: [], open: [], chunk: [] } as Record<
      'floor' | 'seal' | 'floorOpen' | 'open' | 'chunk',
      number[]
    >;
    for (let run = 0; run < args.runs; run++) {
      times.floor.push(timeRawSecretbox(data, key));
      let started = performance.now();
      await sealFile({
        input,
        output: join(dir, 'clip.tseal'),
        recipient: recipient.publicKey,
        context: { requestId: 'bench', clipIndex: run },
      });
      times.seal.push(performance.now() - started);
      times.floorOpen.push(timeRawOpen(rawBoxes, key));
      started = performance.now();
      await openSealedFile({
        input: join(dir, 'clip.tseal'),
        output: join(dir, 'clip.out'),
        boxSecretKey: recipient.secretKey,
      });
      times.open.push(performance.now() - started);
      await rm(join(dir, 'clip.out'));
      times.chunk.push(timeChunkSecretbox(data, key));
    }
    const memoryBytes = args['memory-mib'] * 1024 * 1024;
    // The seal's own growth (nursery fixed small), then the same with V8's default nursery.
    const memory =
      memoryBytes > 0 ? await runSealMemoryProbe(memoryBytes, ['--max-semi-space-size=1']) : null;
    const memoryDefaults = memoryBytes > 0 ? await runSealMemoryProbe(memoryBytes, []) : null;
    const timing = (values: number[]) => ({
      medianMs: Number(median(values).toFixed(1)),
      mibPerS: Number((args.mib / (median(values) / 1000)).toFixed(1)),
      runsMs: values.map((ms) => Math.round(ms)),
    });
    const sealRatio = median(times.floor) / median(times.seal);
    const openRatio = median(times.floorOpen) / median(times.open);
    const result = {
      bench: 'seal',
      bytes,
      runs: args.runs,
      secretbox: chosenSecretbox().secretbox.name,
      seal: {
        floor: {
          what: 'raw tweetnacl secretbox, 64 KiB chunks, in memory',
          ...timing(times.floor),
        },
        seal: { what: 'sealFile, file to file (hashes, fsync, rename)', ...timing(times.seal) },
        ratio: Number(sealRatio.toFixed(2)),
      },
      open: {
        floor: {
          what: 'raw tweetnacl secretbox.open, 64 KiB chunks, in memory',
          ...timing(times.floorOpen),
        },
        open: {
          what: 'openSealedFile, file to file (hashes, fsync, rename)',
          ...timing(times.open),
        },
        ratio: Number(openRatio.toFixed(2)),
      },
      chunkSecretbox: {
        what: "the seal's chunk secretbox alone, in memory (a ceiling, not a target)",
        ...timing(times.chunk),
        ratio: Number((median(times.floor) / median(times.chunk)).toFixed(2)),
      },
      memory: memory && {
        what: 'peak RSS growth sealing a generated stream, V8 nursery fixed at 1 MiB',
        ...describeProbe(memory),
      },
      memoryV8Defaults: memoryDefaults && {
        what: 'the same with V8 default flags: the nursery regrows after the forced GC',
        ...describeProbe(memoryDefaults),
      },
      targets: { ratio: TARGET_RATIO, growthBytes: TARGET_GROWTH },
      pass:
        sealRatio >= TARGET_RATIO &&
        openRatio >= TARGET_RATIO &&
        (memory === null || memory.growth <= TARGET_GROWTH),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
