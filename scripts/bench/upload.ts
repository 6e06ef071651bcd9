import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { createLogger } from '../../agent/log.js';
import { newRequestId } from '../../agent/requests/build.js';
import { sealFile } from '../../agent/seal/tseal.js';
import { randomUploadFilename } from '../../agent/upload/metadata.js';
import { makeTestCa, type TestCa } from '../../agent/upload/test-support/test-ca.js';
import { Uploader } from '../../agent/upload/uploader.js';
import { generateKeyDir } from '../agency/keys.js';
import { recordSignedRequest } from '../agency/request-ledger.js';
import { putOnce, startChild, stopChild } from './https-floor.js';
import { cpuSeconds } from './proc-stats.js';

/** CPU ms of this process (the client) and of `serverPid` while `run` runs. */
async function withCpu(
  serverPid: number,
  run: () => Promise<number>,
): Promise<{ ms: number; clientCpuMs: number; serverCpuMs: number }> {
  const client = process.cpuUsage();
  const server = await cpuSeconds(serverPid);
  const ms = await run();
  const used = process.cpuUsage(client);
  return {
    ms,
    clientCpuMs: Math.round((used.user + used.system) / 1000),
    serverCpuMs: Math.round(((await cpuSeconds(serverPid)) - server) * 1000),
  };
}

/**
 * Upload throughput against its floor measured in the same run: one HTTPS PUT of the same
 * sealed bytes (Node's https client piping the file) to a plain Node HTTPS server that
 * writes them to a file (upload-floor-server.ts), against the uploader (tus-js-client,
 * our HTTP stack) sending the file to the real receiver (`threshold-agency receive`,
 * @tus/server + @tus/file-store). Both servers run in their own processes on loopback;
 * runs alternate; medians are compared. Then the uploader's resident memory growth while
 * uploading a sealed file of `--memory-mib` (1 GiB), in a child process of its own.
 *
 *   npx tsx scripts/bench/upload.ts [--mib 256] [--runs 5] [--memory-mib 1024]
 *
 * Targets (DESIGN.md): ≥ 0.8× the floor; RSS growth ≤ 16 MiB on 1 GiB.
 */
const argsSchema = z.object({
  mib: z.coerce.number().int().min(1).max(4096).default(256),
  runs: z.coerce.number().int().min(1).max(50).default(5),
  'memory-mib': z.coerce.number().int().min(0).max(16_384).default(1024),
});

const MiB = 1024 * 1024;
const log = createLogger({ level: 'warn' });

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

function parseArgs(argv: readonly string[]): z.infer<typeof argsSchema> {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i] ?? '';
    if (!flag.startsWith('--')) throw new Error(`unexpected argument ${flag}`);
    raw[flag.slice(2)] = argv[i + 1] ?? '';
  }
  return argsSchema.parse(raw);
}

/** A sealed file of `bytes` plaintext, generated (one reused buffer, varying content). */
async function sealedFile(path: string, bytes: number): Promise<void> {
  async function* generate(): AsyncIterable<Uint8Array> {
    const chunk = Buffer.alloc(1024 * 1024);
    for (let offset = 0, i = 0; offset < bytes; offset += chunk.length, i++) {
      chunk.writeUInt32BE(i, 0);
      chunk.writeUInt32BE(i ^ 0x5a5a5a5a, chunk.length - 4);
      yield chunk.subarray(0, Math.min(chunk.length, bytes - offset));
    }
  }
  const recipient = new Uint8Array(32).fill(9);
  await sealFile({
    input: generate(),
    output: path,
    recipient,
    context: { requestId: 'bench', clipIndex: 0 },
  });
}

async function uploadOnce(
  uploader: Uploader,
  file: string,
  endpoint: string,
  requestId: string,
): Promise<number> {
  const started = performance.now();
  await uploader.upload({
    file,
    endpoint,
    metadata: { requestId, kind: 'clip', clipIndex: 0, filename: randomUploadFilename() },
    onUrl: async () => undefined,
    signal: AbortSignal.timeout(600_000),
  });
  return performance.now() - started;
}

/** Removes what the receiver stored (it waits for a custody record that never comes). */
async function clearUploads(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(join(dir, name), { force: true });
}

interface Servers {
  readonly receiverPid: number;
  readonly floorPid: number;
  readonly ca: TestCa;
  readonly endpoint: string;
  readonly floorPort: number;
  readonly requestId: string;
  readonly uploadsDir: string;
  stop(): Promise<void>;
}

async function startServers(dir: string): Promise<Servers> {
  const ca = await makeTestCa(dir);
  const keyDir = join(dir, 'agency');
  await generateKeyDir(keyDir);
  const requestId = newRequestId();
  await recordSignedRequest(keyDir, {
    id: requestId,
    payload: Buffer.from(requestId),
    signedAt: Date.now(),
  });
  const received = join(dir, 'received');
  const floorDir = join(dir, 'floor');
  await mkdir(floorDir);
  const root = join(import.meta.dirname, '../..');
  // biome-ignore format: flag pairs read best one per line
  const receiver = await startChild([
    join(root, 'scripts/agency/entry.ts'), 'receive',
    '--key', keyDir, '--listen', '127.0.0.1:0', '--tls-cert', ca.certFile, '--tls-key', ca.keyFile,
    '--out', received, '--max-bytes', String(8 * 1024 * MiB), '--json',
  ], (line) => line.event === 'listening');
  const floor = await startChild(
    [join(root, 'scripts/bench/upload-floor-server.ts'), ca.certFile, ca.keyFile, floorDir],
    (line) => typeof line.port === 'number',
  );
  return {
    receiverPid: receiver.child.pid ?? 0,
    floorPid: floor.child.pid ?? 0,
    ca,
    endpoint: String(receiver.line.endpoint),
    floorPort: Number(floor.line.port),
    requestId,
    uploadsDir: join(received, 'uploads'),
    stop: async () => {
      await stopChild(receiver.child);
      await stopChild(floor.child);
    },
  };
}

