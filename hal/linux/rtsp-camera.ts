import type { CameraSource, CameraStream } from '../interfaces.js';
import { redactUrl } from '../redact.js';

/**
 * A network camera at a configured RTSP URL. The camera runs on its own: `open` only
 * tells the recorder where to pull, and `close` has nothing to release.
 */
export class RtspCamera implements CameraSource {
  readonly kind = 'rtsp';
  readonly #url: string;

  /** `url` comes from the validated config and may hold credentials. */
  constructor(deps: { url: string }) {
    this.#url = deps.url;
  }

  async open(signal: AbortSignal): Promise<CameraStream> {
    signal.throwIfAborted();
    return { url: this.#url, displayUrl: redactUrl(this.#url) };
  }

  async close(): Promise<void> {}
}
