import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyDir } from '../../../scripts/agency/keys.js';
import type { ReceiverEvent } from '../../../scripts/agency/receive-events.js';
import { type RunningReceiver, startReceiver } from '../../../scripts/agency/receive-server.js';
import { recordSignedRequest } from '../../../scripts/agency/request-ledger.js';
import { DeviceKeys } from '../../crypto/device-keys.js';
import { sealClip } from '../../export/seal-clip.js';
import type { ExportResult, SegmentRow } from '../../export/types.js';
import { createLogger } from '../../log.js';
import { newRequestId } from '../../requests/build.js';
import { randomUploadFilename, type UploadKind } from '../metadata.js';
import {
  type BackoffSettings,
  Uploader,
  type UploadInput,
  type UploadSettings,
} from '../uploader.js';
import { type FaultFront, startFaultFront } from './fault-front.js';
import { makeTestCa, type TestCa } from './test-ca.js';

/**
 * One agency and one device for the upload tests: a test CA, an agency key directory with
 * a signed request in its ledger, the real receiver on loopback HTTPS behind a fault front
 * (agent/upload/test-support/fault-front.ts), and sealed clips made by the export's own
 * sealing code (clip + custody record, sealed to the agency).
 */
export interface SealedPair {
  readonly plaintextPath: string;
  readonly clip: string;
  readonly custody: string;
  readonly clipIndex: number;
}

export interface UploadWorld {
  readonly dir: string;
  readonly ca: TestCa;
  readonly keyDir: string;
  readonly outDir: string;
  readonly requestId: string;
  readonly receiver: RunningReceiver;
  readonly front: FaultFront;
  readonly events: ReceiverEvent[];
  /** Seals `plaintext` (bytes, or a short real MP4 when absent) as clip `clipIndex`. */
  sealPair(options?: { plaintext?: Buffer; clipIndex?: number }): Promise<SealedPair>;
  uploader(settings?: UploadSettings, backoff?: BackoffSettings): Uploader;
  /** An upload input through the front; `urls` collects what `onUrl` stored. */
  input(
    file: string,
    kind: UploadKind,
    clipIndex: number,
    extra?: Partial<UploadInput>,
  ): UploadInput & { urls: string[] };
  restartReceiver(): Promise<void>;
  close(): Promise<void>;
}

export const FAST_BACKOFF: BackoffSettings = { initialMs: 100, maxMs: 1_000 };
export const silentLog = createLogger({ level: 'silent' });

export async function uploadWorld(options: { maxBytes?: number } = {}): Promise<UploadWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'threshold-upload-'));
  const ca = await makeTestCa(dir);
  const keyDir = join(dir, 'agency');
  const keys = await generateKeyDir(keyDir);
  const requestId = newRequestId();
  const payload = Buffer.from(JSON.stringify({ id: requestId }));
  const entry = await recordSignedRequest(keyDir, { id: requestId, payload, signedAt: Date.now() });
  const outDir = join(dir, 'received');
  const events: ReceiverEvent[] = [];
  const device = new DeviceKeys(randomBytes(32));
  const receiverOptions = {
    keyDir,
    outDir,
    host: '127.0.0.1',
    port: 0,
    tlsCert: ca.certFile,
    tlsKey: ca.keyFile,
    maxBytes: options.maxBytes ?? 512 * 1024 * 1024,
    log: silentLog,
    onEvent: (event: ReceiverEvent) => events.push(event),
  };
  let receiver = await startReceiver(receiverOptions);
  const front = await startFaultFront({
    upstreamPort: receiver.port,
    caFile: ca.caFile,
    certFile: ca.certFile,
    keyFile: ca.keyFile,
  });
  let mp4: Buffer | undefined;
  const world: UploadWorld = {
    dir,
    ca,
    keyDir,
    outDir,
    requestId,
    get receiver() {
      return receiver;
    },
    front,
    events,
    async sealPair({ plaintext, clipIndex = 0 } = {}) {
      const plaintextPath = join(dir, `plain-${clipIndex}-${randomBytes(4).toString('hex')}`);
      mp4 ??= plaintext ? undefined : makeMp4(dir);
      await writeFile(plaintextPath, plaintext ?? (mp4 as Buffer));
      const clip = `${plaintextPath}.tseal`;
      const sealed = await sealClip({
        clip: plaintextPath,
        exported: exportedFor(plaintextPath, plaintext?.length ?? (mp4 as Buffer).length),
        output: clip,
        recipient: keys.boxPublicKey,
        requestId,
        requestPayloadSha256: entry.payloadSha256,
        clipIndex,
        fromMs: Date.parse('2026-03-01T10:00:00Z'),
        toMs: Date.parse('2026-03-01T10:00:30Z'),
        decidedAtMs: Date.parse('2026-03-01T11:00:00Z'),
        clockSync: 'synced',
        signer: device,
        agentVersion: '0.1.0',
        ffmpegVersion: 'test',
      });
      return { plaintextPath, clip, custody: sealed.custody, clipIndex };
    },
    uploader(settings = { ca: ca.caFile }, backoff = FAST_BACKOFF) {
      return new Uploader({ settings, log: silentLog, backoff });
    },
    input(file, kind, clipIndex, extra = {}) {
      const urls: string[] = [];
      return {
        file,
        endpoint: front.endpoint,
        metadata: { requestId, kind, clipIndex, filename: randomUploadFilename() },
        onUrl: async (url: string) => {
          urls.push(url);
        },
        signal: AbortSignal.timeout(120_000),
        urls,
        ...extra,
      };
    },
    async restartReceiver() {
      await receiver.stop();
      receiver = await startReceiver({ ...receiverOptions, port: receiver.port });
    },
    async close() {
      await front.close();
      await receiver.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}

/** A two-second H.264 MP4 from ffmpeg's test source. */
function makeMp4(dir: string): Buffer {
  const out = join(dir, `source-${randomBytes(4).toString('hex')}.mp4`);
  // biome-ignore format: ffmpeg flags read best in pairs
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25',
    '-t', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', out,
  ]);
  return readFileSync(out);
}

function exportedFor(output: string, bytes: number): ExportResult {
  const segment: SegmentRow = {
    id: 1,
    runId: 1,
    path: 'segment',
    startMs: 0,
    endMs: 2000,
    ptsStart: 0,
    ptsEnd: 2,
    bytes,
    sha256: 'b'.repeat(64),
  };
  return {
    output,
    bytes,
    durationS: 2,
    plannedS: 2,
    mode: 'fast',
    method: 'copy',
    audio: 'dropped',
    gaps: [],
    segments: [segment],
  };
}
