import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyDir, readSigningKey } from '../../scripts/agency/keys.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { DsseEnvelope } from '../crypto/dsse.js';
import type { Database } from '../db/database.js';
import { agentPaths, openAgentDatabase } from '../db/open.js';
import { Pins } from '../recording/pins.js';
import { SegmentIndex } from '../recording/segment-index.js';
import {
  type BuiltRequest,
  buildDelegation,
  buildRequest,
  type RequestInput,
} from '../requests/build.js';
import { type FootageIndex, footageIndexOf } from '../requests/footage.js';
import { type CliResult, ROOT } from './cli.js';

/**
 * A device and an agency for request tests, all real: key directories made by the
 * agency tool's code, a delegation signed by a root, a config file the CLI can read, the
 * agent's SQLite database in a temp dir with two minutes of segment rows ending now.
 */

export const DEVICE_LOCATION = { lat: 48.8566, lon: 2.3522 };
export const AGENCY_ID = 'metro-police';

export interface RequestWorld {
  dir: string;
  configPath: string;
  config: Config;
  rootDir: string;
  agencyDir: string;
  delegationPath: string;
  delegation: DsseEnvelope;
  agencySecretKey: Uint8Array;
  db: Database;
  footage: FootageIndex;
  segmentIds: number[];
  /** A valid request for the footage held, signed by the agency; override any field. */
  request(overrides?: Partial<RequestInput>): BuiltRequest;
  close(): Promise<void>;
}

export interface WorldOptions {
  /** `mqtt.url`; no mqtt section when absent. */
  mqttUrl?: string;
  policy?: Record<string, unknown>;
  segmentCount?: number;
}

export async function createRequestWorld(options: WorldOptions = {}): Promise<RequestWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'threshold-requests-'));
  try {
    return await populate(dir, options);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function populate(dir: string, options: WorldOptions): Promise<RequestWorld> {
  const rootDir = join(dir, 'keys', 'root');
  const agencyDir = join(dir, 'keys', 'agency');
  const root = await generateKeyDir(rootDir);
  const agency = await generateKeyDir(agencyDir);
  const rootSecret = await readSigningKey(rootDir, 'root');
  const agencySecretKey = await readSigningKey(agencyDir, 'agency');
  const now = Date.now();
  const delegation = buildDelegation({
    rootSecretKeys: [rootSecret],
    agencyId: AGENCY_ID,
    name: 'Metropolitan Police',
    signingKey: agency.signingPublicKey,
    regions: ['u09'],
    maxRadiusM: 2000,
    maxWindowS: 24 * 3600,
    notBefore: now - 3600_000,
    notAfter: now + 7 * 24 * 3600_000,
  });
  const delegationPath = join(dir, 'delegation.json');
  await writeFile(delegationPath, JSON.stringify(delegation));

  const configPath = join(dir, 'config.json');
  const rawConfig = {
    dataDir: join(dir, 'data'),
    device: { location: DEVICE_LOCATION },
    camera: { source: 'emulated' },
    ...(options.mqttUrl ? { mqtt: { url: options.mqttUrl } } : {}),
    trust: {
      roots: [
        { name: 'Test Root', publicKey: Buffer.from(root.signingPublicKey).toString('base64') },
      ],
      threshold: 1,
    },
    policy: { ...options.policy },
    log: { level: 'warn' },
  };
  await writeFile(configPath, JSON.stringify(rawConfig, null, 2));
  const config = await loadConfig(configPath);
  const db = await openAgentDatabase(config);
  const footage = footageIndexOf(
    new SegmentIndex(db, agentPaths(config.dataDir).segments),
    new Pins(db),
  );
  const segmentIds = await insertSegments(db, now, options.segmentCount ?? 60);

  return {
    dir,
    configPath,
    config,
    rootDir,
    agencyDir,
    delegationPath,
    delegation,
    agencySecretKey,
    db,
    footage,
    segmentIds,
    request: (overrides = {}) => {
      const issuedAt = Date.now();
      return buildRequest({
        agencySecretKey,
        delegation,
        agencyId: AGENCY_ID,
        investigationCode: 'CASE-2026/001',
        title: 'Break-in on Rue de Rivoli',
        description: 'Footage of the street between the given times, please.',
        area: { ...DEVICE_LOCATION, radiusM: 500 },
        window: { start: now - 90_000, end: now - 30_000 },
        issuedAt,
        expiresAt: issuedAt + 3600_000,
        recipientBoxPublicKey: agency.boxPublicKey,
        uploadUrl: 'https://evidence.example/uploads',
        ...overrides,
      });
    },
    close: async () => {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `count` 2-second segment rows ending at `now`, as the recorder indexes closed segments
 * (the files themselves are not needed by intake, which works on the index).
 */
async function insertSegments(db: Database, now: number, count: number): Promise<number[]> {
  const run = await db.run('INSERT INTO recorder_runs (started_at) VALUES (?)', [
    now - count * 2000,
  ]);
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = now - (count - i) * 2000;
    const row = await db.run(
      `INSERT INTO segments (run_id, seq, file, start_ms, end_ms, pts_start, pts_end, bytes, sha256)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        run.lastId,
        i,
        `${run.lastId}-${i}.ts`,
        start,
        start + 2000,
        i * 2,
        i * 2 + 2,
        500_000,
        '0'.repeat(64),
      ],
    );
    ids.push(row.lastId);
  }
  return ids;
}

/** Runs a TypeScript entry point (`scripts/agency/entry.ts`, …) in a child Node through tsx. */
export function runTs(
  entry: string,
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `threshold-agency …` from source. */
export function runAgency(args: readonly string[]): Promise<CliResult> {
  return runTs('scripts/agency/entry.ts', args);
}
