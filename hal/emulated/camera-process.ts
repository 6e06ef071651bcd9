import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ThresholdError } from '../errors.js';
import { type CameraSettings, emulatedCameraArgs } from './camera-args.js';

export type { CameraSettings, FrameSize, MotionWindow } from './camera-args.js';

/** Debian's interpreter: the one with the GObject bindings for GStreamer's RTSP server. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

export interface CameraProcessOptions extends CameraSettings {
  /** Aborts the start (the script is killed). Once started, `stop()` ends the cameras. */
  signal?: AbortSignal;
  pythonPath?: string;
  scriptPath?: string;
  /** How long the script may take to listen; default 15 s (GStreamer may scan plugins). */
  readyTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL; default 3 s. */
  stopTimeoutMs?: number;
}

/** How the script ended. */
export interface CameraExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Running emulated cameras. */
export interface CameraProcess {
  readonly port: number;
  /** One RTSP URL per camera: /cam1, /cam2, … */
  readonly urls: string[];
  /** Wall-clock ms when the server started; motion windows count from here. */
  readonly startedAt: number;
  /** Settles when the script has exited, whether by `stop()` or on its own. */
  readonly exited: Promise<CameraExit>;
  /** Terminates the script (SIGTERM, then SIGKILL) and resolves once it has exited. */
  stop(): Promise<void>;
}

/** The emulated cameras failed to start; `stderr` keeps the tail of what the script said. */
export class EmulatedCameraError extends ThresholdError {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super('emulated_camera_failed', stderr.trim() ? `${message}: ${stderr.trim()}` : message);
  }
}

/** The script's first stdout line: parsed as any input from outside. */
const readyLine = z.object({
  event: z.literal('ready'),
  port: z.number().int().min(1).max(65535),
  startedAt: z.number().int().positive(),
  urls: z.array(z.string().startsWith('rtsp://')).min(1),
});

const STDERR_TAIL = 4096;

/**
 * Starts the emulated RTSP cameras (`scripts/camera/emulated-camera.py`, spawned without a
 * shell) and resolves once they listen. The port is bound with SO_REUSEADDR, so the same
 * port can be taken again right after `stop()`.
 */
export async function startCameraProcess(
  options: CameraProcessOptions = {},
): Promise<CameraProcess> {
  const args = [options.scriptPath ?? defaultScriptPath(), ...emulatedCameraArgs(options)];
  options.signal?.throwIfAborted();
  const child = spawn(options.pythonPath ?? DEFAULT_PYTHON, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });
  const exited = new Promise<CameraExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // A spawn failure emits 'error' and no 'exit'.
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const ready = await waitForReady(child, exited, () => stderr, options);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= terminate(child, exited, options.stopTimeoutMs ?? 3000);
    return stopping;
  };
  return { ...ready, exited, stop };
}

function waitForReady(
  child: ChildProcess,
  exited: Promise<CameraExit>,
  stderr: () => string,
  options: CameraProcessOptions,
): Promise<z.infer<typeof readyLine>> {
  const timeoutMs = options.readyTimeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    let settled = false;
    // Why the script is being killed; without one, it exited on its own.
    let failure: { error: unknown } | undefined;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      // Later stdout lines are not ours to read; keep the pipe drained.
      lines.close();
      child.stdout?.resume();
      outcome();
    };
    // The rejection waits for the exit, so that the whole of stderr is in the message.
    const kill = (error: () => unknown) => {
      failure ??= { error: error() };
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => kill(() => new EmulatedCameraError(`no ready line within ${timeoutMs} ms`, stderr())),
      timeoutMs,
    );
    const onAbort = () => kill(() => options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) =>
      finish(() => reject(new EmulatedCameraError(`cannot run ${child.spawnfile}`, err.message))),
    );
    void exited.then(({ code, signal }) => {
      const error =
        failure?.error ??
        new EmulatedCameraError(`exited before ready (${signal ?? `code ${code}`})`, stderr());
      finish(() => reject(error));
    });
    lines.once('line', (line) => {
      const parsed = readyLine.safeParse(safeJson(line));
      if (parsed.success) finish(() => resolve(parsed.data));
      else
        kill(() => new EmulatedCameraError('unexpected first line from the camera script', line));
    });
  });
}

function terminate(
  child: ChildProcess,
  exited: Promise<CameraExit>,
  timeoutMs: number,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return exited.then(() => clearTimeout(timer));
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    // Not JSON: the schema check reports it.
    return undefined;
  }
}

/** In the source tree's scripts/camera, from hal/emulated or from dist/hal/emulated. */
function defaultScriptPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromSource = join(here, '..', '..', 'scripts', 'camera', 'emulated-camera.py');
  const fromDist = join(here, '..', '..', '..', 'scripts', 'camera', 'emulated-camera.py');
  return existsSync(fromSource) || !existsSync(fromDist) ? fromSource : fromDist;
}
