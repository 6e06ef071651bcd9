import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Storage } from '../../hal/interfaces.js';
import { AUDIT_KINDS, type AuditLog } from '../audit/audit-log.js';
import type { Database } from '../db/database.js';
import { errorMessage, ThresholdError } from '../errors.js';
import type { AgentEvents } from '../events.js';
import type { Exporter } from '../export/exporter.js';
import { sealClip } from '../export/seal-clip.js';
import { backoffMs, type Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { DeviceParts } from '../parts.js';
import type { Pins } from '../recording/pins.js';
import type { SegmentIndex } from '../recording/segment-index.js';
import type { ClockFloor } from '../requests/clock-floor.js';
import type { RequestStore } from '../requests/store.js';
import type { CustodySigner } from '../seal/custody.js';
import { sharePinOwner } from './consent.js';
import { type JobRecord, type JobStore, publicJob } from './job-store.js';

/** What the pipeline needs of the uploader (agent/upload/uploader.ts). */
export interface UploadPort {
  upload(input: {
    file: string;
    endpoint: string;
    metadata: { requestId: string; kind: 'clip' | 'custody'; clipIndex: number; filename: string };
    resumeUrl?: string;
    onUrl(url: string): Promise<void>;
    onProgress?(sent: number, total: number): void;
    onRetry?(info: { attempt: number; error: Error; delayMs: number }): void;
    signal: AbortSignal;
  }): Promise<void>;
}

export interface SharePipelineDeps {
  db: Database;
  jobs: JobStore;
  requests: RequestStore;
  pins: Pins;
  segments: SegmentIndex;
  audit: AuditLog;
  clock: ClockFloor;
  storage: Storage;
  exporter: Exporter;
  uploader: UploadPort;
  signer: () => Promise<CustodySigner>;
  versions: () => Promise<{ agent: string; ffmpeg: string }>;
  /** `dataDir/outbox` (mode 0700; files 0600). */
  outbox: string;
  log: Logger;
  events?: AgentEvents;
  /** How often to look for jobs approved by another process (the CLI). */
  pollMs?: number;
  /** Backoff of a failing export or seal. */
  backoff?: { baseMs: number; maxMs: number };
  /** Uploads at once (each to its own agency, most likely). */
  maxUploads?: number;
}

/** The pipeline's deps that come from the device's parts (the rest is hardware and policy). */
export function pipelineParts(parts: DeviceParts) {
  return {
    db: parts.db,
    jobs: parts.jobs,
    requests: parts.requests,
    pins: parts.pins,
    segments: parts.segments,
    audit: parts.audit,
    clock: parts.floor,
    exporter: parts.exporter,
    signer: () => parts.keys(),
    outbox: parts.paths.outbox,
  } satisfies Partial<SharePipelineDeps>;
}

/** The outbox files of a job. */
export function jobFiles(outbox: string, job: Pick<JobRecord, 'name'>) {
  const sealed = join(outbox, `${job.name}.tseal`);
  return { plain: join(outbox, `${job.name}.mp4`), sealed, custody: `${sealed}.custody` };
}

/**
 * The share pipeline (DESIGN.md, "Owner consent", "Upload"): takes approved clip jobs
 * and moves each one step at a time, each step's result committed before the next:
 *
 *   approved ─export─► exported ─seal─► sealed ─first byte─► uploading ─agency has all─► uploaded
 *
 * - export: a fast or exact cut of the job's range (audio only if chosen) into the outbox;
 * - seal: the clip and its custody record sealed to the request's recipient key, fsynced
 *   and renamed into place; then the source segments are released and the plaintext goes;
 * - upload: the sealed clip, then the sealed custody record, each one resumable tus upload
 *   whose URL is stored before the first byte; the files go once the agency has all.
 *
 * INVARIANTS: a job's state only moves forward, and only after the files of the new state
 * are durable, so a crash anywhere resumes from the committed state. The one exception is
 * the cut: it is not fsynced (it lives only until it is sealed), so at start-up an
 * `exported` job goes back to `approved` and is cut again from its still-pinned footage. A clip is sealed
 * exactly once: once `sealed` is committed its bytes never change, so a resumed upload
 * sends the same bytes. Source footage stays pinned until the seal commits. Only a
 * permanent refusal by the agency (a 4xx) ends a job as `failed`; every other failure is
 * retried with backoff, without end.
 */
export class SharePipeline implements Service {
  readonly name = 'share';
  #stopping = new AbortController();
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  readonly #uploads = new Map<number, Promise<void>>();
  readonly #retryAt = new Map<number, number>();

  constructor(private readonly deps: SharePipelineDeps) {}

  /** Looks for work now (an approval committed in this process). */
  wake(): void {
    this.#wake?.();
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    signal.addEventListener('abort', () => this.#stopping.abort(), { once: true });
    await mkdir(this.deps.outbox, { recursive: true, mode: 0o700 });
    await this.#removeLeftovers();
    // A cut from before the restart may not have reached the disk: cut it again.
    await this.deps.jobs.recutExported(this.deps.clock.now());
    this.#loop = this.#run(this.#stopping.signal);
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#wake?.();
    await this.#loop;
    await Promise.allSettled(this.#uploads.values());
  }

  async #run(signal: AbortSignal): Promise<void> {
    const log = this.deps.log;
    while (!signal.aborted) {
      let waitMs = this.deps.pollMs ?? 1000;
      try {
        const open = await this.deps.jobs.open();
        if (open.some((job) => job.state === 'approved')) this.deps.exporter.warm();
        for (const job of open) {
          if (signal.aborted) break;
          if (job.state === 'sealed' || job.state === 'uploading') {
            this.#startUpload(job, signal);
            continue;
          }
          const retryAt = this.#retryAt.get(job.id) ?? 0;
          const now = this.deps.clock.monotonic();
          if (retryAt > now) {
            waitMs = Math.min(waitMs, retryAt - now);
            continue;
          }
          // A step done: the next one (or the upload) starts now, not after a poll.
          if (await this.#local(job, signal)) waitMs = 0;
        }
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'share pipeline step failed');
      }
      await this.#sleep(waitMs, signal);
    }
  }

  /**
   * Export or seal one job, one step; a failure is counted and retried later. True when
   * the step was done.
   */
  async #local(job: JobRecord, signal: AbortSignal): Promise<boolean> {
    try {
      const started = performance.now();
      if (job.state === 'approved') await this.#export(job, signal);
      else if (job.state === 'exported') await this.#seal(job, signal);
      this.deps.log.info(
        {
          job: job.id,
          step: job.state === 'approved' ? 'cut' : 'sealed',
          ms: Math.round(performance.now() - started),
        },
        'share step done',
      );
      this.#retryAt.delete(job.id);
      return true;
    } catch (err) {
      if (signal.aborted) return false;
      const permanent = err instanceof ThresholdError && err.code === 'no_footage';
      if (permanent) {
        await this.#fail(job, 'no footage is left for this clip');
        return true;
      }
      const attempt = job.attempts + 1;
      const backoff = this.deps.backoff ?? { baseMs: 2000, maxMs: 60_000 };
      this.#retryAt.set(
        job.id,
        this.deps.clock.monotonic() + backoffMs(attempt, backoff.baseMs, backoff.maxMs),
      );
      this.deps.log.warn(
        { job: job.id, step: job.state, attempt, err: errorMessage(err) },
        'share step failed; retrying',
      );
      await this.deps.jobs.attemptFailed(job.id, this.deps.clock.now(), errorMessage(err));
      await this.#changed(job.id);
      return false;
    }
  }

  async #export(job: JobRecord, signal: AbortSignal): Promise<void> {
    const files = jobFiles(this.deps.outbox, job);
    const segments = await this.deps.segments.overlapping(job.start, job.end);
    const exported = await this.deps.exporter.export({
      segments,
      fromMs: job.start,
      toMs: job.end,
      output: files.plain,
      mode: job.mode,
      audio: job.audio,
      signal,
    });
    // Not fsynced: the cut lives only until it is sealed, and a restart cuts it again.
    await this.deps.jobs.update(job.id, this.deps.clock.now(), {
      state: 'exported',
      plainBytes: exported.bytes,
      exportFacts: {
        segments: exported.segments.map((segment) => segment.sha256),
        audio: exported.audio,
      },
      lastError: null,
    });
    await this.#changed(job.id);
  }

  async #seal(job: JobRecord, signal: AbortSignal): Promise<void> {
    const files = jobFiles(this.deps.outbox, job);
    const plain = await stat(files.plain).catch(() => null);
    if (!plain || !job.exportFacts) {
      // The cut was lost (a card swapped, a file removed): cut it again.
      await this.deps.jobs.update(job.id, this.deps.clock.now(), { state: 'approved' });
      return;
    }
    const request = await this.deps.requests.get(job.requestId);
    if (!request) throw new ThresholdError('request_not_found', `no request ${job.requestId}`);
    const versions = await this.deps.versions();
    const sealed = await sealClip({
      clip: files.plain,
      exported: {
        segments: job.exportFacts.segments.map((sha256) => ({ sha256 })),
        mode: job.mode,
        audio: job.exportFacts.audio,
      },
      output: files.sealed,
      recipient: new Uint8Array(Buffer.from(request.recipient, 'base64')),
      requestId: job.requestId,
      requestPayloadSha256: request.payloadSha256,
      clipIndex: job.clipIndex,
      fromMs: job.start,
      toMs: job.end,
      decidedAtMs: job.decidedAt,
      clockSync: job.clockSync,
      signer: await this.deps.signer(),
      agentVersion: versions.agent,
      ffmpegVersion: versions.ffmpeg,
      signal,
      logger: this.deps.log,
    });
    const custody = await stat(files.custody);
    await this.deps.db.transaction(async (tx) => {
      await this.deps.jobs.update(
        job.id,
        this.deps.clock.now(),
        {
          state: 'sealed',
          sealedSha256: sealed.sealed.sha256,
          sealedBytes: sealed.sealed.bytes,
          custodyBytes: custody.size,
          plainBytes: null,
          lastError: null,
        },
        tx,
      );
      await this.deps.pins.unpin(sharePinOwner(job.id), tx);
    });
    await rm(files.plain, { force: true });
    await this.#changed(job.id);
  }

  #startUpload(job: JobRecord, signal: AbortSignal): void {
    if (this.#uploads.has(job.id) || this.#uploads.size >= (this.deps.maxUploads ?? 3)) return;
    const upload = this.#upload(job, signal)
      .catch((err: unknown) => {
        if (!signal.aborted) {
          this.deps.log.error({ job: job.id, err: errorMessage(err) }, 'upload stopped');
        }
      })
      .finally(() => {
        this.#uploads.delete(job.id);
        this.wake();
      });
    this.#uploads.set(job.id, upload);
  }

  async #upload(job: JobRecord, signal: AbortSignal): Promise<void> {
    const request = await this.deps.requests.get(job.requestId);
    if (!request) throw new ThresholdError('request_not_found', `no request ${job.requestId}`);
    const files = jobFiles(this.deps.outbox, job);
    const progress = new ProgressWriter(this.deps, job.id);
    const started = performance.now();
    const parts = [
      {
        kind: 'clip',
        file: files.sealed,
        size: job.sealedBytes ?? 0,
        url: job.clipUrl,
        done: job.clipSent >= (job.sealedBytes ?? 1),
      },
      {
        kind: 'custody',
        file: files.custody,
        size: job.custodyBytes ?? 0,
        url: job.custodyUrl,
        done: job.custodySent >= (job.custodyBytes ?? 1),
      },
    ] as const;
    // The clip and its custody record go at once; the agency needs both.
    const both = new AbortController();
    const stop = () => both.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    try {
      await Promise.all(
        parts
          .filter((part) => !part.done)
          .map(async (part) => {
            const urlKey = part.kind === 'clip' ? 'clipUrl' : 'custodyUrl';
            const sentKey = part.kind === 'clip' ? 'clipSent' : 'custodySent';
            try {
              await this.deps.uploader.upload({
                file: part.file,
                endpoint: request.uploadUrl,
                metadata: {
                  requestId: job.requestId,
                  kind: part.kind,
                  clipIndex: job.clipIndex,
                  filename: `${job.name}.${part.kind === 'clip' ? 'tseal' : 'custody'}`,
                },
                ...(part.url ? { resumeUrl: part.url } : {}),
                onUrl: async (url) => {
                  await this.deps.jobs.update(job.id, this.deps.clock.now(), {
                    state: 'uploading',
                    [urlKey]: url,
                  });
                  await this.#changed(job.id);
                },
                onProgress: (sent) => progress.report(sentKey, sent),
                onRetry: ({ attempt, error }) => {
                  this.deps.log.warn(
                    { job: job.id, part: part.kind, attempt, err: error.message },
                    'upload retrying',
                  );
                  void this.deps.jobs
                    .attemptFailed(job.id, this.deps.clock.now(), error.message)
                    .then(() => this.#changed(job.id));
                },
                signal: both.signal,
              });
            } catch (err) {
              // One part refused (or stopped): the other need not go on.
              both.abort(err);
              throw err;
            }
            await progress.flush();
            await this.deps.jobs.update(job.id, this.deps.clock.now(), {
              [sentKey]: part.size,
              lastError: null,
            });
          }),
      );
    } catch (err) {
      if (err instanceof ThresholdError && err.code === 'upload_refused') {
        await this.#fail(job, `the agency refused the upload: ${err.message}`);
        return;
      }
      throw err;
    } finally {
      signal.removeEventListener('abort', stop);
    }
    await this.deps.db.transaction(async (tx) => {
      await this.deps.jobs.update(job.id, this.deps.clock.now(), { state: 'uploaded' }, tx);
      await this.deps.audit.appendIn(tx, {
        kind: AUDIT_KINDS.uploadCompleted,
        requestId: job.requestId,
        detail: {
          clipIndex: job.clipIndex,
          bytes: (job.sealedBytes ?? 0) + (job.custodyBytes ?? 0),
          sealedSha256: job.sealedSha256,
        },
      });
    });
    this.deps.log.info(
      { job: job.id, step: 'uploaded', ms: Math.round(performance.now() - started) },
      'share step done',
    );
    await this.#removeFiles(job);
    await this.#changed(job.id);
  }

  async #fail(job: JobRecord, reason: string): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      await this.deps.jobs.update(
        job.id,
        this.deps.clock.now(),
        { state: 'failed', failure: reason },
        tx,
      );
      await this.deps.pins.unpin(sharePinOwner(job.id), tx);
      await this.deps.audit.appendIn(tx, {
        kind: AUDIT_KINDS.uploadFailed,
        requestId: job.requestId,
        reason: reason.slice(0, 200),
        detail: { clipIndex: job.clipIndex },
      });
    });
    await this.#removeFiles(job);
    await this.#changed(job.id);
  }

  async #removeFiles(job: JobRecord): Promise<void> {
    const files = jobFiles(this.deps.outbox, job);
    for (const path of [files.plain, files.sealed, files.custody]) await rm(path, { force: true });
    await this.deps.storage.fsyncDir(this.deps.outbox);
  }

  /**
   * What a crash left in the outbox: temporary seal outputs and export work folders, and
   * the files of jobs that finished (uploaded or failed) before their files were removed.
   */
  async #removeLeftovers(): Promise<void> {
    const open = new Set((await this.deps.jobs.open()).map((job) => job.name));
    for (const name of await readdir(this.deps.outbox)) {
      const job = name.split('.')[0] ?? '';
      if (name.startsWith('.') || !open.has(job)) {
        await rm(join(this.deps.outbox, name), { recursive: true, force: true });
      }
    }
  }

  async #changed(jobId: number): Promise<void> {
    if (!this.deps.events) return;
    const job = await this.deps.jobs.get(jobId);
    if (job) this.deps.events.emit('job', publicJob(job));
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
      if (signal.aborted) done();
    });
  }
}

/** Writes upload progress to the job row at most once a second. */
class ProgressWriter {
  #last = 0;
  readonly #pending = new Map<'clipSent' | 'custodySent', number>();
  #writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: Pick<SharePipelineDeps, 'jobs' | 'clock' | 'events'>,
    private readonly jobId: number,
  ) {}

  report(key: 'clipSent' | 'custodySent', sent: number): void {
    this.#pending.set(key, sent);
    const now = this.deps.clock.monotonic();
    if (now - this.#last < 1000) return;
    this.#last = now;
    void this.flush();
  }

  flush(): Promise<void> {
    if (this.#pending.size === 0) return this.#writing;
    const change = Object.fromEntries(this.#pending);
    this.#pending.clear();
    this.#writing = this.#writing.then(async () => {
      await this.deps.jobs.update(this.jobId, this.deps.clock.now(), change);
      const job = await this.deps.jobs.get(this.jobId);
      if (job) this.deps.events?.emit('job', publicJob(job));
    });
    return this.#writing;
  }
}
