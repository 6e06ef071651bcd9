import { join } from 'node:path';
import { EmulatedCamera } from '../hal/emulated/camera.js';
import { EmulatedIndicator } from '../hal/emulated/indicator.js';
import type { CameraSource, Clock, Indicator, Storage } from '../hal/interfaces.js';
import { SystemClock } from '../hal/linux/clock.js';
import { SysfsLedIndicator } from '../hal/linux/indicator.js';
import { RtspCamera } from '../hal/linux/rtsp-camera.js';
import { LinuxStorage } from '../hal/linux/storage.js';
import { parseMotionSchedule } from '../scripts/camera/camera-args.js';
import type { Config } from './config/schema.js';
import type { Database } from './db/database.js';
import { agentPaths } from './db/open.js';
import { AgentEvents } from './events.js';
import { IndicatorController } from './indicator-controller.js';
import type { Service } from './lifecycle.js';
import type { Logger } from './log.js';
import { type DeviceParts, openDeviceParts } from './parts.js';
import { MotionStore } from './recording/motion-store.js';
import { Pins } from './recording/pins.js';
import { probeDurationSeconds } from './recording/probe.js';
import { Recorder } from './recording/recorder.js';
import { Retention } from './recording/retention.js';
import { SegmentIndex } from './recording/segment-index.js';
import { SegmentStore } from './recording/segment-store.js';
import { footageIndexOf } from './requests/footage.js';
import { createRequestService, type RequestService } from './requests/request-service.js';
import type { Consent } from './share/consent.js';
import { AgentState } from './state.js';
import { createOwnerPage } from './ui/create.js';
import type { OwnerPage } from './ui/owner-page.js';

export { type DeviceParts, openDeviceParts, withDeviceParts } from './parts.js';

/** The hardware the agent runs on; tests pass their own. */
export interface Hardware {
  clock: Clock;
  storage: Storage;
  indicator: Indicator;
  camera: CameraSource;
}

/** Picks the hal/ implementations the config asks for. */
export function hardwareFor(config: Config): Hardware {
  const camera: CameraSource =
    config.camera.source === 'rtsp'
      ? new RtspCamera({ url: config.camera.url })
      : new EmulatedCamera({
          settings: {
            width: config.camera.width,
            height: config.camera.height,
            fps: config.camera.fps,
            keyframeSeconds: config.camera.keyframeSeconds,
            audio: config.camera.audio,
            motion: parseMotionSchedule(config.camera.motion ?? ''),
          },
        });
  return {
    clock: new SystemClock(),
    storage: new LinuxStorage(),
    indicator: config.indicator.led
      ? new SysfsLedIndicator(config.indicator.led)
      : new EmulatedIndicator(),
    camera,
  };
}

/**
 * The composition root: the one place that chooses implementations and wires the parts.
 * Parts start in order and stop in reverse: the recorder first (footage is the asset),
 * then community requests, then the indicator that reports on both.
 */
export class Agent {
  readonly #started: Service[] = [];

  readonly db: Database;
  readonly consent: Consent;

  private constructor(
    private readonly parts: DeviceParts,
    readonly recorder: Recorder,
    readonly requests: RequestService,
    readonly events: AgentEvents,
    readonly page: OwnerPage,
    private readonly services: readonly Service[],
    private readonly log: Logger,
  ) {
    this.db = parts.db;
    this.consent = parts.consent;
  }

  static async create(
    config: Config,
    hardware: Hardware,
    log: Logger,
    options: { embeddedBrokerPort?: number; uiRetry?: { baseMs: number; maxMs: number } } = {},
  ): Promise<Agent> {
    const paths = agentPaths(config.dataDir);
    const events = new AgentEvents();
    const parts = await openDeviceParts(config, { log, clock: hardware.clock, events });
    const { db } = parts;
    const state = new AgentState(db);
    const store = new SegmentStore(db, hardware.storage, paths.segments, (file) =>
      probeDurationSeconds(config.ffmpeg.ffprobePath, file),
    );
    const motion = new MotionStore(db);
    const retention = new Retention({
      db,
      store,
      storage: hardware.storage,
      clock: hardware.clock,
      log: log.child({ component: 'retention' }),
      retention: config.retention,
      motion: config.motion,
    });
    let indicator: IndicatorController | undefined;
    const recorder = new Recorder({
      camera: hardware.camera,
      db,
      store,
      motion,
      retention,
      state,
      clock: hardware.clock,
      log: log.child({ component: 'recorder' }),
      settings: {
        pidFile: join(config.dataDir, 'recorder.pid'),
        ffmpegPath: config.ffmpeg.ffmpegPath,
        segmentSeconds: config.recording.segmentSeconds,
        stallSeconds: config.recording.stallSeconds,
        sceneThreshold: config.motion.source === 'scene' ? config.motion.sceneThreshold : null,
      },
      onStatus: () => void indicator?.refresh(),
    });
    const requests = createRequestService({
      config,
      db,
      clock: hardware.clock,
      footage: footageIndexOf(new SegmentIndex(db, paths.segments), new Pins(db)),
      log,
      ...(options.embeddedBrokerPort !== undefined
        ? { embeddedPort: options.embeddedBrokerPort }
        : {}),
      shared: { floor: parts.floor, audit: parts.audit, store: parts.requests },
      events,
      onResult: (result) => {
        if (result.kind === 'pending') events.emit('requests', { requestId: result.requestId });
      },
    });
    indicator = new IndicatorController({
      indicator: hardware.indicator,
      log: log.child({ component: 'indicator' }),
      recorderStatus: () => recorder.status(),
      pendingCount: () => requests.store.pendingCount(),
    });
    // A request that arrives, is decided or expires changes what the indicator shows.
    events.on('requests', () => void indicator?.refresh());
    const page = createOwnerPage({
      config,
      parts,
      consent: parts.consent,
      policy: requests.policy,
      events,
      log,
      ...(options.uiRetry ? { retry: options.uiRetry } : {}),
    });
    return new Agent(
      parts,
      recorder,
      requests,
      events,
      page,
      [recorder, requests, indicator, page],
      log,
    );
  }

  async start(signal: AbortSignal): Promise<void> {
    for (const service of this.services) {
      this.log.info({ service: service.name }, 'starting');
      await service.start(signal);
      this.#started.push(service);
    }
  }

  async stop(): Promise<void> {
    for (const service of this.#started.reverse()) {
      try {
        await service.stop();
      } catch (err) {
        this.log.error({ err, service: service.name }, 'stopping failed');
      }
    }
    this.#started.length = 0;
    await this.parts.close();
  }
}
