import { join } from 'node:path';
import { EmulatedCamera } from '../hal/emulated/camera.js';
import { parseMotionSchedule } from '../hal/emulated/camera-args.js';
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
import type { Config } from './config/schema.js';
import type { Database } from './db/database.js';
import { AgentEvents } from './events.js';
import { agentVersion, ffmpegVersion } from './export/seal-clip.js';
import { IndicatorController } from './indicator-controller.js';
import type { Service } from './lifecycle.js';
import { LiveView } from './live/live-view.js';
import { LiveSettings } from './live/settings.js';
import type { Logger } from './log.js';
import { type DeviceParts, openDeviceParts } from './parts.js';
import { MotionService } from './recording/motion-service.js';
import { probeDurationSeconds } from './recording/probe.js';
import { Recorder } from './recording/recorder.js';
import { Retention } from './recording/retention.js';
import { SegmentStore } from './recording/segment-store.js';
import { createRequestService, type RequestService } from './requests/request-service.js';
import type { Consent } from './share/consent.js';
import { pipelineParts, SharePipeline } from './share/share-pipeline.js';
import { AgentState } from './state.js';
import { createOwnerPage } from './ui/create.js';
import type { OwnerPage } from './ui/owner-page.js';
import { type BackoffSettings, Uploader, type UploadSettings } from './upload/uploader.js';

export { type DeviceParts, openDeviceParts, withDeviceParts } from './parts.js';

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
 * then community requests, the share pipeline, the indicator that reports on them, live
 * view, and the page (which stops first, ending its viewers' streams).
 */
export class Agent {
  readonly #started: Service[] = [];

  private constructor(
    readonly parts: DeviceParts,
    readonly events: AgentEvents,
    readonly recorder: Recorder,
    readonly requests: RequestService,
    readonly share: SharePipeline,
    /** The owner's web page. */
    readonly page: OwnerPage,
    /** Live view for the page: nothing runs until someone watches. */
    readonly live: LiveView,
    private readonly services: readonly Service[],
    private readonly log: Logger,
  ) {}

  get db(): Database {
    return this.parts.db;
  }

  /** The owner's decisions: offers, previews, share, decline, jobs. */
  get consent(): Consent {
    return this.parts.consent;
  }

  static async create(
    config: Config,
    hardware: Hardware,
    log: Logger,
    options: {
      embeddedBrokerPort?: number;
      uploadBackoff?: BackoffSettings;
      uiRetry?: { baseMs: number; maxMs: number };
      /** How long a live viewer waits for the stream (tests shorten it). */
      liveReadyTimeoutMs?: number;
    } = {},
  ): Promise<Agent> {
    const events = new AgentEvents();
    let share: SharePipeline | undefined;
    let indicator: IndicatorController | undefined;
    const parts = await openDeviceParts(config, {
      log,
      clock: hardware.clock,
      events,
      onShared: () => {
        share?.wake();
        void indicator?.refresh();
      },
    });
    const { db, paths } = parts;
    const state = new AgentState(db);
    const store = new SegmentStore(db, hardware.storage, paths.segments, (file) =>
      probeDurationSeconds(config.ffmpeg.ffprobePath, file),
    );
    const retention = new Retention({
      db,
      store,
      storage: hardware.storage,
      clock: hardware.clock,
      log: log.child({ component: 'retention' }),
      retention: config.retention,
      motion: config.motion,
      outboxBytes: () => parts.jobs.outboxBytes(),
    });
    const recorder = new Recorder({
      camera: hardware.camera,
      db,
      store,
      motion: parts.motion,
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
      footage: parts.footage,
      log,
      shared: { floor: parts.floor, audit: parts.audit, store: parts.requests },
      events,
      ...(options.embeddedBrokerPort !== undefined
        ? { embeddedPort: options.embeddedBrokerPort }
        : {}),
      onResult: (result) => {
        if (result.kind === 'pending') {
          events.emit('requests', { requestId: result.requestId });
          void indicator?.refresh();
        }
      },
    });
    share = new SharePipeline({
      ...pipelineParts(parts),
      storage: hardware.storage,
      uploader: new Uploader({
        settings: uploadSettings(config),
        log: log.child({ component: 'upload' }),
        ...(options.uploadBackoff ? { backoff: options.uploadBackoff } : {}),
      }),
      versions: once(async () => ({
        agent: await agentVersion(),
        ffmpeg: await ffmpegVersion(config.ffmpeg.ffmpegPath),
      })),
      log: log.child({ component: 'share' }),
      events,
    });
    indicator = new IndicatorController({
      indicator: hardware.indicator,
      log: log.child({ component: 'indicator' }),
      recorderStatus: () => recorder.status(),
      pendingCount: () => parts.requests.pendingCount(),
    });
    // A request declined or expired changes what the indicator shows too.
    events.on('requests', () => void indicator?.refresh());
    const liveSettings = new LiveSettings(state);
    const live = new LiveView({
      camera: hardware.camera,
      ffmpegPath: config.ffmpeg.ffmpegPath,
      dir: join(config.dataDir, 'live'),
      log: log.child({ component: 'live' }),
      settings: {
        enabled: config.live.enabled,
        idleStopMs: config.live.idleStopSeconds * 1000,
        maxViewers: config.live.maxViewers,
        readyTimeoutMs: options.liveReadyTimeoutMs ?? 10_000,
      },
      audio: () => liveSettings.audio(),
    });
    const page = createOwnerPage({
      config,
      parts,
      live: {
        attach: (signal) => live.attach(signal),
        status: () => live.status(),
        restartPublisher: () => live.restartPublisher(),
        audio: () => liveSettings.audio(),
        setAudio: (on) => liveSettings.setAudio(on),
      },
      consent: parts.consent,
      policy: requests.policy,
      events,
      log,
      ...(options.uiRetry ? { retry: options.uiRetry } : {}),
    });
    // Motion beside the video starts after the recorder, whose start closes events a
    // crash left open, and stops before it.
    const sensor = hardware.motion
      ? new MotionService({
          source: hardware.motion,
          store: parts.motion,
          clock: hardware.clock,
          log: log.child({ component: 'motion' }),
        })
      : undefined;
    return new Agent(
      parts,
      events,
      recorder,
      requests,
      share,
      page,
      live,
      [recorder, ...(sensor ? [sensor] : []), requests, share, indicator, live, page],
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

/** The uploader's settings from the config's `upload` section. */
function uploadSettings(config: Config): UploadSettings {
  const upload = config.upload;
  if (!upload) return {};
  return {
    ...(upload.maxBytesPerSecond !== undefined
      ? { maxBytesPerSecond: upload.maxBytesPerSecond }
      : {}),
    ...(upload.ca !== undefined ? { ca: upload.ca } : {}),
    ...(upload.proxy !== undefined ? { proxy: upload.proxy } : {}),
    ...(upload.idleTimeoutSeconds !== undefined
      ? { idleTimeoutMs: upload.idleTimeoutSeconds * 1000 }
      : {}),
  };
}

/** Runs `fn` once, on first use; later calls share its promise. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}
