import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmulatedIndicator } from '../../../hal/emulated/indicator.js';
import { generateKeyDir, readSigningKey } from '../../../scripts/agency/keys.js';
import {
  type EmulatedCameras,
  type MotionWindow,
  startEmulatedCameras,
} from '../../../scripts/camera/emulated-camera.js';
import { Agent, hardwareFor } from '../../compose.js';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { createLogger } from '../../log.js';
import { buildDelegation } from '../../requests/build.js';
import { Mosquitto } from '../../test-support/mosquitto.js';
import { waitFor } from '../../test-support/poll.js';
import { DEVICE_LOCATION, runAgency } from '../../test-support/request-world.js';
import { formatCode, PairingCodes } from '../pairing.js';

/**
 * A whole device for the owner page's tests, all real: Mosquitto, an emulated RTSP
 * camera with scripted motion, the agent in process (recording, requests, the page on a
 * free loopback port), and an agency (keys, a delegation under a root the device trusts)
 * that publishes with `threshold-agency request`.
 */

export const AGENCY_ID = 'metro-police';
export const AGENCY_NAME = 'Metropolitan Police';

export interface PageWorld {
  dir: string;
  config: Config;
  configPath: string;
  broker: Mosquitto;
  camera: EmulatedCameras;
  agent: Agent;
  indicator: EmulatedIndicator;
  /** The page, e.g. http://127.0.0.1:PORT */
  url: string;
  rootDir: string;
  agencyDir: string;
  delegationPath: string;
  /** A new pairing code, as `threshold pair` prints it; issued `agoMs` in the past. */
  pairingCode(agoMs?: number): Promise<string>;
  /** Publishes a request with `threshold-agency request`; resolves with its id once pending. */
  publish(options?: RequestOptions): Promise<string>;
  close(): Promise<void>;
}

export interface RequestOptions {
  title?: string;
  code?: string;
  description?: string;
  /** The window, ms; default from the camera's start to now. */
  from?: number;
  to?: number;
  uploadUrl?: string;
  radiusM?: number;
  /** Extra `threshold-agency request` flags. */
  extra?: string[];
  /** Wait until the device holds it pending (default true). */
  waitPending?: boolean;
}

export interface PageWorldOptions {
  motion?: readonly MotionWindow[];
  audio?: boolean;
  /** Seconds of footage to wait for before the world is ready. */
  footageSeconds?: number;
  /** The agency's tus endpoint (`--upload-url`); a placeholder when no receiver runs. */
  uploadUrl?: string;
  /** `upload` settings of the device (the receiver's CA). */
  upload?: Record<string, unknown>;
  /** `live` settings of the device. */
  live?: Record<string, unknown>;
  /** How long a live viewer waits for the stream. */
  liveReadyTimeoutMs?: number;
  /** Runs on the data directory before the agent starts. */
  beforeStart?: (dataDir: string) => Promise<void>;
}

