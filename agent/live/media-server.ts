import { type ChildProcess, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { ChildMessage, ChildSettings } from './media-server-child.js';

/**
 * One run of the media server's process (see `media-server-child.ts`): forked with the
 * ports the agent picked and a signing secret made for this run, its log lines passed
 * through ours at their own level. A run that dies is not restarted here: `LiveView`
 * starts a new one, with backoff.
 */

export interface MediaServerOptions {
  /** Where the server keeps its stream history (a directory of the agent's data). */
  storeDir: string;
  log: Logger;
  /** How long to wait for both ports to listen. */
  startTimeoutMs?: number;
  /** How long a signed URL stays valid: it is used at once, by the agent itself. */
  urlLifetimeSeconds?: number;
}

export class MediaServerError extends Error {
  constructor(
    readonly code: 'start_failed' | 'start_timeout',
    message: string,
  ) {
    super(message);
    this.name = 'MediaServerError';
  }
}

/** Events: `exit` (code, signal) once the process is gone; `message` (ChildMessage). */
export class MediaServer extends EventEmitter<{
  exit: [code: number | null, signal: NodeJS.Signals | null];
  message: [message: ChildMessage];
}> {
  readonly #secret = randomBytes(32).toString('hex');
  readonly #child: ChildProcess;
  readonly exited: Promise<void>;
  readonly ready: Promise<void>;
  #running = true;

  private constructor(
    readonly ports: { rtmp: number; http: number },
    private readonly options: MediaServerOptions,
  ) {
    super();
    const entry = childEntry();
    this.#child = fork(entry.path, [], {
      execArgv: entry.execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
      env: { ...process.env, NODE_ENV: 'production' },
    });
    const log = options.log;
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
        forwardLine(log, line),
      );
    }
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#running = false;
        this.emit('exit', code, signal);
        resolve();
      });
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new MediaServerError('start_timeout', 'the media server did not start in time'));
        this.#child.kill('SIGKILL');
      }, options.startTimeoutMs ?? 15_000);
      this.#child.on('message', (message: ChildMessage) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve();
        }
        this.emit('message', message);
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new MediaServerError('start_failed', 'the media server stopped while starting'));
      });
    });
    // Nobody may be waiting when it fails (the agent stopping): not an unhandled rejection.
    this.ready.catch(() => undefined);
    this.#child.once('spawn', () => {
      const settings: ChildSettings = {
        type: 'start',
        rtmpPort: ports.rtmp,
        httpPort: ports.http,
        secret: this.#secret,
        storeDir: options.storeDir,
        logLevel: log.isLevelEnabled('debug') ? 'info' : 'warn',
      };
      this.#child.send(settings);
    });
  }

  /** Starts a run on two free loopback ports; `ready` resolves once both listen. */
  static async start(options: MediaServerOptions): Promise<MediaServer> {
    await mkdir(options.storeDir, { recursive: true, mode: 0o700 });
    const [rtmp, http] = await freePorts(2);
    return new MediaServer({ rtmp: rtmp as number, http: http as number }, options);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Where ffmpeg publishes `name` (RTMP, signed). */
  publishUrl(name: string): string {
    return `rtmp://127.0.0.1:${this.ports.rtmp}/live/${name}?sign=${this.#sign(name)}`;
  }

  /** Where the agent's proxy plays `name` (HTTP-FLV, signed). */
  playUrl(name: string): string {
    return `http://127.0.0.1:${this.ports.http}/live/${name}.flv?sign=${this.#sign(name)}`;
  }

  /** node-media-server's signed URL: `EXPIRY-md5(/APP/NAME-EXPIRY-SECRET)`. */
  #sign(name: string): string {
    const expiry = Math.floor(Date.now() / 1000) + (this.options.urlLifetimeSeconds ?? 60);
    const hash = createHash('md5').update(`/live/${name}-${expiry}-${this.#secret}`).digest('hex');
    return `${expiry}-${hash}`;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.#running) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** The child's file: compiled JavaScript beside this one, or the source under tsx (tests). */
function childEntry(): { path: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) {
    return {
      path: self.replace(/media-server\.ts$/, 'media-server-child.ts'),
      execArgv: ['--import', 'tsx'],
    };
  }
  return { path: self.replace(/media-server\.js$/, 'media-server-child.js'), execArgv: [] };
}

/** Ports the kernel says are free now; the child exits if one is taken meanwhile. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

const LINE = /^\[[^\]]*\] \[(TRACE|DEBUG|INFO|WARN|ERROR)\] (.*)$/;

/**
 * The library's lines (`[time] [LEVEL] text`) in our log: its errors and warnings as
 * such, the rest at debug (it is asked for them only when our log shows debug). A signed
 * URL's signature never reaches the log.
 */
function forwardLine(log: Logger, line: string): void {
  const match = LINE.exec(line);
  const level = match?.[1] ?? 'INFO';
  const text = (match?.[2] ?? line).replace(/sign=[^\s&]*/g, 'sign=[redacted]');
  if (text.trim() === '') return;
  switch (level) {
    case 'ERROR':
      log.error({ media: text }, 'media server');
      break;
    case 'WARN':
      log.warn({ media: text }, 'media server');
      break;
    default:
      // Its INFO is a line per connection: detail for the agent, shown at debug.
      log.debug({ media: text }, 'media server');
  }
}
