import { parseArgs } from 'node:util';
import { UserError } from '../../agent/errors.js';
import {
  CameraOptionError,
  type CameraSettings,
  emulatedCameraArgs,
  parseFrameSize,
  parseMotionSchedule,
} from './camera-args.js';
import { type EmulatedCameras, startEmulatedCameras } from './emulated-camera.js';
import {
  DEFAULT_ONVIF_PASSWORD,
  DEFAULT_ONVIF_USERNAME,
  type OnvifEmulationOptions,
} from './onvif/emulated-onvif.js';

export const USAGE = `Usage: npm run camera -- [options]

Serves emulated doorbell cameras over RTSP (H.264, burnt-in UTC clock, still scene with
scripted motion) until Ctrl-C.

Options:
  --port N               port to listen on (default 8554; 0 picks a free one)
  --host H               address to listen on (default 127.0.0.1)
  --cameras K            how many cameras, at /cam1 … /camK (default 1)
  --size WxH             one size for all (default: 1920x1080, 1280x720, alternating)
  --fps N                frames per second (default 25)
  --keyframe-seconds S   seconds between keyframes (default 1)
  --audio                add G.711 mu-law 8 kHz audio
  --motion SCHEDULE      when an object crosses the picture, seconds after start,
                         e.g. "20-25,60-64"
  --onvif                add an ONVIF device service to each camera (GetStreamUri,
                         PullPoint motion events in step with --motion, WS-Discovery)
  --onvif-port N         camera K's device service listens on N+K-1 (default 8000; 0 picks
                         free ports)
  --discovery-port N     WS-Discovery port (default 3702)
  --username U           the ONVIF account (default ${DEFAULT_ONVIF_USERNAME})
  --password P           its password (default ${DEFAULT_ONVIF_PASSWORD})
  --onvif-faults         start with the event service failing; SIGUSR1 toggles it
  -h, --help             show this help`;

/** The flag for each setting. */
const FLAGS: Record<keyof CameraSettings, string> = {
  host: 'host',
  port: 'port',
  cameras: 'cameras',
  size: 'size',
  fps: 'fps',
  keyframeSeconds: 'keyframe-seconds',
  audio: 'audio',
  motion: 'motion',
};

export type CameraCommand =
  | { kind: 'help' }
  | { kind: 'run'; settings: CameraSettings; onvif?: OnvifEmulationOptions };

/** Parses the command line; a bad flag is a `UserError` naming it. */
export function parseCameraCli(argv: readonly string[]): CameraCommand {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        cameras: { type: 'string' },
        size: { type: 'string' },
        fps: { type: 'string' },
        'keyframe-seconds': { type: 'string' },
        audio: { type: 'boolean' },
        motion: { type: 'string' },
        onvif: { type: 'boolean' },
        'onvif-port': { type: 'string' },
        'discovery-port': { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        'onvif-faults': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    // parseArgs names the flag in the first sentence; the rest is advice for positionals.
    const message = err instanceof Error ? err.message : String(err);
    throw new UserError('camera_flag_invalid', (message.split('. ')[0] ?? message).trim());
  }
  if (values.help) return { kind: 'help' };
  const settings: CameraSettings = {
    port: flagNumber(values, 'port') ?? 8554,
    host: flagString(values, 'host'),
    cameras: flagNumber(values, 'cameras'),
    fps: flagNumber(values, 'fps'),
    keyframeSeconds: flagNumber(values, 'keyframe-seconds'),
    audio: values.audio === true,
  };
  const size = flagString(values, 'size');
  const motion = flagString(values, 'motion');
  try {
    if (size !== undefined) settings.size = parseFrameSize(size);
    if (motion !== undefined) settings.motion = parseMotionSchedule(motion);
    // The same checks the script's arguments get, reported before anything starts.
    emulatedCameraArgs(settings);
  } catch (err) {
    if (!(err instanceof CameraOptionError)) throw err;
    throw new UserError('camera_flag_invalid', `--${FLAGS[err.option]} ${err.problem}`);
  }
  const onvif = parseOnvifFlags(values, settings.cameras ?? 1);
  return onvif ? { kind: 'run', settings, onvif } : { kind: 'run', settings };
}

