import { ThresholdError, UserError } from '../errors.js';
import { redactUrl } from '../log.js';
import { AnswerError, type AnswerSource, type Field } from './answers.js';
import {
  cameraHost,
  cameraPassword,
  cameraPort,
  cameraProfile,
  cameraUser,
  parseHost,
  parsePort,
} from './fields.js';
import { adviseOnStream, describeStream, type StreamAdvice } from './stream-advice.js';
import type { StreamReport } from './stream-probe.js';

/**
 * Finds the camera, logs in, picks a profile and probes its stream. The ONVIF client is
 * passed in (`OnvifAccess`): the command hands over the real one from `hal/linux/onvif`,
 * so this step knows ONVIF only by these few shapes.
 */

export interface FoundCamera {
  readonly address: string;
  readonly port: number;
  readonly xaddr: string;
  readonly name?: string;
  readonly hardware?: string;
}

export interface CameraProfileInfo {
  readonly token: string;
  readonly name: string;
  readonly encoding: string;
  readonly width?: number;
  readonly height?: number;
  readonly fps?: number;
}

export interface OnvifConnection {
  readonly profiles: readonly CameraProfileInfo[];
  /** The profile's RTSP URI, without credentials. */
  streamUri(profileToken?: string): Promise<string>;
  close(): Promise<void>;
}

export interface OnvifAccess {
  discover(options: {
    timeoutMs: number;
    signal?: AbortSignal;
    port?: number;
    address?: string;
    interfaceAddress?: string;
  }): Promise<readonly FoundCamera[]>;
  connect(options: {
    host: string;
    port: number;
    username: string;
    password: string;
    timeoutMs: number;
    signal?: AbortSignal;
  }): Promise<OnvifConnection>;
  withCredentials(uri: string, username: string, password: string): string;
}

export interface CameraStepOptions {
  /** Look for cameras by WS-Discovery (always, interactively, unless a host is given). */
  readonly discover: boolean;
  readonly discoveryTimeoutMs: number;
  readonly discoveryPort?: number;
  readonly discoveryAddress?: string;
  /** The local address to probe from (default: the system's choice). */
  readonly discoveryInterface?: string;
  readonly connectTimeoutMs: number;
  readonly probeSeconds: number;
  readonly signal?: AbortSignal;
}

export interface CameraStepDeps {
  readonly onvif: OnvifAccess;
  readonly probe: (
    url: string,
    options: { seconds: number; signal?: AbortSignal },
  ) => Promise<StreamReport>;
}

export interface OnvifCameraConfig {
  source: 'onvif';
  host: string;
  port: number;
  username: string;
  password: string;
  profile: string;
}

export interface CameraStepResult {
  readonly camera: OnvifCameraConfig;
  readonly report: StreamReport;
  readonly advice: readonly StreamAdvice[];
}

const DEFAULT_ONVIF_PORT = 80;

