import type { Config } from '../../config/schema.js';
import { ThresholdError } from '../../errors.js';
import type { OnvifAccess } from '../../provision/camera-step.js';
import { adviseOnStream, describeStream } from '../../provision/stream-advice.js';
import type { StreamReport } from '../../provision/stream-probe.js';
import type { Check, Finding } from '../check.js';

/** The camera settings the check reads (the config's `camera`). */
export type CameraSettings = Config['camera'];

export interface CameraCheckDeps {
  readonly onvif: OnvifAccess;
  readonly probe: (
    url: string,
    options: { seconds: number; signal?: AbortSignal },
  ) => Promise<StreamReport>;
  readonly probeSeconds: number;
  readonly connectTimeoutMs: number;
}

/**
 * The camera answers (ONVIF login, the profile's stream address), and its stream is what
 * the agent records well: H.264, keyframes at most 4 s apart, no B-frames. Settings that
 * hurt are warnings, with what to change on the camera.
 */
export function cameraCheck(camera: CameraSettings, deps: CameraCheckDeps): Check {
  return {
    id: 'camera',
    title: 'camera',
    run: async (signal) => {
      if (camera.source === 'emulated') {
        return { status: 'skip', detail: 'emulated camera: nothing to reach' };
      }
      let url: string;
      let where: string;
      if (camera.source === 'rtsp') {
        url = camera.url;
        where = 'the camera';
      } else {
        where = `the camera at ${camera.host}:${camera.port}`;
        const found = await onvifStreamUrl(camera, deps, signal);
        if (typeof found !== 'string') return found;
        url = found;
      }
      let report: StreamReport;
      try {
        report = await deps.probe(url, { seconds: deps.probeSeconds, signal });
      } catch (err) {
        if (!(err instanceof ThresholdError)) throw err;
        return {
          status: 'fail',
          detail: `${where}: ${err.message}`,
          fix: streamFix(err.code, camera.source),
        };
      }
      const advice = adviseOnStream(report);
      const described = describeStream(report);
      if (advice.length === 0) return { status: 'ok', detail: `${where}: ${described}` };
      return {
        status: 'warn',
        detail: `${where}: ${described}; ${advice.map((a) => a.problem).join('; ')}`,
        fix: `on the camera: ${advice.map((a) => a.fix).join('; ')}`,
      };
    },
  };
}

/** The stream URL with credentials, or the finding that says why there is none. */
async function onvifStreamUrl(
  camera: Extract<CameraSettings, { source: 'onvif' }>,
  deps: CameraCheckDeps,
  signal: AbortSignal,
): Promise<string | Finding> {
  let session: Awaited<ReturnType<OnvifAccess['connect']>>;
  try {
    session = await deps.onvif.connect({
      host: camera.host,
      port: camera.port,
      username: camera.username,
      password: camera.password,
      timeoutMs: deps.connectTimeoutMs,
      signal,
    });
  } catch (err) {
    if (!(err instanceof ThresholdError)) throw err;
    return { status: 'fail', detail: err.message, fix: onvifFix(err.code) };
  }
  try {
    if (camera.profile && !session.profiles.some((p) => p.token === camera.profile)) {
      return {
        status: 'fail',
        detail: `the camera has no profile ${camera.profile} (it has ${session.profiles.map((p) => p.token).join(', ')})`,
        fix: 'set camera.profile to one of those, or run threshold provision --force',
      };
    }
    const uri = await session.streamUri(camera.profile);
    return deps.onvif.withCredentials(uri, camera.username, camera.password);
  } catch (err) {
    if (!(err instanceof ThresholdError)) throw err;
    return { status: 'fail', detail: err.message, fix: 'check the camera’s media profiles' };
  } finally {
    await session.close();
  }
}

function onvifFix(code: string): string {
  switch (code) {
    case 'onvif_auth':
      return 'set camera.username and camera.password to the camera’s ONVIF account';
    case 'onvif_not_onvif':
      return 'turn ONVIF on in the camera’s settings, or check camera.port';
    default:
      return 'check that the camera is powered and on the network, and camera.host and camera.port';
  }
}

function streamFix(code: string, source: 'rtsp' | 'onvif'): string {
  const credentials =
    source === 'rtsp'
      ? 'the user and password in camera.url'
      : 'camera.username and camera.password';
  switch (code) {
    case 'stream_auth':
      return `check ${credentials}`;
    case 'stream_not_found':
      return source === 'rtsp' ? 'check the path of camera.url' : 'choose another camera.profile';
    case 'ffprobe_missing':
      return 'install ffmpeg, or set ffmpeg.ffprobePath';
    default:
      return 'check that the camera is powered and on the network, and that its RTSP service is on';
  }
}