const ONVIF_ONLY = ['onvif-port', 'discovery-port', 'username', 'password', 'onvif-faults'];

function parseOnvifFlags(
  values: Record<string, unknown>,
  cameras: number,
): OnvifEmulationOptions | undefined {
  if (values.onvif !== true) {
    const stray = ONVIF_ONLY.find((name) => values[name] !== undefined);
    if (stray) throw new UserError('camera_flag_invalid', `--${stray} needs --onvif`);
    return undefined;
  }
  const first = flagNumber(values, 'onvif-port') ?? 8000;
  const discoveryPort = flagNumber(values, 'discovery-port') ?? 3702;
  for (const [name, port] of [
    ['onvif-port', first === 0 ? 0 : first + cameras - 1],
    ['discovery-port', discoveryPort],
  ] as const) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UserError('camera_flag_invalid', `--${name} must be a port from 0 to 65535`);
    }
  }
  const options: OnvifEmulationOptions = {
    ports: Array.from({ length: cameras }, (_, i) => (first === 0 ? 0 : first + i)),
    discoveryPort,
    faulting: values['onvif-faults'] === true,
  };
  const username = flagString(values, 'username');
  const password = flagString(values, 'password');
  if (username !== undefined) options.username = username;
  if (password !== undefined) options.password = password;
  return options;
}

function flagString(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function flagNumber(values: Record<string, unknown>, name: string): number | undefined {
  const text = flagString(values, name);
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text)) {
    throw new UserError('camera_flag_invalid', `--${name} must be a number, got "${text}"`);
  }
  return Number(text);
}

/** What a person starting the cameras needs to know. */
export function describeCameras(cameras: EmulatedCameras, settings: CameraSettings): string {
  const lines = [`Emulated cameras up (started ${new Date(cameras.startedAt).toISOString()}):`];
  for (const url of cameras.urls) lines.push(`  ${url}`);
  if (settings.motion && settings.motion.length > 0) {
    const spans = settings.motion.map((w) => `${w.start}-${w.end} s`).join(', ');
    lines.push(`Motion: ${spans} after start.`);
  }
  if (cameras.onvif) {
    lines.push(`ONVIF device services (WS-Discovery on port ${cameras.onvif.discoveryPort}):`);
    for (const device of cameras.onvif.devices) lines.push(`  ${device.xaddr}`);
    lines.push('SIGUSR1 toggles the event service fault switch.');
  }
  lines.push('Pull with: ffplay -rtsp_transport tcp URL   (Ctrl-C stops the cameras)');
  return lines.join('\n');
}

/**
 * Runs the CLI until SIGINT or SIGTERM; returns the exit code: 2 for a bad flag, 1 when
 * the cameras fail or die, 130/143 after SIGINT/SIGTERM, as shells report them.
 */
export async function runCameraCli(argv: readonly string[]): Promise<number> {
  let command: CameraCommand;
  try {
    command = parseCameraCli(argv);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    process.stderr.write(`camera: ${err.message}\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // Listening before the URLs are printed: whoever reads them may signal at once.
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      resolve(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  const cameras = await startEmulatedCameras({
    ...command.settings,
    ...(command.onvif ? { onvif: command.onvif } : {}),
  });
  let faulting = command.onvif?.faulting === true;
  const toggleFaults = () => {
    faulting = !faulting;
    cameras.onvif?.setFaulting(faulting);
    process.stderr.write(`camera: ONVIF event service ${faulting ? 'failing' : 'working'}\n`);
  };
  if (cameras.onvif) process.on('SIGUSR1', toggleFaults);
  process.stdout.write(`${describeCameras(cameras, command.settings)}\n`);
  let stopping = false;
  const died = cameras.exited.then((exit) => {
    if (!stopping) {
      process.stderr.write(`camera: the camera server exited (${exit.signal ?? exit.code})\n`);
    }
    return 1;
  });
  const code = await Promise.race([stopped, died]);
  stopping = true;
  process.off('SIGUSR1', toggleFaults);
  await cameras.stop();
  return code;
}
