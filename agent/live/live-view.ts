import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { CameraSource } from '../../hal/interfaces.js';
import { errorMessage } from '../errors.js';
import { backoffMs, delay, type Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import { FfmpegProcess } from '../recording/ffmpeg-process.js';
import { MediaServer, MediaServerError, type MediaServerOptions } from './media-server.js';

/**
 * Live view (DESIGN.md, "Live view"): while someone watches, an ffmpeg of its own pulls
 * the camera (a second RTSP session: the recorder's ffmpeg is never touched) and
 * publishes it, stream copy, to the media server in its own process; the owner's page
 * plays it through its authenticated proxy. Viewers share one pull. About `idleStopMs`
 * after the last viewer leaves, ffmpeg and the media server stop.
 *
 * While wanted, a run keeps both going: a media server or an ffmpeg that dies is started
 * again with backoff, and what went wrong is kept, in plain words, for the page.
 */

export type LiveProblemCode =
  | 'off'
  | 'too_many_viewers'
  | 'camera_unavailable'
  | 'camera_busy'
  | 'camera_login'
  | 'unsupported_video'
  | 'media_server_down'
  | 'not_ready'
  | 'stopping';

const WORDS: Record<LiveProblemCode, string> = {
  off: 'Live view is turned off on this camera.',
  too_many_viewers: 'Too many people are watching already. Close another live view first.',
  camera_unavailable: 'The camera does not answer, so live view cannot start.',
  camera_busy:
    'The camera is busy: it serves no further stream while it records. Recording goes on.',
  camera_login: 'The camera refused the login, so live view cannot start.',
  unsupported_video:
    'The camera sends video the live view cannot show (H.264 is needed). Recording goes on.',
  media_server_down:
    'The live view service is not running; the camera is starting it again. Retry in a moment.',
  not_ready: 'Live view did not start in time.',
  stopping: 'The camera is shutting down.',
};

export class LiveViewError extends Error {
  constructor(readonly code: LiveProblemCode) {
    super(WORDS[code]);
    this.name = 'LiveViewError';
  }
}

export interface LiveStatus {
  state: 'off' | 'idle' | 'starting' | 'live' | 'failing';
  viewers: number;
  /** The last thing that went wrong in this run, in plain words. */
  problem?: { code: LiveProblemCode; message: string; at: number };
}

export interface LiveViewer {
  /** The media server's signed play URL (HTTP-FLV), for the agent's proxy only. */
  readonly url: string;
  /** Call once when the viewer goes; the last one starts the idle countdown. */
  release(): void;
}

export interface LiveViewSettings {
  enabled: boolean;
  /** Stop ffmpeg and the media server this long after the last viewer leaves. */
  idleStopMs: number;
  maxViewers: number;
  /** How long an `attach` waits for the stream. */
  readyTimeoutMs: number;
}

export interface LiveViewDeps {
  camera: CameraSource;
  ffmpegPath: string;
  /** Where the media server keeps its small store (under the agent's data). */
  dir: string;
  log: Logger;
  settings: LiveViewSettings;
  /** Whether the owner turned sound on for live view (read at each ffmpeg start). */
  audio(): Promise<boolean>;
  /** Starts a media server run (tests inject failures here). */
  startServer?: (options: MediaServerOptions) => Promise<MediaServer>;
  clock?: { now(): number };
}

/**
 * The publisher's ffmpeg: the camera's video copied (never re-encoded) into FLV over
 * RTMP. `fastStart` skips probing the stream (about 2 s at a 2 s keyframe interval): a
 * camera that gives its H.264 parameters in its SDP needs none. One that does not makes
 * this ffmpeg fail at once ("dimensions not set"), and the next start probes.
 */
export function publisherArgs(
  input: string,
  output: string,
  audio: boolean,
  fastStart = false,
): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-rtsp_transport',
    'tcp',
    // RTSP socket timeout, µs: a camera that stops sending ends this ffmpeg.
    '-timeout',
    '10000000',
    // A few packets: with less, a first audio packet can leave the video's size unread.
    ...(fastStart ? ['-analyzeduration', '0', '-probesize', '4096'] : []),
    // Progress on stdout: frames written means the stream is flowing.
    '-progress',
    'pipe:1',
    '-stats_period',
    '0.2',
    '-i',
    input,
    '-map',
    '0:v:0',
    '-c:v',
    'copy',
    // FLV carries AAC; a doorbell's G.711 or Opus is made AAC (a few kB/s).
    ...(audio ? ['-map', '0:a:0?', '-c:a', 'aac', '-b:a', '64k', '-ar', '44100'] : ['-an']),
    '-f',
    'flv',
    output,
  ];
}

