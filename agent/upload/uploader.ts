import { stat } from 'node:fs/promises';
import { backoffMs, delay } from '../lifecycle.js';
import type { Logger } from '../log.js';
import { type Attempt, runAttempt } from './attempt.js';
import { classifyFailure } from './classify.js';
import { UploadError, UploadRefused } from './errors.js';
import { SealedFile } from './file-body.js';
import { httpsTarget, UploadHttpStack } from './http-stack.js';
import { type UploadMetadata, uploadMetadataSchema } from './metadata.js';
import { RateLimiter } from './rate-limiter.js';
import { Transport } from './transport.js';

export { UploadError, UploadRefused } from './errors.js';
export type { UploadMetadata } from './metadata.js';

/**
 * The device's resumable uploader (DESIGN.md, "Upload"; tus 1.0.0 core protocol with the
 * Creation extension, tus-js-client underneath). One call uploads one sealed file and
 * resolves only once the server's offset equals the file's size.
 *
 * INVARIANTS:
 * - the upload URL reaches `onUrl`, and `onUrl` has resolved, before the first PATCH;
 * - an attempt that knows a URL never creates an upload behind our back: tus-js-client is
 *   given either the endpoint (create) or the URL (HEAD, then PATCH), never both;
 * - every attempt starts with HEAD on the known URL, so it sends from the server's offset
 *   (tus 1.0.0, Core Protocol, HEAD), never from what we believe was sent;
 * - transient failures are retried without end (backoff with jitter, capped; the step
 *   resets once bytes move); only a permanent refusal, an abort or a bad input ends a call.
 *
 * A stored URL that the server no longer knows (404, or 410 Gone, on HEAD or PATCH) is
 * replaced by a new upload of the same sealed bytes; the new URL is stored through
 * `onUrl` before its first byte, so the job always holds the URL being written. If that
 * keeps happening without a byte being accepted, the server is refusing: `UploadRefused`.
 */
export interface UploadSettings {
  /** Bandwidth cap, bytes per second (absent: none). Shared by this uploader's uploads. */
  maxBytesPerSecond?: number;
  /** Path of a PEM file of a CA to trust besides the system's. */
  ca?: string;
  /** socks5://HOST:PORT (e.g. a local Tor); names are resolved by the proxy. */
  proxy?: string;
  /** Abort an attempt when no byte moves for this long (default 30 s). */
  idleTimeoutMs?: number;
}

export interface UploadInput {
  /** The sealed file (fixed bytes; a resumed upload sends the same bytes). */
  file: string;
  /** The request's tus endpoint, https. */
  endpoint: string;
  metadata: UploadMetadata;
  /** The upload URL stored from an earlier attempt (after a restart). */
  resumeUrl?: string;
  /** Persists the upload URL; completes before the first byte is sent. */
  onUrl(url: string): Promise<void>;
  onProgress?(sent: number, total: number): void;
  /** For the job table: the retry count so far in this call, the error, the wait. */
  onRetry?(info: { attempt: number; error: Error; delayMs: number }): void;
  signal: AbortSignal;
}

/** Backoff of the retries: the first waits about `initialMs`, doubling up to `maxMs`. */
export interface BackoffSettings {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 1_000, maxMs: 60_000 };
/** New uploads created in a row for a URL the server lost, with no byte accepted between. */
const MAX_RECREATIONS = 3;

export class Uploader {
  private readonly transport: Transport;
  private readonly limiter: RateLimiter | undefined;
  private readonly idleTimeoutMs: number;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly backoff: BackoffSettings;

  constructor(deps: {
    settings: UploadSettings;
    log: Logger;
    random?: () => number;
    /** Tests shorten it; the default suits a device. */
    backoff?: BackoffSettings;
  }) {
    const { settings } = deps;
    this.transport = new Transport({
      ...(settings.ca ? { ca: settings.ca } : {}),
      ...(settings.proxy ? { proxy: settings.proxy } : {}),
    });
    this.limiter = settings.maxBytesPerSecond
      ? new RateLimiter(settings.maxBytesPerSecond)
      : undefined;
    this.idleTimeoutMs = settings.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.log = deps.log.child({ component: 'uploader' });
    this.random = deps.random ?? Math.random;
    this.backoff = deps.backoff ?? DEFAULT_BACKOFF;
  }

