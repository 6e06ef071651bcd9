import type { ServerResponse } from 'node:http';
import type { AgentEvents } from '../events.js';
import type { ShareJob } from '../share/types.js';

/**
 * Live updates for open pages as server-sent events (HTML Living Standard §9.2): the page
 * hears `requests` (something about requests changed: it fetches the list again) and
 * `job` (a clip's progress, as data it writes into the page). No request text travels
 * here: the page fetches it, escaped, from the server.
 *
 * A comment line every `heartbeatMs` keeps proxies and the browser from timing the stream
 * out. Streams are capped; a revoked session's streams are closed at once.
 */

export interface LiveOptions {
  heartbeatMs?: number;
  maxStreams?: number;
}

interface Stream {
  res: ServerResponse;
  sessionId: number;
}

/** What a `job` event carries: what the history page shows of a clip's upload. */
export type JobEvent = Pick<
  ShareJob,
  'id' | 'requestId' | 'clipIndex' | 'state' | 'bytesSent' | 'bytesTotal' | 'attempts'
> & { words: string };

export class LiveUpdates {
  readonly #streams = new Set<Stream>();
  readonly #held = new Set<Stream>();
  #timer: NodeJS.Timeout | undefined;
  readonly #heartbeatMs: number;
  readonly #maxStreams: number;

  constructor(
    private readonly deps: { events: AgentEvents; describeJob: (job: ShareJob) => string },
    options: LiveOptions = {},
  ) {
    this.#heartbeatMs = options.heartbeatMs ?? 25_000;
    this.#maxStreams = options.maxStreams ?? 32;
  }

  start(): void {
    this.deps.events.on('requests', this.#onRequests);
    this.deps.events.on('job', this.#onJob);
    this.#timer = setInterval(() => this.#write(': keep-alive\n\n'), this.#heartbeatMs);
    this.#timer.unref();
  }

  stop(): void {
    this.deps.events.off('requests', this.#onRequests);
    this.deps.events.off('job', this.#onJob);
    clearInterval(this.#timer);
    for (const stream of this.#streams) stream.res.end();
    for (const stream of this.#held) stream.res.destroy();
    this.#streams.clear();
    this.#held.clear();
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Turns a response into an event stream; false (nothing written) when at the cap. */
  open(res: ServerResponse, sessionId: number): boolean {
    if (this.#streams.size >= this.#maxStreams) return false;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    // The browser reconnects after this long if the stream drops (the agent restarts).
    res.write('retry: 3000\n\n');
    const stream = { res, sessionId };
    this.#streams.add(stream);
    res.on('close', () => this.#streams.delete(stream));
    return true;
  }

  /**
   * Ends another long response of a session (a live view stream) with the session's
   * event streams: on log-out, revocation, or stop. It hears no events.
   */
  hold(res: ServerResponse, sessionId: number): void {
    const stream = { res, sessionId };
    this.#held.add(stream);
    res.on('close', () => this.#held.delete(stream));
  }

  closeSession(sessionId: number): void {
    for (const stream of this.#streams) {
      if (stream.sessionId === sessionId) {
        this.#streams.delete(stream);
        stream.res.end();
      }
    }
    for (const stream of this.#held) {
      if (stream.sessionId === sessionId) {
        this.#held.delete(stream);
        stream.res.destroy();
      }
    }
  }

  readonly #onRequests = () => {
    this.#write('event: requests\ndata: {}\n\n');
  };

  readonly #onJob = (job: ShareJob) => {
    const event: JobEvent = {
      id: job.id,
      requestId: job.requestId,
      clipIndex: job.clipIndex,
      state: job.state,
      bytesSent: job.bytesSent,
      bytesTotal: job.bytesTotal,
      attempts: job.attempts,
      words: this.deps.describeJob(job),
    };
    this.#write(`event: job\ndata: ${JSON.stringify(event)}\n\n`);
  };

  #write(text: string): void {
    for (const stream of this.#streams) stream.res.write(text);
  }
}