export async function createPageWorld(options: PageWorldOptions = {}): Promise<PageWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'threshold-page-'));
  const cleanups: (() => Promise<unknown>)[] = [() => rm(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    const rootDir = join(dir, 'keys', 'root');
    const agencyDir = join(dir, 'keys', 'agency');
    const root = await generateKeyDir(rootDir);
    const agency = await generateKeyDir(agencyDir);
    const now = Date.now();
    const delegation = buildDelegation({
      rootSecretKeys: [await readSigningKey(rootDir, 'root')],
      agencyId: AGENCY_ID,
      name: AGENCY_NAME,
      signingKey: agency.signingPublicKey,
      regions: ['u09'],
      maxRadiusM: 2000,
      maxWindowS: 24 * 3600,
      notBefore: now - 3600_000,
      notAfter: now + 7 * 24 * 3600_000,
    });
    const delegationPath = join(dir, 'delegation.json');
    await writeFile(delegationPath, JSON.stringify(delegation));

    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const camera = await startEmulatedCameras({
      cameras: 1,
      size: { width: 640, height: 360 },
      fps: 15,
      keyframeSeconds: 1,
      audio: options.audio ?? false,
      motion: options.motion ?? [
        { start: 5, end: 8 },
        { start: 14, end: 17 },
      ],
    });
    cleanups.push(() => camera.stop());

    const dataDir = join(dir, 'data');
    await mkdir(dataDir, { recursive: true });
    const configPath = join(dir, 'config.json');
    const raw = {
      dataDir,
      device: { location: DEVICE_LOCATION },
      camera: { source: 'rtsp', url: camera.urls[0] },
      motion: { preRollSeconds: 1, postRollSeconds: 1 },
      mqtt: { url: broker.url },
      trust: {
        roots: [
          { name: 'Test Root', publicKey: Buffer.from(root.signingPublicKey).toString('base64') },
        ],
        threshold: 1,
      },
      ...(options.upload ? { upload: options.upload } : {}),
      ...(options.live ? { live: options.live } : {}),
      ui: { listen: '127.0.0.1:0' },
      log: { level: 'warn' },
    };
    await writeFile(configPath, JSON.stringify(raw, null, 2), { mode: 0o600 });
    const config = await loadConfig(configPath);
    const hardware = hardwareFor(config);
    await options.beforeStart?.(dataDir);
    const agent = await Agent.create(config, hardware, createLogger({ level: 'warn' }), {
      ...(options.liveReadyTimeoutMs !== undefined
        ? { liveReadyTimeoutMs: options.liveReadyTimeoutMs }
        : {}),
    });
    const stopping = new AbortController();
    cleanups.push(async () => {
      stopping.abort();
      await agent.stop();
    });
    await agent.start(stopping.signal);
    const url = await waitFor(() => agent.page.url, { what: 'the page to listen' });
    await waitFor(() => agent.requests.connection()?.state === 'ready', {
      timeoutMs: 20_000,
      what: 'the device to subscribe',
    });
    const footageSeconds = options.footageSeconds ?? 20;
    await waitFor(async () => (await agentFootage(agent)).seconds >= footageSeconds, {
      timeoutMs: 60_000 + footageSeconds * 2000,
      intervalMs: 500,
      what: 'footage',
    });

    const world: PageWorld = {
      dir,
      config,
      configPath,
      broker,
      camera,
      agent,
      indicator: hardware.indicator as EmulatedIndicator,
      url,
      rootDir,
      agencyDir,
      delegationPath,
      pairingCode: async (agoMs = 0) => {
        const codes = new PairingCodes({ db: agent.db, audit: agent.requests.audit });
        const { code } = await codes.issue(Date.now() - agoMs);
        return formatCode(code);
      },
      publish: async (request = {}) => {
        const iso = (ms: number) => new Date(ms).toISOString();
        // biome-ignore format: flag pairs read best one per line
        const args = [
          'request',
          '--agency', agencyDir,
          '--delegation', delegationPath,
          '--lat', String(DEVICE_LOCATION.lat),
          '--lon', String(DEVICE_LOCATION.lon),
          '--radius-m', String(request.radiusM ?? 300),
          '--from', iso(request.from ?? camera.startedAt),
          '--to', iso(request.to ?? Date.now() - 1000),
          '--code', request.code ?? 'CASE-2026/0042',
          '--title', request.title ?? 'Break-in on Rue de Rivoli',
          '--description', request.description ?? 'A door was forced around noon; footage of the street, please.',
          '--upload-url', request.uploadUrl ?? options.uploadUrl ?? 'https://evidence.example/files/',
          '--contact-name', 'Sgt. Martin',
          '--contact-phone', '+33 1 23 45 67 89',
          '--expires-in', '2h',
          '--publish', broker.url,
          '--json',
          ...(request.extra ?? []),
        ];
        const run = await runAgency(args);
        if (run.code !== 0) throw new Error(`threshold-agency request failed: ${run.stderr}`);
        const { id } = JSON.parse(run.stdout) as { id: string };
        if (request.waitPending !== false) {
          await waitFor(async () => (await agent.requests.store.get(id))?.state === 'pending', {
            timeoutMs: 20_000,
            what: `request ${id} pending`,
          });
        }
        return id;
      },
      close: cleanup,
    };
    return world;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Seconds of footage the device has indexed. */
async function agentFootage(agent: Agent): Promise<{ seconds: number }> {
  const row = await agent.db.get<{ first: number | null; last: number | null }>(
    'SELECT MIN(start_ms) AS first, MAX(end_ms) AS last FROM segments',
  );
  if (!row || row.first === null || row.last === null) return { seconds: 0 };
  return { seconds: (row.last - row.first) / 1000 };
}
