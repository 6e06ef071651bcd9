import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyDir } from '../../scripts/agency/keys.js';
import { publishAll } from '../../scripts/agency/publish.js';
import {
  type EmulatedCameras,
  startEmulatedCameras,
} from '../../scripts/camera/emulated-camera.js';
import { requestTopics } from '../requests/build.js';
import { makeTestCa, type TestCa } from '../upload/test-support/test-ca.js';
import { exited, ROOT, startAgentProcess, tempDir, writeConfig } from './cli.js';
import { Mosquitto } from './mosquitto.js';
import { waitFor } from './poll.js';
import { runTs } from './request-world.js';

/**
 * Everything the share path crosses, for end-to-end tests, all real: Mosquitto, an
 * emulated RTSP camera (or none, for footage made ahead), a test CA, a trust root and an
 * agency made by the agency's own command line, the agency's receiver as a process over
 * HTTPS on loopback, and a config for `threshold run`.
 */

export const LOCATION = { lat: 52.3702, lon: 4.8952 };
const AGENCY_ENTRY = 'scripts/agency/entry.ts';

export interface ReceiverProcess {
  readonly child: ChildProcess;
  readonly endpoint: string;
  /** Every JSON line the receiver printed so far, across restarts. */
  readonly events: Record<string, unknown>[];
  readonly stderr: () => string;
}

export interface ShareWorld {
  readonly dir: string;
  readonly dataDir: string;
  readonly configPath: string;
  readonly agencyDir: string;
  readonly receivedDir: string;
  readonly ca: TestCa;
  readonly broker: Mosquitto;
  receiver: ReceiverProcess;
  /**
   * Signs a request for `window` (via `threshold-agency request --out`) and publishes it;
   * uploads go to the receiver unless `uploadUrl` says otherwise.
   */
  publishRequest(
    window: { start: number; end: number },
    uploadUrl?: string,
  ): Promise<{
    id: string;
    payloadSha256: string;
  }>;
  startAgent(): { child: ChildProcess; log: () => string };
  /** Stops the receiver (SIGTERM) and starts it again on the same port and directory. */
  restartReceiver(): Promise<void>;
  close(): Promise<void>;
}

export interface ShareWorldOptions {
  /** Record this emulated camera; without, `camera` below or an unreachable one. */
  camera?: { width: number; height: number; audio?: boolean };
  /** Config keys to merge (retention, upload, …). */
  config?: Record<string, unknown>;
}

