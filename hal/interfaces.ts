/**
 * The hardware the agent runs on, as small capability interfaces. `agent/` imports these
 * types only; the composition root (`agent/compose.ts`) picks the `linux` or `emulated`
 * implementation from the config. Each interface has one contract suite
 * (`hal/contract/*.contract.ts`) run against every implementation.
 */

/** Where time comes from. Everything that reads the time takes a `Clock`. */
export interface Clock {
  /** Wall-clock time, ms since the Unix epoch (UTC). May jump when the clock is set. */
  now(): number;
  /** Monotonic time in ms from an arbitrary origin; never goes back. For timeouts. */
  monotonic(): number;
}

/** A stream the recorder can pull with ffmpeg. */
export interface CameraStream {
  /** The URL given to ffmpeg (may hold credentials: never log it). */
  readonly url: string;
  /** The same URL with credentials stripped, fit for logs and status. */
  readonly displayUrl: string;
}

/**
 * A camera. `open` makes its stream available (an emulated camera starts its RTSP
 * server) and tells where to pull it; `close` releases whatever `open` started.
 */
export interface CameraSource {
  /** `onvif`: the stream address is asked of the camera's ONVIF service at every `open`. */
  readonly kind: 'rtsp' | 'onvif' | 'emulated';
  open(signal: AbortSignal): Promise<CameraStream>;
  close(): Promise<void>;
}

/** A span of motion, wall-clock ms. `end` is null while the motion goes on. */
export interface MotionEvent {
  readonly start: number;
  readonly end: number | null;
  /** How strong the motion was where the source knows (mean frame difference, 0–100), else 1. */
  readonly score: number;
  readonly source: 'scene' | 'onvif' | 'pir' | 'emulated';
}

/**
 * A motion sensor beside the video (a PIR sensor, a camera's event service, a script).
 * Scene-change detection on the video itself lives in the recorder, not here.
 */
export interface MotionSource {
  readonly kind: MotionEvent['source'];
  start(signal: AbortSignal, onEvent: (event: MotionEvent) => void): Promise<void>;
  stop(): Promise<void>;
}

/** What the owner's indicator light shows, from least to most urgent. */
export type IndicatorState = 'off' | 'recording' | 'paused' | 'pending-request' | 'error';

/** The indicator light (an LED on real hardware). */
export interface Indicator {
  set(state: IndicatorState): Promise<void>;
  /** The state last set. */
  current(): IndicatorState;
}

/** The medium that holds footage (an SD card on real hardware). */
export interface Storage {
  /** Bytes available to an unprivileged writer on the filesystem holding `path`. */
  freeBytes(path: string): Promise<number>;
  /** Flushes a file's data and metadata to the medium. */
  fsyncFile(path: string): Promise<void>;
  /** Flushes a directory, making creations, renames and deletions in it durable. */
  fsyncDir(path: string): Promise<void>;
}
