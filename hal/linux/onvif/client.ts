import { Agent } from 'node:http';
import type { Cam as OnvifCam } from 'onvif';
import onvif from 'onvif';
import { ThresholdError } from '../../errors.js';
import { redactSecrets } from '../../redact.js';
import {
  type OnvifNotification,
  parsePullMessagesResponse,
  parseTerminationTimes,
} from './notifications.js';

export type { DiscoveredCamera, DiscoveryOptions } from './discovery.js';
export { discoverOnvif } from './discovery.js';
export type { OnvifNotification } from './notifications.js';

/**
 * The one file that wraps the `onvif` client library: callbacks become promises, its
 * objects become our types, and its errors become `OnvifError`s whose messages are built
 * here and never carry a credential. Everything else in Threshold talks ONVIF through
 * this file.
 */

/** A media profile of the camera (ONVIF Media §5.2): what a stream would carry. */
export interface OnvifProfile {
  token: string;
  name: string;
  /** The video encoding, e.g. "H264"; "" when the profile has no video encoder. */
  encoding: string;
  width?: number;
  height?: number;
  fps?: number;
}

export type OnvifErrorCode =
  | 'onvif_unreachable'
  | 'onvif_auth'
  | 'onvif_not_onvif'
  | 'onvif_timeout'
  | 'onvif_no_stream'
  | 'onvif_fault'
  | 'onvif_closed';

/** An ONVIF request failed. The message names the device's host and port, never a secret. */
export class OnvifError extends ThresholdError {
  declare readonly code: OnvifErrorCode;
  constructor(code: OnvifErrorCode, message: string) {
    super(code, message);
  }
}

export interface OnvifConnectOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  /** The whole connection (several requests) and each later request must finish in this. */
  timeoutMs: number;
  signal?: AbortSignal;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
]);

/**
 * A connection to one ONVIF device: its profiles, its stream URIs and its PullPoint
 * event subscription (ONVIF Events §9.1). All its HTTP requests go through one agent, so
 * `close` ends every request in flight, a long poll included.
 */
export class OnvifSession {
  readonly #cam: OnvifCam;
  readonly #agent: Agent;
  readonly #where: string;
  readonly #secrets: readonly string[];
  readonly #timeoutMs: number;
  #closed = false;

  private constructor(
    cam: OnvifCam,
    agent: Agent,
    options: OnvifConnectOptions,
    /** The media profiles, in the camera's order. */
    readonly profiles: readonly OnvifProfile[],
    /** The camera's clock minus ours, ms, to the second (GetSystemDateAndTime). */
    readonly clockOffsetMs: number,
  ) {
    this.#cam = cam;
    this.#agent = agent;
    this.#where = `${options.host}:${options.port}`;
    this.#secrets = [options.password, options.username];
    this.#timeoutMs = options.timeoutMs;
  }

  /**
   * Connects as the library does (GetSystemDateAndTime, GetServices or GetCapabilities,
   * GetProfiles, GetVideoSources) within `timeoutMs`. Rejects with an `OnvifError`, or
   * with the signal's reason when it aborts.
   */
  static async connect(options: OnvifConnectOptions): Promise<OnvifSession> {
    options.signal?.throwIfAborted();
    const agent = new Agent({ keepAlive: false });
    const cam = new onvif.Cam({
      hostname: options.host,
      port: options.port,
      username: options.username,
      password: options.password,
      timeout: options.timeoutMs,
      autoconnect: false,
      // Service addresses on the configured host and port, whatever the camera says it
      // is: a camera behind NAT or with several interfaces often names another address.
      preserveAddress: true,
      agent,
    });
    guardActiveSources(cam);
    const context = {
      where: `${options.host}:${options.port}`,
      secrets: [options.password, options.username],
      timeoutMs: options.timeoutMs,
    };
    // The library connects even when the media requests fail (it only warns): a wrong
    // password on a camera whose capabilities need none shows up here.
    const warnings: unknown[] = [];
    cam.on('warning', (warning) => warnings.push(warning));
    try {
      const started = Date.now();
      await call<unknown>(
        (done) => cam.connect((err) => done(err || null)),
        'connect',
        context,
        options.signal,
      );
      const camTime = cam.timeShift === undefined ? started : cam.timeShift + uptimeMs();
      const profiles = (cam.profiles ?? []).map(toProfile).filter((p) => p !== null);
      const refused = warnings
        .map((warning) => toOnvifError(warning, 'GetProfiles', context))
        .find((error) => error.code === 'onvif_auth');
      if (profiles.length === 0 && refused) throw refused;
      return new OnvifSession(cam, agent, options, profiles, camTime - Date.now());
    } catch (err) {
      agent.destroy();
      throw err;
    }
  }