/** In its own process: RSS growth of uploading `file` (after a warm-up upload and a GC). */
async function probeMemory(
  file: string,
  warm: string,
  endpoint: string,
  caFile: string,
  requestId: string,
) {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const uploader = new Uploader({ settings: { ca: caFile }, log });
  await uploadOnce(uploader, warm, endpoint, requestId);
  gc();
  gc();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const ms = await uploadOnce(uploader, file, endpoint, requestId);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { bytes: (await stat(file)).size, ms, baseline, peak, growth: peak - baseline };
}

type MemoryProbe = Awaited<ReturnType<typeof probeMemory>>;

async function runMemoryProbe(args: string[], nodeFlags: string[]): Promise<MemoryProbe> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', ...nodeFlags, '--import', 'tsx', import.meta.filename, '--probe', ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`memory probe exited with ${code}`);
  return JSON.parse(stdout) as MemoryProbe;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'threshold-bench-upload-'));
  const servers = await startServers(dir);
  try {
    const file = join(dir, 'clip.tseal');
    await sealedFile(file, args.mib * MiB);
    const bytes = (await stat(file)).size;
    const ca = await readFile(servers.ca.caFile);
    const uploader = new Uploader({ settings: { ca: servers.ca.caFile }, log });
    // One of each first: TLS, JIT and the page cache are not what is measured.
    await putOnce(file, servers.floorPort, ca);
    await uploadOnce(uploader, file, servers.endpoint, servers.requestId);
    await clearUploads(servers.uploadsDir);
    const floor: Awaited<ReturnType<typeof withCpu>>[] = [];
    const upload: Awaited<ReturnType<typeof withCpu>>[] = [];
    for (let run = 0; run < args.runs; run++) {
      floor.push(await withCpu(servers.floorPid, () => putOnce(file, servers.floorPort, ca)));
      upload.push(
        await withCpu(servers.receiverPid, () =>
          uploadOnce(uploader, file, servers.endpoint, servers.requestId),
        ),
      );
      await clearUploads(servers.uploadsDir);
    }
    await rm(file);
    let memory: MemoryProbe | null = null;
    let memorySmallNursery: MemoryProbe | null = null;
    if (args['memory-mib'] > 0) {
      const big = join(dir, 'big.tseal');
      const warm = join(dir, 'warm.tseal');
      await sealedFile(big, args['memory-mib'] * MiB);
      await sealedFile(warm, 64 * MiB);
      const probeArgs = [big, warm, servers.endpoint, servers.ca.caFile, servers.requestId];
      memory = await runMemoryProbe(probeArgs, []);
      await clearUploads(servers.uploadsDir);
      memorySmallNursery = await runMemoryProbe(probeArgs, ['--max-semi-space-size=1']);
      await clearUploads(servers.uploadsDir);
    }
    const mibPerS = (ms: number) => Number((bytes / MiB / (ms / 1000)).toFixed(1));
    const ratio = median(floor.map((r) => r.ms)) / median(upload.map((r) => r.ms));
    const summary = (runs: typeof floor) => ({
      medianMs: Math.round(median(runs.map((r) => r.ms))),
      mibPerS: mibPerS(median(runs.map((r) => r.ms))),
      runsMs: runs.map((r) => Math.round(r.ms)),
      clientCpuMsMedian: median(runs.map((r) => r.clientCpuMs)),
      serverCpuMsMedian: median(runs.map((r) => r.serverCpuMs)),
    });
    const describe = (probe: MemoryProbe | null, what: string) =>
      probe && {
        what,
        bytes: probe.bytes,
        growthBytes: probe.growth,
        growthMiB: Number((probe.growth / MiB).toFixed(2)),
        mibPerS: mibPerS(probe.ms * (bytes / probe.bytes)),
      };
    const result = {
      bench: 'upload',
      bytes,
      runs: args.runs,
      floor: {
        what: 'one HTTPS PUT of the same bytes to a plain Node HTTPS server writing a file',
        ...summary(floor),
      },
      upload: {
        what: 'Uploader (tus-js-client, POST + PATCH) to threshold-agency receive',
        ...summary(upload),
      },
      ratio: Number(ratio.toFixed(3)),
      memory: describe(memory, 'peak RSS growth uploading the sealed file, V8 defaults'),
      memorySmallNursery: describe(
        memorySmallNursery,
        'the same with the V8 nursery fixed at 1 MiB',
      ),
      targets: { ratio: 0.8, growthBytes: 16 * MiB },
      pass: ratio >= 0.8 && (memory === null || memory.growth <= 16 * MiB),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await servers.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--probe') {
  const [file, warm, endpoint, caFile, requestId] = process.argv.slice(3);
  if (!file || !warm || !endpoint || !caFile || !requestId)
    throw new Error('usage: --probe FILE WARM ENDPOINT CA REQUEST');
  process.stdout.write(
    `${JSON.stringify(await probeMemory(file, warm, endpoint, caFile, requestId))}\n`,
  );
} else {
  await main();
}
