import {
  type CameraProcess,
  type CameraProcessOptions,
  startCameraProcess,
} from '../../hal/emulated/camera-process.js';
import {
  type EmulatedOnvif,
  type OnvifEmulationOptions,
  startEmulatedOnvif,
} from './onvif/emulated-onvif.js';

export type { CameraSettings, FrameSize, MotionWindow } from '../../hal/emulated/camera-args.js';
export {
  type CameraExit,
  DEFAULT_PYTHON,
  EmulatedCameraError,
} from '../../hal/emulated/camera-process.js';
export type { EmulatedOnvif, OnvifEmulationOptions } from './onvif/emulated-onvif.js';

/**
 * The emulated cameras for testers and tests: the RTSP cameras of the emulated camera
 * source (hal/emulated/camera-process.ts), and optionally an ONVIF device service for
 * each (scripts/camera/onvif/).
 */
export interface EmulatedCameraOptions extends CameraProcessOptions {
  /** Adds an ONVIF device service to each camera (and WS-Discovery for them all). */
  onvif?: OnvifEmulationOptions;
}

export interface EmulatedCameras extends CameraProcess {
  /** The ONVIF services, when `onvif` was asked for; they stop with the cameras. */
  readonly onvif?: EmulatedOnvif;
}

export async function startEmulatedCameras(
  options: EmulatedCameraOptions = {},
): Promise<EmulatedCameras> {
  const cameras = await startCameraProcess(options);
  if (!options.onvif) return cameras;
  let onvif: EmulatedOnvif;
  try {
    onvif = await startEmulatedOnvif({
      ...options.onvif,
      host: options.host ?? '127.0.0.1',
      rtspUrls: cameras.urls,
      startedAt: cameras.startedAt,
      motion: options.motion ?? [],
      ...(options.size ? { size: options.size } : {}),
      fps: options.fps ?? 25,
    });
  } catch (err) {
    await cameras.stop();
    throw err;
  }
  // A camera whose video died is a camera that is off: its ONVIF side goes too.
  void cameras.exited.then(() => onvif.stop());
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= Promise.all([onvif.stop(), cameras.stop()]).then(() => undefined);
    return stopping;
  };
  return { ...cameras, onvif, stop };
}
