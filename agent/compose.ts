import { join } from 'node:path';
import { EmulatedCamera } from '../hal/emulated/camera.js';
import { EmulatedIndicator } from '../hal/emulated/indicator.js';
import { EmulatedMotionSource } from '../hal/emulated/motion.js';
import type { CameraSource, Clock, Indicator, MotionSource, Storage } from '../hal/interfaces.js';
import { SystemClock } from '../hal/linux/clock.js';
import { GpioMotionSource } from '../hal/linux/gpio-motion.js';
import { SysfsLedIndicator } from '../hal/linux/indicator.js';
import { OnvifCamera } from '../hal/linux/onvif-camera.js';
import { OnvifMotionSource } from '../hal/linux/onvif-motion.js';
import { RtspCamera } from '../hal/linux/rtsp-camera.js';
import { LinuxStorage } from '../hal/linux/storage.js';
import { parseMotionSchedule } from '../scripts/camera/camera-args.js';
import type { Config } from './config/schema.js';
import type { Database } from './db/database.js';
import { agentPaths, openAgentDatabase } from './db/open.js';
import { IndicatorController } from './indicator-controller.js';
import type { Service } from './lifecycle.js';
import type { Logger } from './log.js';
import { MotionService } from './recording/motion-service.js';
import { MotionStore } from './recording/motion-store.js';
import { Pins } from './recording/pins.js';
import { probeDurationSeconds } from './recording/probe.js';
import { Recorder } from './recording/recorder.js';
import { Retention } from './recording/retention.js';
import { SegmentIndex } from './recording/segment-index.js';
import { SegmentStore } from './recording/segment-store.js';
import { footageIndexOf } from './requests/footage.js';
import { createRequestService, type RequestService } from './requests/request-service.js';
import { AgentState } from './state.js';

/** The hardware the agent runs on; tests pass their own. */
export interface Hardware {
  clock: Clock;
  storage: Storage;
  indicator: Indicator;
  camera: CameraSource;
  /** A motion sensor beside the video (`motion.source` onvif or pir); absent otherwise. */
  motion?: MotionSource;
}

/** Picks the hal/ implementations the config asks for. */
export function hardwareFor(config: Config, log?: Logger): Hardware {
  const motion = motionSourceFor(config, log);
  return {
    clock: new SystemClock(),
    storage: new LinuxStorage(),
    indicator: config.indicator.led
      ? new SysfsLedIndicator(config.indicator.led)
      : new EmulatedIndicator(),
    camera: cameraFor(config.camera),
    ...(motion ? { motion } : {}),
  };
}

function cameraFor(camera: Config['camera']): CameraSource {
  switch (camera.source) {
    case 'rtsp':
      return new RtspCamera({ url: camera.url });
    case 'onvif':
      return new OnvifCamera({ settings: camera });
    case 'emulated':
      return new EmulatedCamera({
        settings: {
          width: camera.width,
          height: camera.height,
          fps: camera.fps,
          keyframeSeconds: camera.keyframeSeconds,
          audio: camera.audio,
          motion: parseMotionSchedule(camera.motion ?? ''),
        },
      });
  }
}

function motionSourceFor(config: Config, log?: Logger): MotionSource | undefined {
  const { camera, motion } = config;
  if (motion.source === 'onvif' && camera.source === 'onvif') {
    return new OnvifMotionSource({
      settings: camera,
      ...(log ? { log: log.child({ component: 'onvif-motion' }) } : {}),
    });
  }
  if (motion.source === 'pir') {
    return motion.pir.gpio ? new GpioMotionSource(motion.pir.gpio) : new EmulatedMotionSource();
  }
  return undefined;
}

/**
 * The composition root: the one place that chooses implementations and wires the parts.
 * Parts start in order and stop in reverse: the recorder first (footage is the asset),
 * then community requests, then the indicator that reports on both.
 */
export class Agent {
  readonly #started: Service[] = [];

  private constructor(
    readonly db: Database,
    readonly recorder: Recorder,
    readonly requests: RequestService,
    private readonly services: readonly Service[],
    private readonly log: Logger,
  ) {}

  static async create(
    config: Config,
    hardware: Hardware,
    log: Logger,
    options: { embeddedBrokerPort?: number } = {},
  ): Promise<Agent> {
    const paths = agentPaths(config.dataDir);
    const db = await openAgentDatabase(config);
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
      onResult: (result) => {
        if (result.kind === 'pending') void indicator?.refresh();
      },
    });
    indicator = new IndicatorController({
      indicator: hardware.indicator,
      log: log.child({ component: 'indicator' }),
      recorderStatus: () => recorder.status(),
      pendingCount: () => requests.store.pendingCount(),
    });
    // Motion beside the video starts after the recorder, whose start closes events a
    // crash left open, and stops before it.
    const sensor = hardware.motion
      ? new MotionService({
          source: hardware.motion,
          store: motion,
          clock: hardware.clock,
          log: log.child({ component: 'motion' }),
        })
      : undefined;
    const services = [recorder, ...(sensor ? [sensor] : []), requests, indicator];
    return new Agent(db, recorder, requests, services, log);
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
    await this.db.close();
  }
}
