import type { CameraSource, CameraStream } from '../interfaces.js';
import type { FrameSize, MotionWindow } from './camera-args.js';
import { type CameraProcess, startCameraProcess } from './camera-process.js';

/** What the emulated camera shows (the config's `camera` block with `source: emulated`). */
export interface EmulatedCameraSettings {
  width: number;
  height: number;
  fps: number;
  keyframeSeconds: number;
  audio: boolean;
  /** When an object crosses the picture, seconds after `open`. */
  motion: readonly MotionWindow[];
}

/**
 * A camera for development and tests: `open` starts one emulated RTSP camera on a free
 * loopback port and `close` stops it, so nothing outlives the agent.
 */
export class EmulatedCamera implements CameraSource {
  readonly kind = 'emulated';
  readonly #settings: EmulatedCameraSettings;
  readonly #start: typeof startCameraProcess;
  #running: Promise<CameraProcess> | undefined;

  constructor(deps: { settings: EmulatedCameraSettings; start?: typeof startCameraProcess }) {
    this.#settings = deps.settings;
    this.#start = deps.start ?? startCameraProcess;
  }

  /** Starts the camera, or returns the running one's stream. */
  async open(signal: AbortSignal): Promise<CameraStream> {
    signal.throwIfAborted();
    if (this.#running === undefined) {
      const size: FrameSize = { width: this.#settings.width, height: this.#settings.height };
      const starting = this.#start({
        port: 0,
        cameras: 1,
        size,
        fps: this.#settings.fps,
        keyframeSeconds: this.#settings.keyframeSeconds,
        audio: this.#settings.audio,
        motion: this.#settings.motion,
        signal,
      });
      this.#running = starting;
      // A failed start, or a camera that dies, leaves it closed, so the next `open` starts
      // a new one. The failure itself reaches the caller of `open` below.
      const forget = () => {
        if (this.#running === starting) this.#running = undefined;
      };
      starting.then((cameras) => cameras.exited.then(forget), forget);
    }
    const cameras = await this.#running;
    const url = cameras.urls[0] as string;
    // The URL is on loopback and holds no credentials.
    return { url, displayUrl: url };
  }

  async close(): Promise<void> {
    const running = this.#running;
    this.#running = undefined;
    if (running === undefined) return;
    // A start that failed has nothing to stop; its caller got the error.
    const cameras = await running.catch(() => undefined);
    await cameras?.stop();
  }
}
