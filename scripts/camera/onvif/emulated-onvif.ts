import { createHash } from 'node:crypto';
import type { FrameSize, MotionWindow } from '../camera-args.js';
import { DeviceService } from './device-service.js';
import { DiscoveryResponder } from './discovery-responder.js';

/** The ONVIF side of the emulated cameras (`--onvif`). */
export interface OnvifEmulationOptions {
  /** The account every camera accepts; default admin / threshold. */
  username?: string;
  password?: string;
  /** One device-service port per camera; absent or 0 picks a free one. */
  ports?: readonly number[];
  /** WS-Discovery port; 0 or absent picks a free one (the CLI uses 3702, the standard). */
  discoveryPort?: number;
  /** Start with the event service's fault switch on. */
  faulting?: boolean;
  /** The longest a PullMessages waits, whatever it asks; default 60 s. */
  maxPullMs?: number;
}

export const DEFAULT_ONVIF_USERNAME = 'admin';
export const DEFAULT_ONVIF_PASSWORD = 'threshold';

/** One camera's device service. */
export interface EmulatedOnvifDevice {
  /** 1-based, as in /cam1. */
  readonly camera: number;
  readonly host: string;
  readonly port: number;
  /** The device service URL. */
  readonly xaddr: string;
  readonly endpoint: string;
}

/** The running ONVIF services of the emulated cameras, with the switches tests flip. */
export interface EmulatedOnvif {
  readonly devices: readonly EmulatedOnvifDevice[];
  readonly discoveryPort: number;
  /** While on, every event subscription faults and none can be made. */
  setFaulting(on: boolean): void;
  /** While on, the cameras answer no request at all (hung devices). */
  setSilent(on: boolean): void;
  /** What GetStreamUri of camera `camera` (1-based) answers from now on. */
  setStreamUri(camera: number, uri: string): void;
  /** Camera `camera` senses motion for `durationMs` from now, besides its script. */
  triggerMotion(camera: number, durationMs: number): void;
  /** Live PullPoint subscriptions of a camera. */
  subscriptions(camera: number): number;
  stop(): Promise<void>;
}

export interface StartOnvifOptions extends OnvifEmulationOptions {
  host: string;
  /** The RTSP URL of each camera, in order. */
  rtspUrls: readonly string[];
  /** The moment the video's motion schedule counts from. */
  startedAt: number;
  motion: readonly MotionWindow[];
  size?: FrameSize;
  fps: number;
}

/** Starts one device service per camera and the WS-Discovery responder for them all. */
export async function startEmulatedOnvif(options: StartOnvifOptions): Promise<EmulatedOnvif> {
  const credentials = {
    username: options.username ?? DEFAULT_ONVIF_USERNAME,
    password: options.password ?? DEFAULT_ONVIF_PASSWORD,
  };
  const services = options.rtspUrls.map((streamUri, index) => {
    const camera = index + 1;
    return new DeviceService({
      camera,
      host: options.host,
      port: options.ports?.[index] ?? 0,
      credentials,
      video: { ...cameraSize(camera, options.size), fps: options.fps },
      streamUri,
      startedAt: options.startedAt,
      motion: options.motion,
      ...(options.maxPullMs !== undefined ? { maxPullMs: options.maxPullMs } : {}),
    });
  });
  const responder = new DiscoveryResponder({
    host: options.host,
    port: options.discoveryPort ?? 0,
    devices: () =>
      services.map((service, index) => ({
        endpoint: endpointOf(options.host, service.port),
        xaddr: service.xaddr,
        name: `Threshold emulated camera ${index + 1}`,
        hardware: 'Emulated Doorbell',
      })),
  });
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    for (const service of services) {
      await service.start();
      started.push(service);
      if (options.faulting) service.hub.setFaulting(true);
    }
    await responder.start();
    started.push(responder);
  } catch (err) {
    await Promise.all(started.map((part) => part.stop()));
    throw err;
  }
  const serviceOf = (camera: number): DeviceService => {
    const service = services[camera - 1];
    if (!service) throw new RangeError(`no camera ${camera}`);
    return service;
  };
  return {
    devices: services.map((service, index) => ({
      camera: index + 1,
      host: options.host,
      port: service.port,
      xaddr: service.xaddr,
      endpoint: endpointOf(options.host, service.port),
    })),
    discoveryPort: responder.port,
    setFaulting: (on) => {
      for (const service of services) service.hub.setFaulting(on);
    },
    setSilent: (on) => {
      for (const service of services) service.setSilent(on);
    },
    setStreamUri: (camera, uri) => serviceOf(camera).setStreamUri(uri),
    triggerMotion: (camera, durationMs) => serviceOf(camera).triggerMotion(durationMs),
    subscriptions: (camera) => serviceOf(camera).hub.size,
    stop: async () => {
      await Promise.all(started.splice(0).map((part) => part.stop()));
    },
  };
}

/** The size the script gives camera `camera`: 1080p, 720p, alternating, unless one is set. */
function cameraSize(camera: number, size: FrameSize | undefined): FrameSize {
  if (size) return size;
  return camera % 2 === 1 ? { width: 1920, height: 1080 } : { width: 1280, height: 720 };
}

/** A stable endpoint reference per address, so a restarted camera is the same device. */
function endpointOf(host: string, port: number): string {
  const hex = createHash('sha256').update(`${host}:${port}`).digest('hex');
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