  /** The RTSP URI of a profile (default: the first), without credentials. */
  async streamUri(profileToken?: string): Promise<string> {
    const profile =
      profileToken === undefined
        ? this.profiles[0]
        : this.profiles.find((p) => p.token === profileToken);
    if (!profile) {
      throw new OnvifError(
        'onvif_no_stream',
        profileToken === undefined
          ? `the ONVIF device at ${this.#where} has no media profile`
          : `the ONVIF device at ${this.#where} has no media profile with the given token`,
      );
    }
    const result = await this.#call<{ uri?: unknown }>(
      (done) =>
        this.#cam.getStreamUri({ protocol: 'RTSP', profileToken: profile.token }, (err, data) =>
          done(err, data),
        ),
      'GetStreamUri',
    );
    return checkedStreamUri(result?.uri, this.#where);
  }

  /**
   * Creates a PullPoint subscription (CreatePullPointSubscription); resolves with when
   * it terminates, in our clock's ms.
   */
  async createPullPoint(): Promise<number> {
    const xml = await this.#call<string>(
      (done) => this.#cam.createPullPointSubscription((err, _data, raw) => done(err, raw)),
      'CreatePullPointSubscription',
    );
    // Its requests (PullMessages, Renew, Unsubscribe) go to the subscription's own
    // address, which the library passes to http.request as is: give it our agent too, so
    // that `close` ends a long poll in flight.
    const address = this.#cam.events.subscription?.subscriptionReference?.address;
    if (address && typeof address === 'object') address.agent = this.#agent;
    return this.#terminationOf(xml, 'CreatePullPointSubscriptionResponse');
  }

  /**
   * One PullMessages long poll (the library asks the camera to wait up to a minute).
   * Rejects with `onvif_timeout` after `deadlineMs`: the caller should then `close` the
   * session, which ends the request.
   */
  async pullMessages(deadlineMs: number, messageLimit = 32): Promise<OnvifNotification[]> {
    const xml = await this.#call<string>(
      (done) => this.#cam.pullMessages({ messageLimit }, (err, _data, raw) => done(err, raw)),
      'PullMessages',
      deadlineMs,
    );
    return parsePullMessagesResponse(xml).catch(() => {
      throw new OnvifError(
        'onvif_not_onvif',
        `the ONVIF device at ${this.#where} answered PullMessages with something else`,
      );
    });
  }

  /** Renews the subscription; resolves with when it now terminates, in our clock's ms. */
  async renew(): Promise<number> {
    const xml = await this.#call<string>(
      (done) => this.#cam.renew({}, (err, _data, raw) => done(err, raw)),
      'Renew',
    );
    return this.#terminationOf(xml, 'RenewResponse');
  }

  /** Ends the subscription on the camera (best effort: the camera may be gone). */
  async unsubscribe(): Promise<void> {
    if (!this.#cam.events.subscription) return;
    await this.#call<unknown>(
      (done) => this.#cam.unsubscribe((err) => done(err), true),
      'Unsubscribe',
    );
  }

  /** Ends every request in flight and releases the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#agent.destroy();
  }

  async #terminationOf(xml: string | undefined, response: string): Promise<number> {
    const times = await parseTerminationTimes(xml ?? '', response).catch(() => null);
    // A camera that leaves the times out gets the library's default term, two minutes.
    return times ? Date.now() + (times.termination - times.current) : Date.now() + 120_000;
  }

  #call<T>(
    run: (done: (err: Error | null | undefined, data?: T) => void) => void,
    what: string,
    timeoutMs = this.#timeoutMs,
  ): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new OnvifError('onvif_closed', `the session with ${this.#where} is closed`),
      );
    }
    return call(run, what, { where: this.#where, secrets: this.#secrets, timeoutMs });
  }
}

/** The URI with the credentials inserted, for ffmpeg only: never log what this returns. */
export function withCredentials(uri: string, username: string, password: string): string {
  const url = new URL(uri);
  // Percent-encoded here (RFC 3986 §3.2.1): the WHATWG setters leave "%" as it is, so a
  // password holding "%" would not survive a decoding on the other side.
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  return url.toString();
}

interface CallContext {
  where: string;
  secrets: readonly string[];
  timeoutMs: number;
}

