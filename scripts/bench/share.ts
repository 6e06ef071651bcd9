/**
 * Share benchmark (DESIGN.md, "Measured targets"): 60 s of 1080p25 footage (2 s segments,
 * ~5 Mbit/s), shared from the committed approval to the agency's verified MP4: the
 * agent's pipeline (fast cut, seal, tus upload of the clip and its custody record) and
 * the agency's receiver (`threshold-agency receive`, its own process, HTTPS on loopback)
 * opening and verifying both. Target: ≤ 3× the floor measured in the same run, `cp` of
 * the segment bytes plus one HTTPS PUT of the same bytes to a plain Node server on
 * loopback (its own process).
 *
 * Prints one JSON object: medians over several runs and the ratio.
 * Run: npx tsx scripts/bench/share.ts [--runs N]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../../agent/config/load.js';
import { createLogger } from '../../agent/log.js';
import { openDeviceParts } from '../../agent/parts.js';
import { SegmentStore } from '../../agent/recording/segment-store.js';
import { newRequestId } from '../../agent/requests/build.js';
import { pipelineParts, SharePipeline } from '../../agent/share/share-pipeline.js';
import { makeTestCa } from '../../agent/upload/test-support/test-ca.js';
import { Uploader } from '../../agent/upload/uploader.js';
import { agentVersion } from '../../agent/version.js';
import { LinuxStorage } from '../../hal/linux/storage.js';
import { makeSegments } from '../../test-fixtures/make-segments.js';
import { generateKeyDir } from '../agency/keys.js';
import { recordSignedRequest } from '../agency/request-ledger.js';
import { putOnce, startChild, stopChild } from './https-floor.js';
import { median } from './proc-stats.js';

const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 5;
const log = createLogger({ level: process.env.THRESHOLD_LOG_LEVEL === 'info' ? 'info' : 'warn' });

function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command}: ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'threshold-bench-share-'));
  const root = join(import.meta.dirname, '../..');
  const ca = await makeTestCa(dir);
  const keyDir = join(dir, 'agency');
  const keys = await generateKeyDir(keyDir);
  // biome-ignore format: flag pairs read best one per line
  const receiver = await startChild([
    join(root, 'scripts/agency/entry.ts'), 'receive', '--key', keyDir, '--listen', '127.0.0.1:0',
    '--tls-cert', ca.certFile, '--tls-key', ca.keyFile, '--out', join(dir, 'received'), '--json',
  ], (line) => line.event === 'listening');
  const floorDir = join(dir, 'floor');
  await mkdir(floorDir);
  const floorServer = await startChild(
    [join(root, 'scripts/bench/upload-floor-server.ts'), ca.certFile, ca.keyFile, floorDir],
    (line) => typeof line.port === 'number',
  );
  const delivered = new Map<string, () => void>();
  let buffered = '';
  receiver.child.stdout?.on('data', (text: string) => {
    buffered += text;
    for (const raw of buffered.split('\n').slice(0, -1)) {
      const event = JSON.parse(raw) as { event: string; requestId?: string };
      if (event.event === 'clip' && event.requestId) delivered.get(event.requestId)?.();
    }
    buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
  });

  const configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      device: { location: { lat: 52.37, lon: 4.9 } },
      camera: { source: 'emulated' },
      retention: { minFreeBytes: 0 },
      upload: { ca: ca.caFile },
      log: { level: 'warn' },
    }),
  );
  const config = await loadConfig(configPath);
  const parts = await openDeviceParts(config, { log });
  const storage = new LinuxStorage();
  const pipelineService = new SharePipeline({
    ...pipelineParts(parts),
    storage,
    uploader: new Uploader({ settings: { ca: ca.caFile }, log }),
    versions: async () => ({ agent: await agentVersion(), ffmpeg: 'bench' }),
    log,
    pollMs: 50,
  });
  try {
    const base = Date.now() - 10 * 60_000;
    const { lastId: runId } = await parts.db.run(
      'INSERT INTO recorder_runs (started_at, ended_at, end_reason) VALUES (?, ?, ?)',
      [base, base + 66_000, 'stopped'],
    );
    const rows = await makeSegments({
      dir: parts.paths.segments,
      durationS: 66,
      runId,
      baseMs: base,
      width: 1920,
      height: 1080,
      keyframeFrames: 50,
      bitrate: '5M',
      preset: 'ultrafast',
    });
    const store = new SegmentStore(parts.db, storage, parts.paths.segments);
    for (const [seq, row] of rows.entries()) {
      await store.add({ ...row, runId, seq, file: basename(row.path) });
    }
    const from = base + 3_300;
    const to = from + 60_000;
    const footage = await parts.segments.overlapping(from, to);

    // The floor's bytes: the same segments, as one file for the PUT.
    const joined = join(dir, 'segments.bin');
    const out = createWriteStream(joined);
    for (const segment of footage)
      await pipeline(createReadStream(segment.path), out, { end: false });
    out.end();
    const caPem = await readFile(ca.caFile);
    const floor = async (): Promise<number> => {
      const copy = join(dir, 'copy');
      await rm(copy, { recursive: true, force: true });
      await mkdir(copy);
      const started = performance.now();
      await run('cp', [...footage.map((segment) => segment.path), copy]);
      const cpMs = performance.now() - started;
      return cpMs + (await putOnce(joined, Number(floorServer.line.port), caPem));
    };

    await pipelineService.start(new AbortController().signal);
    const share = async (): Promise<number> => {
      const id = newRequestId();
      const payload = randomBytes(512);
      const entry = await recordSignedRequest(keyDir, { id, payload, signedAt: Date.now() });
      await parts.requests.accept(
        {
          id,
          state: 'pending',
          agencyId: 'bench-pd',
          agencyName: 'Bench Police',
          signingKey: Buffer.alloc(32).toString('base64'),
          rootNames: ['Bench Root'],
          investigationCode: 'BENCH-1',
          title: 'Bench',
          description: 'Bench',
          area: { lat: 52.37, lon: 4.9, radiusM: 500 },
          window: { start: base, end: base + 66_000 },
          issuedAt: Date.now(),
          expiresAt: Date.now() + 3600_000,
          recipient: Buffer.from(keys.boxPublicKey).toString('base64'),
          uploadUrl: String(receiver.line.endpoint),
          segmentIds: footage.map((segment) => segment.id),
          receivedAt: Date.now(),
          payloadSha256: entry.payloadSha256,
          envelope: Buffer.from('{}'),
        },
        {},
      );
      const arrived = new Promise<void>((resolve) => delivered.set(id, resolve));
      await parts.consent.share(id, {
        clips: [],
        ranges: [{ start: from, end: to }],
        mode: 'fast',
        audio: false,
      });
      const committed = performance.now();
      pipelineService.wake();
      await arrived;
      return performance.now() - committed;
    };

    // One of each first: page cache, TLS, JIT.
    await floor();
    await share();
    const floors: number[] = [];
    const shares: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      floors.push(await floor());
      shares.push(await share());
    }
    const floorMs = median(floors);
    const shareMs = median(shares);
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'share',
          footage: {
            seconds: 60,
            width: 1920,
            height: 1080,
            bytes: footage.reduce((s, x) => s + x.bytes, 0),
          },
          runs: RUNS,
          loadavg: loadavg().map((value) => Number(value.toFixed(2))),
          floorMs: Math.round(floorMs),
          shareMs: Math.round(shareMs),
          ratio: Number((shareMs / floorMs).toFixed(2)),
          target: '≤ 3× (cp of the segment bytes + one HTTPS PUT of them)',
          floors: floors.map(Math.round),
          shares: shares.map(Math.round),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await pipelineService.stop();
    await parts.close();
    await stopChild(receiver.child);
    await stopChild(floorServer.child);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
