import type { Agent, ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HttpRequest, HttpResponse, HttpStack } from 'tus-js-client';
import { UploadError } from './errors.js';
import { FileRange, RangeStream } from './file-body.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * tus-js-client's HTTP stack, ours rather than its default, for three reasons:
 *
 * - Stall detection. Node has no idle timeout that covers every phase (DNS, SOCKS, TLS,
 *   a body the server stops reading, a response that never comes); a watchdog here aborts
 *   the request when no byte has moved either way for `idleTimeoutMs`.
 * - The wire carries only what tus needs (promise 3): the headers tus-js-client sets, plus
 *   Host, Content-Length and Connection that Node adds. No User-Agent (Node's client sends
 *   none; we add none), no request id, no cookies.
 * - The body is a file range read under backpressure and the bandwidth cap (file-body.ts).
 *
 * https only: a Location header pointing elsewhere is refused before a byte is sent.
 */

export interface HttpStackOptions {
  /** One agent per attempt: its connections and TLS state are not shared with another. */
  readonly agent: Agent;
  readonly ca: readonly string[];
  readonly idleTimeoutMs: number;
  readonly limiter?: RateLimiter;
  readonly signal?: AbortSignal;
}

/** At most this much of a response body is kept (tus responses have none). */
const MAX_RESPONSE_BODY = 64 * 1024;
/** Progress callbacks at most this often. */
const PROGRESS_INTERVAL_MS = 100;

export class UploadHttpStack implements HttpStack {
  constructor(private readonly options: HttpStackOptions) {}

  createRequest(method: string, url: string): HttpRequest {
    return new UploadHttpRequest(method, url, this.options);
  }

  getName(): string {
    return 'threshold-upload';
  }
}

class UploadHttpRequest implements HttpRequest {
  private readonly headers: Record<string, string> = {};
  private progress: (bytesSent: number) => void = () => undefined;
  private request: ClientRequest | undefined;

  constructor(
    private readonly method: string,
    private readonly url: string,
    private readonly options: HttpStackOptions,
  ) {}

  getMethod(): string {
    return this.method;
  }

  getURL(): string {
    return this.url;
  }

  setHeader(header: string, value: string): void {
    this.headers[header] = value;
  }

  getHeader(header: string): string | undefined {
    return this.headers[header];
  }

  setProgressHandler(handler: (bytesSent: number) => void): void {
    this.progress = handler;
  }

  send(body: unknown): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      let target: URL;
      try {
        target = httpsTarget(this.url);
      } catch (err) {
        reject(err);
        return;
      }
      const range = body instanceof FileRange ? body : undefined;
      if (body !== null && body !== undefined && !range) {
        reject(new UploadError('upload_invalid', 'unexpected request body'));
        return;
      }
      const headers: OutgoingHttpHeaders = { ...this.headers };
      // An explicit length: no chunked encoding, and a POST without a body says so.
      if (range || this.method !== 'HEAD') headers['Content-Length'] = String(range?.size ?? 0);
      const req = httpsRequest({
        protocol: 'https:',
        hostname: target.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: target.port || 443,
        path: `${target.pathname}${target.search}`,
        method: this.method,
        headers,
        agent: this.options.agent,
        ca: [...this.options.ca],
      });
      this.request = req;
      const watchdog = new IdleWatchdog(this.options.idleTimeoutMs, () => {
        req.destroy(
          new UploadError(
            'upload_stalled',
            `no bytes moved for ${this.options.idleTimeoutMs} ms (${this.method})`,
          ),
        );
      });
      req.on('socket', (socket) => {
        watchdog.touch();
        socket.on('connect', () => watchdog.touch());
        socket.on('secureConnect', () => watchdog.touch());
      });
      req.on('error', (err) => {
        watchdog.stop();
        reject(err);
      });
      req.on('response', (res) => {
        watchdog.touch();
        readResponse(res, watchdog).then(
          (text) => {
            watchdog.stop();
            resolve(new UploadHttpResponse(res, text));
          },
          (err: Error) => {
            watchdog.stop();
            reject(err);
          },
        );
      });
      if (!range) {
        req.end();
        return;
      }
      let sent = 0;
      let lastProgress = 0;
      const stream = new RangeStream(range, {
        ...(this.options.limiter ? { limiter: this.options.limiter } : {}),
        ...(this.options.signal ? { signal: this.options.signal } : {}),
        onBytes: (bytes) => {
          watchdog.touch();
          sent += bytes;
          const now = performance.now();
          if (now - lastProgress >= PROGRESS_INTERVAL_MS || sent === range.size) {
            lastProgress = now;
            this.progress(sent);
          }
        },
        onThrottled: (waiting) => watchdog.hold(waiting),
      });
      stream.on('error', (err) => req.destroy(err));
      req.on('close', () => stream.destroy());
      stream.pipe(req);
    });
  }

  async abort(): Promise<void> {
    this.request?.destroy();
  }

  getUnderlyingObject(): unknown {
    return this.request;
  }
}

class UploadHttpResponse implements HttpResponse {
  constructor(
    private readonly response: IncomingMessage,
    private readonly body: string,
  ) {}

  getStatus(): number {
    return this.response.statusCode ?? 0;
  }

  getHeader(header: string): string | undefined {
    const value = this.response.headers[header.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  }

  getBody(): string {
    return this.body;
  }

  getUnderlyingObject(): unknown {
    return this.response;
  }
}

function readResponse(res: IncomingMessage, watchdog: IdleWatchdog): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    res.on('data', (chunk: Buffer) => {
      watchdog.touch();
      if (kept < MAX_RESPONSE_BODY) {
        chunks.push(chunk.subarray(0, MAX_RESPONSE_BODY - kept));
        kept += chunk.length;
      }
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('the response was cut off'));
    });
  });
}

/** The https URL of a request, or an `upload_invalid` error for any other scheme. */
export function httpsTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UploadError('upload_invalid', 'the upload URL does not parse');
  }
  if (url.protocol !== 'https:' || url.username || url.password) {
    throw new UploadError('upload_invalid', 'the upload URL must be https, without credentials');
  }
  return url;
}

/**
 * Fires `onIdle` when `touch` has not been called for `timeoutMs`, except while held (a
 * read waiting for the bandwidth cap is our own pause, not the network's).
 */
class IdleWatchdog {
  private readonly timer: NodeJS.Timeout;
  private held = false;
  private stopped = false;

  constructor(
    timeoutMs: number,
    private readonly onIdle: () => void,
  ) {
    this.timer = setTimeout(() => this.fire(), timeoutMs);
  }

  touch(): void {
    if (!this.stopped) this.timer.refresh();
  }

  hold(held: boolean): void {
    this.held = held;
    this.touch();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private fire(): void {
    if (this.stopped) return;
    if (this.held) {
      this.timer.refresh();
      return;
    }
    this.stopped = true;
    this.onIdle();
  }
}