/** What an ffmpeg that ended tells of the camera, from its last lines. */
export function classifyPublisherEnd(stderr: string): LiveProblemCode {
  if (/401|Unauthorized/i.test(stderr)) return 'camera_login';
  if (/453|Not Enough Bandwidth|503|Service Unavailable|busy/i.test(stderr)) return 'camera_busy';
  if (
    /not compatible with flv|codec not currently supported in container|hevc|h265/i.test(stderr)
  ) {
    return 'unsupported_video';
  }
  if (/rtmp:\/\/|RTMP|Broken pipe/.test(stderr)) return 'media_server_down';
  return 'camera_unavailable';
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

export class LiveView implements Service {
  readonly name = 'live';
  readonly #deps: LiveViewDeps;
  readonly #clock: { now(): number };
  /** The stream's name at the media server: random, so a guessed path plays nothing. */
  readonly #stream = randomBytes(12).toString('hex');
  #viewers = 0;
  #run: { abort: AbortController; done: Promise<void> } | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #server: MediaServer | undefined;
  #publisher: FfmpegProcess | undefined;
  /** The media server took the publish and ffmpeg has written frames to it. */
  #published = false;
  #publishSeen = false;
  #framesOut = 0;
  #restartNow = false;
  #problem: LiveStatus['problem'];
  #stopped = false;
  readonly #waiters = new Set<Waiter>();
  /** Publisher starts, for tests and figures: viewers share one. */
  publisherStarts = 0;

  constructor(deps: LiveViewDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? Date;
  }

  /** Nothing runs until someone watches. */
  async start(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.#stopped = false;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#idleTimer);
    this.#rejectWaiters(new LiveViewError('stopping'));
    await this.#stopRun();
  }

  status(): LiveStatus {
    const { enabled } = this.#deps.settings;
    const state: LiveStatus['state'] = !enabled
      ? 'off'
      : !this.#run
        ? 'idle'
        : this.#published
          ? 'live'
          : this.#problem
            ? 'failing'
            : 'starting';
    return {
      state,
      viewers: this.#viewers,
      ...(this.#problem && state !== 'live' && state !== 'idle' ? { problem: this.#problem } : {}),
    };
  }

  /** The stream's name at the media server (not a secret: its URLs are signed). */
  get streamName(): string {
    return this.#stream;
  }

  /** The processes of the current run, for `threshold status` and tests. */
  get pids(): { mediaServer?: number; publisher?: number } {
    const mediaServer = this.#server?.running ? this.#server.pid : undefined;
    const publisher = this.#publisher?.pid;
    return {
      ...(mediaServer !== undefined ? { mediaServer } : {}),
      ...(publisher !== undefined ? { publisher } : {}),
    };
  }

  /**
   * A new viewer: starts the run if none, and resolves once the camera is published
   * (or rejects, in plain words, when it is not within `readyTimeoutMs`).
   */
  async attach(signal: AbortSignal): Promise<LiveViewer> {
    const { settings } = this.#deps;
    if (!settings.enabled) throw new LiveViewError('off');
    if (this.#stopped) throw new LiveViewError('stopping');
    if (this.#viewers >= settings.maxViewers) throw new LiveViewError('too_many_viewers');
    this.#viewers++;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#viewers--;
      if (this.#viewers === 0 && !this.#stopped) {
        this.#idleTimer = setTimeout(() => void this.#stopRun(), settings.idleStopMs);
        this.#idleTimer.unref();
      }
    };
    try {
      await this.#ensureRun();
      await this.#whenPublished(signal);
      const server = this.#server;
      if (!server) throw new LiveViewError('media_server_down');
      return { url: server.playUrl(this.#stream), release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Starts ffmpeg again at once (the owner changed the sound setting). */
  restartPublisher(): void {
    if (!this.#publisher) return;
    this.#restartNow = true;
    void this.#publisher.terminate(2000);
  }

  async #ensureRun(): Promise<void> {
    if (this.#run && !this.#run.abort.signal.aborted) return;
    // A run that is winding down finishes before the next starts: one ffmpeg at a time.
    await this.#run?.done;
    if (this.#run && !this.#run.abort.signal.aborted) return;
    const abort = new AbortController();
    this.#problem = undefined;
    const run = { abort, done: this.#loop(abort.signal) };
    this.#run = run;
    void run.done.finally(() => {
      if (this.#run === run) this.#run = undefined;
    });
  }

  async #stopRun(): Promise<void> {
    if (this.#viewers > 0 && !this.#stopped) return; // someone came back meanwhile
    const run = this.#run;
    if (!run) return;
    run.abort.abort();
    await run.done;
  }

  #whenPublished(signal: AbortSignal): Promise<void> {
    if (this.#published) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
        if (err) reject(err);
        else resolve();
      };
      const waiter: Waiter = { resolve: () => finish(), reject: (err) => finish(err) };
      const timer = setTimeout(
        () => finish(new LiveViewError(this.#problem?.code ?? 'not_ready')),
        this.#deps.settings.readyTimeoutMs,
      );
      const onAbort = () => finish(new LiveViewError('stopping'));
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  #rejectWaiters(err: Error): void {
    for (const waiter of [...this.#waiters]) waiter.reject(err);
  }

  /**
   * Keeps what went wrong for the page. Those waiting hear it at once when it will not
   * pass by itself (the server cannot start, the camera refuses us, the video is not
   * H.264); a camera that does not answer yet may still, within their wait.
   */
  #setProblem(code: LiveProblemCode, detail: string): void {
    this.#problem = { code, message: WORDS[code], at: this.#clock.now() };
    this.#deps.log.warn({ problem: code, detail }, 'live view: %s', WORDS[code]);
    if (code === 'media_server_down' || code === 'camera_login' || code === 'unsupported_video') {
      this.#rejectWaiters(new LiveViewError(code));
    }
  }

  #onServerMessage = (message: { type: string; path?: string }) => {
    if (message.path !== `/live/${this.#stream}`) return;
    if (message.type === 'publish') {
      this.#publishSeen = true;
      this.#checkLive();
    } else if (message.type === 'unpublish') {
      this.#publishSeen = false;
      this.#published = false;
    }
  };

  /** ffmpeg's `-progress` lines: `frame=N` once it writes video. */
  #onProgress = (line: string) => {
    const match = /^frame=(\d+)$/.exec(line);
    if (!match) return;
    this.#framesOut = Number(match[1]);
    this.#checkLive();
  };

  #checkLive(): void {
    if (this.#published || !this.#publishSeen || this.#framesOut === 0) return;
    this.#published = true;
    this.#problem = undefined;
    for (const waiter of [...this.#waiters]) waiter.resolve();
  }

  async #startServer(signal: AbortSignal): Promise<MediaServer> {
    const start = this.#deps.startServer ?? MediaServer.start;
    const server = await start({
      storeDir: join(this.#deps.dir, 'media-server'),
      log: this.#deps.log.child({ part: 'media-server' }),
    }).catch((err: unknown) => {
      throw err instanceof MediaServerError
        ? err
        : new MediaServerError('start_failed', errorMessage(err));
    });
    server.on('message', this.#onServerMessage);
    server.on('exit', () => {
      this.#published = false;
      this.#publishSeen = false;
    });
    this.#server = server;
    const onAbort = () => void server.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await server.ready;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    this.#deps.log.debug({ pid: server.pid, ports: server.ports }, 'live view: media server up');
    return server;
  }

  async #loop(signal: AbortSignal): Promise<void> {
    const deps = this.#deps;
    let attempt = 0;
    // Until a start fails before publishing: then probe, as for any unknown camera.
    let fastStart = true;
    while (!signal.aborted) {
      try {
        const server = this.#server?.running ? this.#server : await this.#startServer(signal);
        const stream = await deps.camera.open(signal);
        const audio = await deps.audio().catch(() => false);
        this.#publishSeen = false;
        this.#framesOut = 0;
        const publisher = new FfmpegProcess(
          deps.ffmpegPath,
          publisherArgs(stream.url, server.publishUrl(this.#stream), audio, fastStart),
          { stdoutLine: this.#onProgress },
        );
        this.#publisher = publisher;
        this.publisherStarts++;
        deps.log.info({ camera: stream.displayUrl, audio }, 'live view: publishing the camera');
        const onAbort = () => void publisher.terminate(2000);
        signal.addEventListener('abort', onAbort, { once: true });
        const end = await Promise.race([
          publisher.exited.then(() => 'publisher' as const),
          server.exited.then(() => 'server' as const),
        ]);
        signal.removeEventListener('abort', onAbort);
        const wasPublished = this.#published;
        this.#published = false;
        if (signal.aborted) break;
        if (end === 'server') {
          // Viewers' streams ended with it; those reconnecting wait for the next one.
          this.#problem = {
            code: 'media_server_down',
            message: WORDS.media_server_down,
            at: this.#clock.now(),
          };
          deps.log.warn('live view: the media server ended; starting it again');
          await publisher.terminate(2000);
        } else if (this.#restartNow) {
          this.#restartNow = false;
          attempt = 0;
          continue;
        } else {
          const tail = publisher.stderrTail();
          if (!wasPublished && fastStart) {
            fastStart = false;
            deps.log.info({ detail: tail }, 'live view: starting again, probing the stream');
            continue;
          }
          this.#setProblem(classifyPublisherEnd(tail), tail || 'ffmpeg ended');
        }
        if (wasPublished) attempt = 0;
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof MediaServerError) this.#setProblem('media_server_down', err.message);
        else this.#setProblem('camera_unavailable', errorMessage(err));
      } finally {
        this.#publisher = undefined;
      }
      await delay(backoffMs(attempt++, 500, 10_000), signal).catch(() => undefined);
    }
    await this.#publisher?.terminate(2000);
    this.#published = false;
    const server = this.#server;
    this.#server = undefined;
    await server?.stop();
    deps.log.info('live view: stopped');
  }
}
