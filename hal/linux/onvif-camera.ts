import type { CameraSource, CameraStream } from '../interfaces.js';
import { redactUrl } from '../redact.js';
import { OnvifError, type OnvifProfile, OnvifSession, withCredentials } from './onvif/client.js';

/** Where the ONVIF camera is and how to log in (the config's `camera` with `source: onvif`). */
export interface OnvifCameraSettings {
  host: string;
  port: number;
  username: string;
  password: string;
  /** A media profile's token or name; default the camera's first profile. */
  profile?: string;
}

/**
 * A network camera found through its ONVIF device service: every `open` (each start or
 * restart of the recorder) connects and asks for the stream address again, so a camera
 * whose RTSP address or URI changed is followed. The camera runs on its own, so `close`
 * has nothing to release.
 */
export class OnvifCamera implements CameraSource {
  readonly kind = 'onvif';
  readonly #settings: OnvifCameraSettings;
  readonly #timeoutMs: number;

  /** `settings` come from the validated config; the password never leaves this object but in `url`. */
  constructor(deps: { settings: OnvifCameraSettings; timeoutMs?: number }) {
    this.#settings = deps.settings;
    this.#timeoutMs = deps.timeoutMs ?? 10_000;
  }

  async open(signal: AbortSignal): Promise<CameraStream> {
    signal.throwIfAborted();
    const { host, port, username, password } = this.#settings;
    const session = await OnvifSession.connect({
      host,
      port,
      username,
      password,
      timeoutMs: this.#timeoutMs,
      signal,
    });
    try {
      const profile = this.#profile(session.profiles);
      const uri = await session.streamUri(profile.token);
      // ffmpeg logs in to RTSP with the same account (ONVIF cameras share one user base).
      const url = username === '' ? uri : withCredentials(uri, username, password);
      return { url, displayUrl: redactUrl(uri) };
    } finally {
      await session.close();
    }
  }

  async close(): Promise<void> {}

  #profile(profiles: readonly OnvifProfile[]): OnvifProfile {
    const wanted = this.#settings.profile;
    const profile =
      wanted === undefined
        ? profiles[0]
        : (profiles.find((p) => p.token === wanted) ?? profiles.find((p) => p.name === wanted));
    if (!profile) {
      const where = `${this.#settings.host}:${this.#settings.port}`;
      throw new OnvifError(
        'onvif_no_stream',
        wanted === undefined
          ? `the ONVIF device at ${where} has no media profile`
          : `the ONVIF device at ${where} has no media profile "${wanted}" (it has: ${profiles.map((p) => p.name).join(', ') || 'none'})`,
      );
    }
    return profile;
  }
}
