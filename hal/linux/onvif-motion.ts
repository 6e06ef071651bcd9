import type { MotionEvent, MotionSource } from '../interfaces.js';
import { type OnvifNotification, OnvifSession } from './onvif/client.js';

/** What the source reports about its subscription, for the agent's log. */
export interface MotionSourceLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface OnvifMotionDeps {
  settings: { host: string; port: number; username: string; password: string };
  /** Each request but the long poll must finish in this; default 10 s. */
  timeoutMs?: number;
  /**
   * A PullMessages that has not answered in this long means the subscription stopped
   * delivering; default 75 s (the library asks the camera to wait up to 60 s).
   */
  pullDeadlineMs?: number;
  /** Renew when fewer than this many ms of the subscription are left; default 75 s. */
  renewBeforeMs?: number;
  /** Backoff ceiling between attempts to subscribe again; default 5 s. */
  maxBackoffMs?: number;
  /**
   * The wait after the camera refused the login; default 60 s. Cameras lock accounts
   * after repeated failures, and a wrong password does not fix itself in seconds.
   */
  authBackoffMs?: number;
  now?: () => number;
  log?: MotionSourceLog;
}

/** Counts for status and tests. */
export interface OnvifMotionStats {
  /** Subscriptions made, the first included. */
  subscribed: number;
  renewed: number;
  /** Subscriptions lost (fault, expiry, silence, camera gone) or attempts that failed. */
  failures: number;
  lastError: { code: string; message: string } | null;
}

/** Camera clocks within this of ours are taken as right: GetSystemDateAndTime has whole seconds. */
const CLOCK_TOLERANCE_MS = 2000;
/** How long `stop` waits for the camera to confirm an Unsubscribe. */
const UNSUBSCRIBE_WAIT_MS = 2000;
/** A message time further back than this is the receive time instead. */
const MAX_EVENT_AGE_MS = 30_000;

/**
 * Motion from the camera's ONVIF event service (ONVIF Core §9.1, a PullPoint
 * subscription): `RuleEngine/CellMotionDetector/Motion` (`IsMotion`) and
 * `VideoSource/MotionAlarm` (`State`). Motion is on while any of them says so.
 *
 * A watchdog loop owns the subscription: it renews it before it terminates, and makes a
 * new one (after a backoff capped at `maxBackoffMs`) when a request faults, the camera
 * goes away, the subscription expires, or a long poll stays unanswered past
 * `pullDeadlineMs`. (The `onvif` library's own event loop gives up after errors other
 * than network ones; this loop never does.)
 *
 * INVARIANTS: one subscription at a time; every session is closed before the next is
 * made; no event is reported after `stop` returns.
 */
export class OnvifMotionSource implements MotionSource {
  readonly kind = 'onvif';
  readonly stats: OnvifMotionStats = { subscribed: 0, renewed: 0, failures: 0, lastError: null };
  readonly #deps: OnvifMotionDeps;
  readonly #now: () => number;
  #abort: AbortController | null = null;
  #loop: Promise<void> | null = null;
  #session: OnvifSession | null = null;
  #onEvent: ((event: MotionEvent) => void) | null = null;
  /** Each property's last value, by topic and source. */
  readonly #states = new Map<string, boolean>();
  #openSince: number | null = null;