export async function cameraStep(
  deps: CameraStepDeps,
  source: AnswerSource,
  options: CameraStepOptions,
): Promise<CameraStepResult> {
  let { host, port } = await chooseHost(deps, source, options);
  let username = await source.get(cameraUser);
  let password = await source.get(cameraPassword);
  let session: OnvifConnection;
  for (;;) {
    try {
      source.say(`Connecting to the camera at ${host}:${port} …`);
      session = await deps.onvif.connect({
        host,
        port,
        username,
        password,
        timeoutMs: options.connectTimeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      break;
    } catch (err) {
      const code = err instanceof ThresholdError ? err.code : '';
      const where = `${host}:${port}`;
      if (code === 'onvif_auth') {
        const problem = `the camera at ${where} refused the user name or password`;
        if (!source.interactive) {
          throw new UserError(
            'camera_auth',
            `${problem}: check --camera-user and --camera-password`,
          );
        }
        username = await source.again(cameraUser, problem);
        password = await source.ask(cameraPassword);
        continue;
      }
      const problem = connectProblem(code, where);
      if (!problem) throw err;
      if (!source.interactive) {
        throw new UserError(
          code.replace('onvif_', 'camera_'),
          `${problem}: check --camera-host and --camera-port`,
        );
      }
      host = await source.again(cameraHost, problem);
      port = await source.ask(cameraPort(port));
    }
  }
  try {
    return await profileAndStream(deps, source, options, session, {
      host,
      port,
      username,
      password,
    });
  } finally {
    await session.close();
  }
}

function connectProblem(code: string, where: string): string | null {
  switch (code) {
    case 'onvif_unreachable':
      return `cannot reach ${where}`;
    case 'onvif_timeout':
      return `${where} did not answer in time`;
    case 'onvif_not_onvif':
      return `${where} does not answer as an ONVIF camera (turn ONVIF on in the camera's settings, or check the port)`;
    default:
      return null;
  }
}

async function chooseHost(
  deps: CameraStepDeps,
  source: AnswerSource,
  options: CameraStepOptions,
): Promise<{ host: string; port: number }> {
  const searching = source.interactive || options.discover;
  // A host given as a flag skips the search; otherwise search when asked or interactive.
  if (!source.has(cameraHost) && !searching) {
    throw new UserError(
      'provision_missing',
      'missing --camera-host (or --discover to find the camera on the network)',
    );
  }
  if (source.has(cameraHost)) {
    const host = await source.get(cameraHost);
    return { host, port: await source.get(cameraPort(DEFAULT_ONVIF_PORT)) };
  }
  source.say(`Looking for ONVIF cameras (${Math.round(options.discoveryTimeoutMs / 1000)} s) …`);
  const found = await deps.onvif.discover({
    timeoutMs: options.discoveryTimeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.discoveryPort !== undefined ? { port: options.discoveryPort } : {}),
    ...(options.discoveryAddress !== undefined ? { address: options.discoveryAddress } : {}),
    ...(options.discoveryInterface !== undefined
      ? { interfaceAddress: options.discoveryInterface }
      : {}),
  });
  if (found.length > 0) {
    source.say(found.map((camera, i) => `  ${i + 1}) ${describeFound(camera)}`).join('\n'));
  } else {
    source.say('  no camera answered');
  }
  if (!source.interactive) {
    const only = found[0];
    if (found.length === 1 && only) {
      return { host: only.address, port: await source.get(cameraPort(only.port)) };
    }
    throw new UserError(
      'camera_discovery',
      found.length === 0
        ? 'no ONVIF camera answered discovery: give its address with --camera-host'
        : `${found.length} ONVIF cameras answered discovery: choose one with --camera-host`,
    );
  }
  const picked = await source.get(pickCamera(found));
  return {
    host: picked.host,
    port: picked.port ?? (await source.get(cameraPort(DEFAULT_ONVIF_PORT))),
  };
}

/** The discovered camera by its number, or a host (and port) typed in. */
function pickCamera(found: readonly FoundCamera[]): Field<{ host: string; port?: number }> {
  return {
    flag: cameraHost.flag,
    label:
      found.length > 0
        ? 'Camera: its number in the list, or an address (host or host:port)'
        : 'Camera address (host or host:port)',
    ...(found.length > 0 ? { default: '1' } : {}),
    parse: (text) => {
      const answer = text.trim();
      if (/^\d+$/.test(answer) && found.length > 0) {
        const camera = found[Number(answer) - 1];
        if (!camera) throw new AnswerError(`choose a number from 1 to ${found.length}`);
        return { host: camera.address, port: camera.port };
      }
      const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(answer);
      if (withPort) {
        return { host: parseHost(withPort[1] ?? ''), port: parsePort(withPort[2] ?? '') };
      }
      return { host: parseHost(answer) };
    },
  };
}

function describeFound(camera: FoundCamera): string {
  const label = [camera.name, camera.hardware].filter(Boolean).join(' ');
  return `${camera.address}:${camera.port}${label ? `  ${label}` : ''}`;
}

async function profileAndStream(
  deps: CameraStepDeps,
  source: AnswerSource,
  options: CameraStepOptions,
  session: OnvifConnection,
  login: { host: string; port: number; username: string; password: string },
): Promise<CameraStepResult> {
  const profiles = session.profiles;
  if (profiles.length === 0) {
    throw new UserError('camera_no_profile', 'the camera offers no media profile to stream');
  }
  source.say(
    `The camera's profiles:\n${profiles
      .map((p, i) => `  ${i + 1}) ${p.token}  ${describeProfile(p)}`)
      .join('\n')}`,
  );
  const best = bestProfile(profiles);
  const choices = profiles.map((p) => ({ token: p.token, label: describeProfile(p) }));
  let token = await source.get(cameraProfile(choices, best.token));
  for (;;) {
    const problem = await tryStream(deps, source, options, session, token, login);
    if (typeof problem !== 'string') {
      return {
        camera: { source: 'onvif', ...login, profile: token },
        report: problem.report,
        advice: problem.advice,
      };
    }
    if (!source.interactive) {
      throw new UserError('camera_stream', `${problem}: check --camera-profile`);
    }
    token = await source.again(cameraProfile(choices, best.token), problem);
  }
}

/** The report of the profile's stream, or what went wrong, in words. */
async function tryStream(
  deps: CameraStepDeps,
  source: AnswerSource,
  options: CameraStepOptions,
  session: OnvifConnection,
  token: string,
  login: { username: string; password: string },
): Promise<{ report: StreamReport; advice: StreamAdvice[] } | string> {
  let uri: string;
  try {
    uri = await session.streamUri(token);
  } catch (err) {
    if (err instanceof ThresholdError)
      return `the camera gives no stream for profile ${token} (${err.message})`;
    throw err;
  }
  source.say(
    `Probing ${redactUrl(uri)} for ${options.probeSeconds} s (codec, size, keyframes, B-frames, audio) …`,
  );
  let report: StreamReport;
  try {
    report = await deps.probe(deps.onvif.withCredentials(uri, login.username, login.password), {
      seconds: options.probeSeconds,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if (err instanceof ThresholdError)
      return `the stream of profile ${token} cannot be read: ${err.message}`;
    throw err;
  }
  const advice = adviseOnStream(report);
  source.say(`  ${describeStream(report)}`);
  for (const item of advice) {
    source.say(`  ! Warning: ${item.problem}.\n    On the camera: ${item.fix}.`);
  }
  return { report, advice };
}

function describeProfile(p: CameraProfileInfo): string {
  const size = p.width && p.height ? ` ${p.width}x${p.height}` : '';
  const fps = p.fps ? ` ${p.fps} fps` : '';
  return `${p.name} (${p.encoding || 'no video'}${size}${fps})`;
}

/** The largest H.264 profile; else the largest with video; else the first. */
export function bestProfile(profiles: readonly CameraProfileInfo[]): CameraProfileInfo {
  const area = (p: CameraProfileInfo) => (p.width ?? 0) * (p.height ?? 0);
  const ranked = [...profiles].sort((a, b) => {
    const h264 =
      Number(b.encoding.toUpperCase() === 'H264') - Number(a.encoding.toUpperCase() === 'H264');
    return h264 !== 0 ? h264 : area(b) - area(a);
  });
  const first = ranked[0];
  if (!first) throw new RangeError('no profiles');
  return first;
}
