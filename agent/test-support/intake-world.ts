import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { ManualClock } from '../../hal/emulated/clock.js';
import { AuditLog } from '../audit/audit-log.js';
import { type Config, configSchema } from '../config/schema.js';
import type { DsseEnvelope } from '../crypto/dsse.js';
import { Database } from '../db/database.js';
import { createLogger } from '../log.js';
import { Pins } from '../recording/pins.js';
import { SegmentIndex } from '../recording/segment-index.js';
import {
  type BuiltRequest,
  buildDelegation,
  buildRequest,
  type RequestInput,
} from '../requests/build.js';
import { ClockFloor } from '../requests/clock-floor.js';
import { footageIndexOf } from '../requests/footage.js';
import { Intake } from '../requests/intake.js';
import { REQUEST_TOPIC_PREFIX } from '../requests/protocol.js';
import { RequestStore } from '../requests/store.js';
import { TrustState } from '../requests/trust.js';

/**
 * A device with real parts on an SQLite database in a temp directory, trust roots, one
 * delegated agency, and helpers to sign requests and record footage. For the request
 * tests only: every part is the production class, nothing is mocked.
 */

/** Near the north-west corner of geohash cell u33d (Berlin): the device subscribes to 4 cells. */
export const DEVICE = { lat: 52.556, lon: 13.363 } as const;
export const DEVICE_CELL = 'u33d';
export const DEVICE_TOPIC = `${REQUEST_TOPIC_PREFIX}${DEVICE_CELL}`;
export const START = Date.UTC(2026, 2, 1, 12, 0, 0);
const HOUR = 3600_000;

export interface WorldOptions {
  policy?: Partial<Config['policy']>;
  rootCount?: number;
  threshold?: number;
  /** Reuse the directory (and keys) of an earlier world: a restart. */
  from?: World;
  /** Fixed keys and delegation (e.g. from test vectors) instead of fresh ones. */
  roots?: nacl.SignKeyPair[];
  agency?: nacl.SignKeyPair;
  delegation?: DsseEnvelope;
  /** The clock's start (default START). */
  start?: number;
}

export interface World {
  dir: string;
  db: Database;
  clock: ManualClock;
  config: Config;
  roots: nacl.SignKeyPair[];
  agency: nacl.SignKeyPair;
  delegation: DsseEnvelope;
  floor: ClockFloor;
  audit: AuditLog;
  trust: TrustState;
  store: RequestStore;
  intake: Intake;
  segments: SegmentIndex;
  pins: Pins;
  /** A valid request for this device (overrides change any input). */
  request(overrides?: Partial<RequestInput>): BuiltRequest;
  /** Indexes segments of `stepMs` (10 s by default) covering [fromMs, toMs). Returns their ids. */
  record(fromMs: number, toMs: number, stepMs?: number): Promise<number[]>;
  /** Every table's rows except the audit log's, for "nothing changed" comparisons. */
  snapshot(): Promise<Record<string, unknown[]>>;
  close(options?: { keep?: boolean }): Promise<void>;
}

export async function createWorld(options: WorldOptions = {}): Promise<World> {
  const from = options.from;
  const dir = from?.dir ?? (await mkdtemp(join(tmpdir(), 'threshold-requests-')));
  const rootCount = options.rootCount ?? 3;
  const roots =
    from?.roots ?? options.roots ?? Array.from({ length: rootCount }, () => nacl.sign.keyPair());
  const agency = from?.agency ?? options.agency ?? nacl.sign.keyPair();
  const clock = from?.clock ?? new ManualClock(options.start ?? START);
  const config = configSchema.parse({
    dataDir: dir,
    device: { location: DEVICE },
    camera: { source: 'emulated' },
    trust: {
      roots: roots.map((root, i) => ({
        name: `root-${i + 1}`,
        publicKey: Buffer.from(root.publicKey).toString('base64'),
      })),
      threshold: options.threshold ?? 2,
    },
    policy: options.policy ?? {},
  });
  const delegation =
    from?.delegation ??
    options.delegation ??
    buildDelegation({
      rootSecretKeys: roots.slice(0, 2).map((root) => root.secretKey),
      agencyId: 'metro-pd',
      name: 'Metro Police Department',
      signingKey: agency.publicKey,
      regions: ['u33'],
      maxRadiusM: 5000,
      maxWindowS: 24 * 3600,
      notBefore: START - 24 * HOUR,
      notAfter: START + 20 * 24 * HOUR,
    });

  const db = await Database.open(join(dir, 'threshold.db'));
  const segments = new SegmentIndex(db, join(dir, 'segments'));
  const pins = new Pins(db);
  const footage = footageIndexOf(segments, pins);
  const floor = new ClockFloor({ db, clock });
  await floor.load();
  const audit = new AuditLog(db, floor);
  const trust = new TrustState({ db, config });
  await trust.load();
  const store = new RequestStore({ db, footage, clock: floor, audit });
  const log = createLogger({ level: 'silent' });
  const intake = new Intake({ config, floor, footage, audit, store, trust, log });

  let seq = 0;
  const world: World = {
    dir,
    db,
    clock,
    config,
    roots,
    agency,
    delegation,
    floor,
    audit,
    trust,
    store,
    intake,
    segments,
    pins,
    request: (overrides = {}) => {
      const now = clock.now();
      return buildRequest({
        agencySecretKey: agency.secretKey,
        delegation,
        agencyId: 'metro-pd',
        investigationCode: 'MPD-2026/0042',
        title: 'Burglary on Elm Street',
        description: 'A break-in between 11:00 and 11:30.\nAny footage of the street helps.',
        area: { ...DEVICE, radiusM: 100 },
        window: { start: now - HOUR, end: now - HOUR / 2 },
        issuedAt: now,
        expiresAt: now + 24 * HOUR,
        recipientBoxPublicKey: nacl.box.keyPair().publicKey,
        uploadUrl: 'https://evidence.example.org/files/',
        contact: { name: 'Det. Rivera', phone: '+1 555 0100', email: 'rivera@example.org' },
        ...overrides,
      });
    },
    record: (fromMs, toMs, stepMs = 10_000) =>
      // Rows as the recorder writes them (the files need not exist for these tests).
      db.transaction(async (tx) => {
        const run = await tx.run('INSERT INTO recorder_runs (started_at) VALUES (?)', [fromMs]);
        const ids: number[] = [];
        for (let t = fromMs; t < toMs; t += stepMs) {
          seq += 1;
          const end = Math.min(t + stepMs, toMs);
          const row = await tx.run(
            `INSERT INTO segments (run_id, seq, file, start_ms, end_ms, pts_start, pts_end, bytes, sha256)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [
              run.lastId,
              seq,
              `${run.lastId}-${seq}.ts`,
              t,
              end,
              0,
              (end - t) / 1000,
              1000,
              '0'.repeat(64),
            ],
          );
          ids.push(row.lastId);
        }
        return ids;
      }),
    snapshot: async () => {
      const tables = await db.all<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'audit_log' ORDER BY name",
      );
      const result: Record<string, unknown[]> = {};
      for (const { name } of tables) {
        const rows = await db.all(`SELECT * FROM "${name}"`);
        result[name] = rows.map((row) => JSON.stringify(row)).sort();
      }
      return result;
    },
    close: async ({ keep = false } = {}) => {
      await db.close();
      if (!keep) await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}