  constructor(deps: OnvifMotionDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Resolves after the first attempt to subscribe, successful or not; the loop goes on. */
  async start(signal: AbortSignal, onEvent: (event: MotionEvent) => void): Promise<void> {
    signal.throwIfAborted();
    this.#onEvent = onEvent;
    const abort = new AbortController();
    this.#abort = abort;
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    let firstAttempt: () => void = () => {};
    const attempted = new Promise<void>((resolve) => {
      firstAttempt = resolve;
    });
    this.#loop = this.#run(abort.signal, firstAttempt);
    await attempted;
  }

  async stop(): Promise<void> {
    this.#onEvent = null;
    const abort = this.#abort;
    if (!abort) return;
    abort.abort();
    const session = this.#session;
    // Best effort, briefly: a camera told to drop the subscription frees it before it
    // would expire; one that does not answer is left to let it expire.
    if (session) {
      const abandon = new AbortController();
      await Promise.race([
        session.unsubscribe().catch(() => undefined),
        pause(UNSUBSCRIBE_WAIT_MS, abandon.signal),
      ]);
      abandon.abort();
    }
    await session?.close();
    await this.#loop;
    this.#abort = null;
    this.#loop = null;
  }

  async #run(signal: AbortSignal, firstAttempt: () => void): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      let refused = false;
      try {
        await this.#subscribeAndPull(signal, firstAttempt, () => {
          attempt = 0;
        });
      } catch (err) {
        if (signal.aborted) break;
        this.stats.failures += 1;
        const code = (err as { code?: unknown }).code;
        refused = code === 'onvif_auth';
        // Only our own errors are quoted: their messages never carry credentials.
        this.stats.lastError = {
          code: typeof code === 'string' ? code : 'onvif_failed',
          message: typeof code === 'string' ? (err as Error).message : 'unexpected error',
        };
        this.#deps.log?.warn(
          { ...this.stats.lastError, attempt },
          'ONVIF event subscription lost; subscribing again',
        );
      } finally {
        const session = this.#session;
        this.#session = null;
        await session?.close();
        firstAttempt();
      }
      const wait = refused
        ? (this.#deps.authBackoffMs ?? 60_000)
        : backoffMs(attempt, this.#deps.maxBackoffMs ?? 5000);
      attempt += 1;
      await pause(wait, signal);
    }
  }

  async #subscribeAndPull(
    signal: AbortSignal,
    subscribed: () => void,
    healthy: () => void,
  ): Promise<void> {
    const timeoutMs = this.#deps.timeoutMs ?? 10_000;
    const session = await OnvifSession.connect({
      ...this.#deps.settings,
      timeoutMs,
      signal,
    });
    this.#session = session;
    if (signal.aborted) return;
    let termination = await session.createPullPoint();
    this.stats.subscribed += 1;
    // A new subscription starts with the Initialized value of every property.
    this.#states.clear();
    this.#deps.log?.info({ subscriptions: this.stats.subscribed }, 'ONVIF events subscribed');
    subscribed();
    const renewBefore = this.#deps.renewBeforeMs ?? 75_000;
    const pullDeadline = this.#deps.pullDeadlineMs ?? 75_000;
    while (!signal.aborted) {
      if (termination - Date.now() < renewBefore) {
        termination = await session.renew();
        this.stats.renewed += 1;
      }
      const messages = await session.pullMessages(pullDeadline);
      if (signal.aborted) return;
      healthy();
      for (const message of messages) this.#handle(message, session.clockOffsetMs);
    }
  }

  #handle(message: OnvifNotification, clockOffsetMs: number): void {
    const value = motionValue(message);
    if (value === null) return;
    const key = `${message.topic}|${JSON.stringify(Object.entries(message.source).sort())}`;
    this.#states.set(key, value);
    const moving = [...this.#states.values()].some(Boolean);
    const at = this.#eventTime(message, clockOffsetMs);
    if (moving && this.#openSince === null) {
      this.#openSince = at;
      this.#onEvent?.({ start: at, end: null, score: 1, source: 'onvif' });
    } else if (!moving && this.#openSince !== null) {
      const start = this.#openSince;
      this.#openSince = null;
      this.#onEvent?.({ start, end: Math.max(start, at), score: 1, source: 'onvif' });
    }
  }

  /**
   * The message's own time on our clock: camera clocks off by more than the whole seconds
   * GetSystemDateAndTime can tell are corrected, and the result is never in the future
   * nor older than `MAX_EVENT_AGE_MS` (a camera with a wrong clock).
   */
  #eventTime(message: OnvifNotification, clockOffsetMs: number): number {
    const now = this.#now();
    if (message.utcTime === null) return now;
    const offset = Math.abs(clockOffsetMs) > CLOCK_TOLERANCE_MS ? clockOffsetMs : 0;
    return Math.min(now, Math.max(now - MAX_EVENT_AGE_MS, message.utcTime - offset));
  }
}

/** True or false for a motion property, null for any other message. */
export function motionValue(message: OnvifNotification): boolean | null {
  if (message.operation === 'Deleted') return null;
  let raw: string | undefined;
  if (message.topic.endsWith('RuleEngine/CellMotionDetector/Motion')) raw = message.data.IsMotion;
  else if (message.topic.endsWith('VideoSource/MotionAlarm')) raw = message.data.State;
  if (raw === undefined) return null;
  const text = raw.trim().toLowerCase();
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  return null;
}

function backoffMs(attempt: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, 250 * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
