import type { Clock } from '../hal/interfaces.js';
import { SystemClock } from '../hal/linux/clock.js';
import { AuditLog } from './audit/audit-log.js';
import type { Config } from './config/schema.js';
import { DeviceKeys } from './crypto/device-keys.js';
import type { Database } from './db/database.js';
import { agentPaths, openAgentDatabase } from './db/open.js';
import type { AgentEvents } from './events.js';
import { Exporter } from './export/exporter.js';
import type { Logger } from './log.js';
import { MotionStore } from './recording/motion-store.js';
import { Pins } from './recording/pins.js';
import { SegmentIndex } from './recording/segment-index.js';
import { ClockFloor } from './requests/clock-floor.js';
import { type FootageIndex, footageIndexOf } from './requests/footage.js';
import { RequestStore } from './requests/store.js';
import { clockSyncState } from './share/clock-sync.js';
import { Consent } from './share/consent.js';
import { JobStore } from './share/job-store.js';
import { Previews } from './share/previews.js';
import { AgentState } from './state.js';

/**
 * The device's data parts over one database: the footage index, requests, approvals and
 * jobs, the audit log, the clock floor and the keys. The agent builds its services on
 * them, and every CLI command asks for them here rather than wiring its own (SQLite
 * serialises writers, so a command is safe beside a running agent).
 */
export interface DeviceParts {
  config: Config;
  db: Database;
  paths: ReturnType<typeof agentPaths>;
  /** The clock that never goes back (loaded). */
  floor: ClockFloor;
  audit: AuditLog;
  state: AgentState;
  segments: SegmentIndex;
  pins: Pins;
  footage: FootageIndex;
  motion: MotionStore;
  requests: RequestStore;
  jobs: JobStore;
  exporter: Exporter;
  consent: Consent;
  /** The device secret and the keys derived from it (made on first use). */
  keys(): Promise<DeviceKeys>;
  /** Closes the exporter's spare check and the database. */
  close(): Promise<void>;
}

export interface PartsOptions {
  log: Logger;
  clock?: Clock;
  events?: AgentEvents;
  /** Told after an approval commits (the running agent's share pipeline). */
  onShared?: () => void;
}

export async function openDeviceParts(config: Config, options: PartsOptions): Promise<DeviceParts> {
  const paths = agentPaths(config.dataDir);
  const db = await openAgentDatabase(config);
  const floor = new ClockFloor({ db, clock: options.clock ?? new SystemClock() });
  await floor.load();
  const audit = new AuditLog(db, floor);
  const segments = new SegmentIndex(db, paths.segments);
  const pins = new Pins(db);
  const footage = footageIndexOf(segments, pins);
  const motion = new MotionStore(db);
  const requests = new RequestStore({ db, footage, clock: floor, audit });
  const jobs = new JobStore(db);
  const exporter = new Exporter({
    ffmpegPath: config.ffmpeg.ffmpegPath,
    ffprobePath: config.ffmpeg.ffprobePath,
    logger: options.log.child({ component: 'export' }),
  });
  const consent = new Consent({
    db,
    requests,
    jobs,
    pins,
    segments,
    motion,
    clock: floor,
    previews: new Previews({
      dir: paths.previews,
      segments,
      exporter,
      ffmpegPath: config.ffmpeg.ffmpegPath,
    }),
    roll: config.motion,
    clockSync: () => clockSyncState(floor),
    ...(options.events ? { events: options.events } : {}),
    ...(options.onShared ? { onShared: options.onShared } : {}),
  });
  let keys: Promise<DeviceKeys> | undefined;
  return {
    config,
    db,
    paths,
    floor,
    audit,
    state: new AgentState(db),
    segments,
    pins,
    footage,
    motion,
    requests,
    jobs,
    exporter,
    consent,
    keys: () => {
      keys ??= DeviceKeys.load(config.dataDir);
      return keys;
    },
    close: async () => {
      exporter.close();
      await db.close();
    },
  };
}

/** Opens the parts, runs `fn`, and closes them whatever happens. */
export async function withDeviceParts<T>(
  config: Config,
  options: PartsOptions,
  fn: (parts: DeviceParts) => Promise<T>,
): Promise<T> {
  const parts = await openDeviceParts(config, options);
  try {
    return await fn(parts);
  } finally {
    await parts.close();
  }
}
