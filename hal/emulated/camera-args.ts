import { UserError } from '../errors.js';

/** A span of scripted motion, in seconds after the cameras start. */
export interface MotionWindow {
  readonly start: number;
  readonly end: number;
}

/** A picture size in pixels; both even, as I420 and H.264 need. */
export interface FrameSize {
  readonly width: number;
  readonly height: number;
}

/** What the emulated cameras show; every field has the script's default when absent. */
export interface CameraSettings {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 or absent picks a free port. */
  port?: number;
  /** How many cameras, served at /cam1, /cam2, …; default 1. */
  cameras?: number;
  /** One size for every camera; by default camera 1 is 1920x1080, camera 2 1280x720, … */
  size?: FrameSize;
  /** Frames per second; default 25. */
  fps?: number;
  /** Seconds from one keyframe to the next; default 1. */
  keyframeSeconds?: number;
  /** Adds G.711 µ-law audio at 8 kHz, as many doorbells send. */
  audio?: boolean;
  /** When a large object crosses the otherwise still picture. */
  motion?: readonly MotionWindow[];
}

/** A setting out of range; `option` names it, so that the CLI can name the flag. */
export class CameraOptionError extends UserError {
  constructor(
    readonly option: keyof CameraSettings,
    readonly problem: string,
  ) {
    super('camera_option_invalid', `${option} ${problem}`);
  }
}

const MOTION_PART = /^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$/;

/** Parses a motion schedule such as "20-25,60-64" (seconds after start). */
export function parseMotionSchedule(text: string): MotionWindow[] {
  if (text.trim() === '') return [];
  return text.split(',').map((part) => {
    const match = MOTION_PART.exec(part);
    if (!match) {
      throw new CameraOptionError('motion', `window "${part}" is not START-END`);
    }
    const window = { start: Number(match[1]), end: Number(match[2]) };
    checkMotionWindow(window);
    return window;
  });
}

/** The schedule in the form `parseMotionSchedule` reads and the script takes. */
export function formatMotionSchedule(windows: readonly MotionWindow[]): string {
  return windows.map((w) => `${w.start}-${w.end}`).join(',');
}

/** Parses "1280x720". */
export function parseFrameSize(text: string): FrameSize {
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(text.trim());
  if (!match) throw new CameraOptionError('size', `"${text}" is not WxH`);
  const size = { width: Number(match[1]), height: Number(match[2]) };
  checkFrameSize(size);
  return size;
}

/**
 * The script's arguments for these settings, after checking them: a pure function, so
 * tests read what is spawned. `--exit-on-stdin-close` ties the script's life to ours.
 */
export function emulatedCameraArgs(settings: CameraSettings): string[] {
  const args = ['--exit-on-stdin-close'];
  args.push('--host', settings.host ?? '127.0.0.1');
  args.push('--port', String(checkInt('port', settings.port ?? 0, 0, 65535)));
  args.push('--cameras', String(checkInt('cameras', settings.cameras ?? 1, 1, 16)));
  if (settings.size) {
    checkFrameSize(settings.size);
    args.push('--size', `${settings.size.width}x${settings.size.height}`);
  }
  args.push('--fps', String(checkInt('fps', settings.fps ?? 25, 1, 60)));
  const keyframeSeconds = settings.keyframeSeconds ?? 1;
  if (!(keyframeSeconds > 0 && keyframeSeconds <= 60)) {
    throw invalid('keyframeSeconds', 'must be greater than 0 and at most 60');
  }
  args.push('--keyframe-seconds', String(keyframeSeconds));
  if (settings.audio) args.push('--audio');
  if (settings.motion && settings.motion.length > 0) {
    for (const window of settings.motion) checkMotionWindow(window);
    args.push('--motion', formatMotionSchedule(settings.motion));
  }
  return args;
}

function checkInt(name: keyof CameraSettings, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function checkFrameSize(size: FrameSize): void {
  const { width, height } = size;
  const ok =
    Number.isInteger(width) &&
    Number.isInteger(height) &&
    width % 2 === 0 &&
    height % 2 === 0 &&
    width >= 160 &&
    width <= 3840 &&
    height >= 120 &&
    height <= 2160;
  if (!ok) throw invalid('size', 'must be even, from 160x120 to 3840x2160');
}

function checkMotionWindow(window: MotionWindow): void {
  const { start, end } = window;
  if (!(Number.isFinite(start) && Number.isFinite(end) && start >= 0 && end > start)) {
    throw invalid('motion', `window ${start}-${end} must start at 0 or later and end after it`);
  }
}

function invalid(name: keyof CameraSettings, problem: string): CameraOptionError {
  return new CameraOptionError(name, problem);
}
