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
import { AgentEvents } from './events.js';
import { agentVersion, ffmpegVersion } from './export/seal-clip.js';
import { IndicatorController } from './indicator-controller.js';
import type { Service } from './lifecycle.js';
import type { Logger } from './log.js';
import { type DeviceParts, openDeviceParts } from './parts.js';
import { probeDurationSeconds } from './recording/probe.js';
import { Recorder } from './recording/recorder.js';
import { Retention } from './recording/retention.js';
import { SegmentStore } from './recording/segment-store.js';
import { createRequestService, type RequestService } from './requests/request-service.js';
import type { Consent } from './share/consent.js';
import { SharePipeline } from './share/share-pipeline.js';
import { AgentState } from './state.js';
import { type BackoffSettings, Uploader, type UploadSettings } from './upload/uploader.js';

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
 * then community requests, the share pipeline, and the indicator that reports on them.
 */
export class Agent {
  readonly #started: Service[] = [];

  private constructor(
    readonly parts: DeviceParts,
    readonly events: AgentEvents,
    readonly recorder: Recorder,
    readonly requests: RequestService,
    readonly share: SharePipeline,
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
    options: { embeddedBrokerPort?: number; uploadBackoff?: BackoffSettings } = {},
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
      db,
      jobs: parts.jobs,
      requests: parts.requests,
      pins: parts.pins,
      segments: parts.segments,
      audit: parts.audit,
      clock: parts.floor,
      storage: hardware.storage,
      exporter: parts.exporter,
      uploader: new Uploader({
        settings: uploadSettings(config),
        log: log.child({ component: 'upload' }),
        ...(options.uploadBackoff ? { backoff: options.uploadBackoff } : {}),
      }),
      signer: () => parts.keys(),
      versions: once(async () => ({
        agent: await agentVersion(),
        ffmpeg: await ffmpegVersion(config.ffmpeg.ffmpegPath),
      })),
      outbox: paths.outbox,
      log: log.child({ component: 'share' }),
      events,
    });
    indicator = new IndicatorController({
      indicator: hardware.indicator,
      log: log.child({ component: 'indicator' }),
      recorderStatus: () => recorder.status(),
      pendingCount: () => parts.requests.pendingCount(),
    });
    return new Agent(
      parts,
      events,
      recorder,
      requests,
      share,
      [recorder, requests, share, indicator],
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