export async function createShareWorld(options: ShareWorldOptions = {}): Promise<ShareWorld> {
  const { dir, cleanup } = await tempDir('threshold-share-');
  const stops: (() => Promise<unknown>)[] = [cleanup];
  try {
    const ca = await makeTestCa(dir);
    const rootDir = join(dir, 'root');
    const agencyDir = join(dir, 'agency');
    const root = await generateKeyDir(rootDir);
    await generateKeyDir(agencyDir);
    const delegationPath = join(dir, 'delegation.json');
    // biome-ignore format: flag pairs read best one per line
    const delegated = await runTs(AGENCY_ENTRY, [
      'delegate', '--root', rootDir, '--agency', agencyDir, '--agency-id', 'metro-police',
      '--name', 'Metropolitan Police', '--regions', 'u17', '--max-radius-m', '2000',
      '--max-window-s', '86400', '--days', '7', '--out', delegationPath,
    ]);
    if (delegated.code !== 0) throw new Error(`delegate failed: ${delegated.stderr}`);

    const broker = await Mosquitto.start();
    stops.unshift(() => broker.stop());
    let camera: EmulatedCameras | undefined;
    if (options.camera) {
      const { audio, ...size } = options.camera;
      camera = await startEmulatedCameras({ size, ...(audio ? { audio } : {}) });
      stops.unshift(() => camera?.stop() ?? Promise.resolve());
    }
    const receivedDir = join(dir, 'received');
    const events: Record<string, unknown>[] = [];
    let receiver = await startReceiverProcess(agencyDir, ca, receivedDir, '127.0.0.1:0', events);
    const port = new URL(receiver.endpoint).port;
    stops.unshift(() => stopChild(receiver.child));

    const dataDir = join(dir, 'data');
    const configPath = await writeConfig(dir, {
      dataDir,
      device: { location: LOCATION },
      camera: { source: 'rtsp', url: camera?.urls[0] ?? 'rtsp://127.0.0.1:9/none' },
      recording: { segmentSeconds: 2, stallSeconds: 6 },
      retention: { minFreeBytes: 0 },
      mqtt: { url: broker.url },
      trust: {
        roots: [
          { name: 'Test Root', publicKey: Buffer.from(root.signingPublicKey).toString('base64') },
        ],
        threshold: 1,
      },
      log: { level: 'info' },
      ...options.config,
      upload: {
        ca: ca.caFile,
        idleTimeoutSeconds: 10,
        ...(options.config?.upload as Record<string, unknown> | undefined),
      },
    });

    const world: ShareWorld = {
      dir,
      dataDir,
      configPath,
      agencyDir,
      receivedDir,
      ca,
      broker,
      receiver,
      publishRequest: async (window, uploadUrl) => {
        const out = join(dir, `request-${window.start}.json`);
        const area = { ...LOCATION, radiusM: 300 };
        // biome-ignore format: flag pairs read best one per line
        const signed = await runTs(AGENCY_ENTRY, [
          'request', '--agency', agencyDir, '--delegation', delegationPath,
          '--lat', String(area.lat), '--lon', String(area.lon), '--radius-m', String(area.radiusM),
          '--from', new Date(window.start).toISOString(), '--to', new Date(window.end).toISOString(),
          '--code', 'MP-2026-0042', '--title', 'Bicycle theft',
          '--description', 'A red bicycle was taken from the rack by the door.',
          '--upload-url', uploadUrl ?? world.receiver.endpoint, '--expires-in', '2h', '--out', out, '--json',
        ]);
        if (signed.code !== 0) throw new Error(`request failed: ${signed.stderr}`);
        const { id } = JSON.parse(signed.stdout) as { id: string };
        const bytes = await readFile(out);
        const envelope = JSON.parse(bytes.toString('utf8')) as { payload: string };
        const payloadSha256 = createHash('sha256')
          .update(Buffer.from(envelope.payload, 'base64'))
          .digest('hex');
        await publishAll(
          { url: broker.url },
          requestTopics(area).map((topic) => ({ topic, payload: bytes, retain: false })),
        );
        return { id, payloadSha256 };
      },
      startAgent: () => {
        const agent = startAgentProcess(configPath);
        stops.unshift(async () => {
          agent.child.kill('SIGKILL');
          await exited(agent.child);
        });
        return agent;
      },
      restartReceiver: async () => {
        await stopChild(world.receiver.child);
        receiver = await startReceiverProcess(
          agencyDir,
          ca,
          receivedDir,
          `127.0.0.1:${port}`,
          events,
        );
        world.receiver = receiver;
      },
      close: async () => {
        for (const stop of stops) await stop();
      },
    };
    return world;
  } catch (err) {
    for (const stop of stops) await stop().catch(() => undefined);
    throw err;
  }
}

async function startReceiverProcess(
  agencyDir: string,
  ca: TestCa,
  out: string,
  listen: string,
  events: Record<string, unknown>[],
): Promise<ReceiverProcess> {
  // biome-ignore format: flag pairs read best one per line
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx', join(ROOT, AGENCY_ENTRY), 'receive', '--key', agencyDir, '--listen', listen,
      '--tls-cert', ca.certFile, '--tls-key', ca.keyFile, '--out', out, '--json',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const seen = events.length;
  let stderr = '';
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines)
      if (line.trim()) events.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-50_000);
  });
  const listening = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`the receiver exited: ${stderr}`);
      return events.slice(seen).find((event) => event.event === 'listening');
    },
    { timeoutMs: 30_000, what: 'the receiver to listen' },
  );
  return { child, endpoint: String(listening.endpoint), events, stderr: () => stderr };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited(child);
  clearTimeout(timer);
}