/** Runs one library call under a deadline and an optional signal. */
function call<T>(
  run: (done: (err: Error | null | undefined, data?: T) => void) => void,
  what: string,
  context: CallContext,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const onAbort = () => settle(() => reject(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            new OnvifError(
              'onvif_timeout',
              `the ONVIF device at ${context.where} did not answer ${what} within ${context.timeoutMs} ms`,
            ),
          ),
        ),
      context.timeoutMs,
    );
    try {
      run((err, data) =>
        settle(() => (err ? reject(toOnvifError(err, what, context)) : resolve(data as T))),
      );
    } catch (err) {
      settle(() => reject(toOnvifError(err, what, context)));
    }
  });
}

/** The library's error as ours. Its text is quoted only after every secret is masked. */
export function toOnvifError(err: unknown, what: string, context: CallContext): OnvifError {
  const { where } = context;
  const code = (err as { code?: unknown } | null)?.code;
  const raw = err instanceof Error ? err.message : String(err);
  const detail = redactSecrets(raw, context.secrets).slice(0, 200);
  if (typeof code === 'string' && NETWORK_CODES.has(code)) {
    return new OnvifError(
      'onvif_unreachable',
      `cannot reach the ONVIF device at ${where} (${code})`,
    );
  }
  if (code === 'ETIMEDOUT' || /network timeout/i.test(raw)) {
    return new OnvifError(
      'onvif_timeout',
      `the ONVIF device at ${where} did not answer ${what} in time`,
    );
  }
  if (/socket hang up/i.test(raw)) {
    return new OnvifError(
      'onvif_unreachable',
      `the ONVIF device at ${where} closed the connection`,
    );
  }
  if (/not ?authori[sz]ed|unauthori[sz]ed|authentication failed|\b401\b/i.test(raw)) {
    return new OnvifError(
      'onvif_auth',
      `the ONVIF device at ${where} refused the username or password`,
    );
  }
  if (/SOAP Fault/i.test(raw)) {
    return new OnvifError('onvif_fault', `the ONVIF device at ${where} refused ${what}: ${detail}`);
  }
  return new OnvifError(
    'onvif_not_onvif',
    `${where} did not answer ${what} as an ONVIF device does: ${detail}`,
  );
}

/**
 * The library's connect ends by matching profiles to video sources, and throws from
 * inside an HTTP callback (an uncaught exception) when none matches. Our own profile
 * choice does not need that match, so a camera without one still connects.
 */
function guardActiveSources(cam: OnvifCam): void {
  const original = cam.getActiveSources.bind(cam);
  cam.getActiveSources = () => {
    try {
      original();
    } catch {
      // The library's active-source bookkeeping only; profiles are read by toProfile.
      cam.activeSources = [];
    }
  };
}

function toProfile(raw: unknown): OnvifProfile | null {
  const profile = raw as {
    $?: { token?: unknown };
    name?: unknown;
    videoEncoderConfiguration?: {
      encoding?: unknown;
      resolution?: { width?: unknown; height?: unknown };
      rateControl?: { frameRateLimit?: unknown };
    };
  } | null;
  // The library turns numeric-looking text into numbers ("1" → 1): tokens are text again.
  const rawToken = profile?.$?.token;
  const token = typeof rawToken === 'number' ? String(rawToken) : rawToken;
  if (typeof token !== 'string' || token === '') return null;
  const encoder = profile?.videoEncoderConfiguration;
  const result: OnvifProfile = {
    token,
    name: String(profile?.name ?? token),
    encoding: typeof encoder?.encoding === 'string' ? encoder.encoding : '',
  };
  const width = positive(encoder?.resolution?.width);
  const height = positive(encoder?.resolution?.height);
  const fps = positive(encoder?.rateControl?.frameRateLimit);
  if (width !== undefined) result.width = width;
  if (height !== undefined) result.height = height;
  if (fps !== undefined) result.fps = fps;
  return result;
}

function positive(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** An rtsp(s) URI with any credentials the camera put in it removed. */
function checkedStreamUri(raw: unknown, where: string): string {
  let url: URL | undefined;
  try {
    url = typeof raw === 'string' ? new URL(raw.trim()) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'rtsp:' && url.protocol !== 'rtsps:') || url.hostname === '') {
    throw new OnvifError(
      'onvif_no_stream',
      `the ONVIF device at ${where} gave no RTSP stream address`,
    );
  }
  url.username = '';
  url.password = '';
  return url.toString();
}

/** The library's own clock for WS-Security timestamps: process uptime, in ms. */
function uptimeMs(): number {
  return process.uptime() * 1000;
}