  /**
   * Resolves only when the server's offset equals the file's size. Transient failures are
   * retried forever; a permanent 4xx throws `UploadRefused`; bad input throws
   * `UploadError('upload_invalid')`. Abort rejects with the signal's reason.
   */
  async upload(input: UploadInput): Promise<void> {
    const { signal } = input;
    signal.throwIfAborted();
    const metadata = parseMetadata(input.metadata);
    httpsTarget(input.endpoint);
    if (input.resumeUrl !== undefined) httpsTarget(input.resumeUrl);
    const file = new SealedFile(input.file, await fileSize(input.file));
    let url = input.resumeUrl;
    let retries = 0;
    let failuresInRow = 0;
    let recreations = 0;
    for (;;) {
      signal.throwIfAborted();
      const attempt = await this.attempt(input, file, metadata, url);
      if (attempt.kind === 'done') {
        this.log.info({ requestId: metadata.requestId, kind: metadata.kind }, 'upload complete');
        return;
      }
      signal.throwIfAborted();
      url = attempt.url ?? url;
      if (attempt.moved) {
        failuresInRow = 0;
        recreations = 0;
      }
      const failure = classifyFailure(attempt.error);
      if (failure.kind === 'permanent') {
        throw new UploadRefused(
          failure.status,
          `the server refused the upload: ${failure.reason}`,
          {
            cause: attempt.error,
          },
        );
      }
      if (failure.kind === 'invalid') throw attempt.error;
      if (failure.kind === 'gone') {
        recreations++;
        if (recreations > MAX_RECREATIONS) {
          throw new UploadRefused(
            failure.status,
            `the server lost the upload ${recreations} times in a row (${failure.reason})`,
            { cause: attempt.error },
          );
        }
        this.log.warn(
          { requestId: metadata.requestId, kind: metadata.kind, status: failure.status },
          'the server no longer knows the upload URL; a new upload of the same bytes follows',
        );
        url = undefined;
      }
      const delayMs = backoffMs(
        failuresInRow++,
        this.backoff.initialMs,
        this.backoff.maxMs,
        this.random,
      );
      retries++;
      this.log.warn(
        { requestId: metadata.requestId, kind: metadata.kind, retry: retries, delayMs },
        `upload attempt failed: ${failure.reason}`,
      );
      input.onRetry?.({
        attempt: retries,
        error: reportable(attempt.error, failure.reason),
        delayMs,
      });
      await delay(delayMs, signal);
    }
  }

  private async attempt(
    input: UploadInput,
    file: SealedFile,
    metadata: UploadMetadata,
    knownUrl: string | undefined,
  ): Promise<Attempt> {
    const connection = await this.transport.connection();
    try {
      return await runAttempt({
        input,
        file,
        metadata,
        ...(knownUrl ? { knownUrl } : {}),
        stack: new UploadHttpStack({
          agent: connection.agent,
          ca: connection.ca,
          idleTimeoutMs: this.idleTimeoutMs,
          ...(this.limiter ? { limiter: this.limiter } : {}),
          signal: input.signal,
        }),
        log: this.log,
      });
    } finally {
      connection.agent.destroy();
    }
  }
}

function parseMetadata(metadata: UploadMetadata): UploadMetadata {
  const parsed = uploadMetadataSchema.safeParse(metadata);
  if (!parsed.success) {
    const keys = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(root)'))];
    throw new UploadError('upload_invalid', `upload metadata: invalid ${keys.join(', ')}`);
  }
  return parsed.data;
}

async function fileSize(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    return info.size;
  } catch (err) {
    throw new UploadError('upload_invalid', 'the sealed file cannot be read', { cause: err });
  }
}

/** Our own error when there is one, else the short reason (no URL, no response text). */
function reportable(error: Error, reason: string): Error {
  const cause = (error as { causingError?: unknown }).causingError;
  if (error instanceof UploadError) return error;
  if (cause instanceof UploadError) return cause;
  return new Error(reason, { cause: error });
}
