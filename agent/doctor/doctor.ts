import type { Config } from '../config/schema.js';
import { agentPaths } from '../db/open.js';
import type { BrokerCheckOptions, BrokerCheckResult } from '../mqtt/connection-check.js';
import type { AccountIds } from '../provision/system-user.js';
import type { Check } from './check.js';
import { brokerCheck } from './checks/broker.js';
import { type CameraCheckDeps, cameraCheck } from './checks/camera.js';
import { type ClockSync, clockCheck, type FloorReading } from './checks/clock.js';
import { dataDirCheck } from './checks/data-dir.js';
import { fileModesCheck } from './checks/file-modes.js';
import { freeSpaceCheck } from './checks/free-space.js';
import { mediaToolsCheck } from './checks/media-tools.js';
import { uiCheck } from './checks/ui.js';

/** The checks of `threshold doctor` for one device, in the order they are shown. */

export interface DoctorTarget {
  readonly config: Config;
  readonly configPath: string;
  /** The account the agent runs as. */
  readonly account: AccountIds;
}

export interface DoctorDeps extends CameraCheckDeps {
  readonly checkBroker: (options: BrokerCheckOptions) => Promise<BrokerCheckResult>;
  readonly readSync: (signal: AbortSignal) => Promise<ClockSync>;
  readonly readFloor: () => Promise<FloorReading | null>;
}

export function doctorChecks(target: DoctorTarget, deps: DoctorDeps): Check[] {
  const { config, configPath, account } = target;
  const { ui } = config;
  return [
    mediaToolsCheck(config.ffmpeg),
    dataDirCheck(config.dataDir, account),
    freeSpaceCheck(config.dataDir, config.retention.minFreeBytes),
    fileModesCheck({ configPath, keysDir: agentPaths(config.dataDir).keys }, account),
    cameraCheck(config.camera, deps),
    brokerCheck(config.mqtt, { checkBroker: deps.checkBroker, timeoutMs: deps.connectTimeoutMs }),
    clockCheck({ readSync: deps.readSync, readFloor: deps.readFloor }),
    uiCheck(ui.listen, ui.tls !== undefined),
  ];
}
