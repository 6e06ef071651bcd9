import { mkdir, rm } from 'node:fs/promises';
import type { CameraSource, CameraStream, Clock } from '../../hal/interfaces.js';
import type { Database } from '../db/database.js';
import { errorMessage } from '../errors.js';
import { backoffMs, delay, type Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { AgentState, RecorderStatus } from '../state.js';
import {
  parseSegmentFileName,
  parseSegmentListLine,
  recordArgs,
  SceneScoreParser,
} from './ffmpeg-args.js';
import { FfmpegProcess } from './ffmpeg-process.js';
import type { MotionStore } from './motion-store.js';
import type { Retention } from './retention.js';
import { SceneMotionDetector } from './scene-motion.js';
import type { SegmentStore } from './segment-store.js';
import { killStaleProcess, writePidFile } from './stale-process.js';
import { WallClockMap } from './wall-clock-map.js';

export interface RecorderDeps {
  camera: CameraSource;
  db: Database;
  store: SegmentStore;
  motion: MotionStore;
  retention: Retention;
  state: AgentState;
  clock: Clock;
  log: Logger;
  settings: {
    /** Where the running ffmpeg's pid is kept, so a restart after a crash can stop it. */
    pidFile: string;
    ffmpegPath: string;
    segmentSeconds: number;
    stallSeconds: number;
    /** Scene score threshold, or null when scene motion detection is off. */
    sceneThreshold: number | null;
  };
  /** Fan-out for the rest of the agent (status page, request matcher). */
  onSegment?: (segment: { id: number; startMs: number; endMs: number }) => void;
  onStatus?: (status: RecorderStatus) => void;
}

type RunEnd = 'camera_lost' | 'stalled' | 'paused' | 'stopped' | 'ffmpeg_failed';

/**
 * Pulls the camera with ffmpeg into the segment buffer, one ffmpeg run at a time: a run
 * ends when the camera goes away, ffmpeg stalls (no segment closed for `stallSeconds`) or
 * fails; the recorder then starts a new run with backoff. The space between runs is the
 * gap, visible in the index and in `recorder_runs`.
 *
 * INVARIANTS: one ffmpeg at a time; segment lines of a run are handled strictly in
 * order (a promise chain), so the index grows in time order.
 */
export class Recorder implements Service {
  readonly name = 'recorder';
  readonly #abort = new AbortController();
  #loop: Promise<void> | null = null;
  #current: FfmpegProcess | null = null;
  #status: RecorderStatus = { state: 'stopped', since: 0 };
  /** Size of the last segment closed: room for the next one is kept free. */
  #segmentBytes = 0;

  constructor(private readonly deps: RecorderDeps) {}

  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => this.#abort.abort(), { once: true });
    await mkdir(this.deps.store.dir, { recursive: true, mode: 0o700 });
    if (await killStaleProcess(this.deps.settings.pidFile, this.deps.store.dir)) {
      this.deps.log.warn('stopped an ffmpeg left running by a previous agent');
    }
    const report = await this.deps.store.reconcile();
    if (report.suspectedUnmounted) {
      await this.#setStatus({
        state: 'starting',
        lastError: {
          at: this.deps.clock.now(),
          message: `${report.missingCount} indexed segment files are missing (is the storage mounted?); nothing was deleted`,
        },
      });
    }
    this.deps.log.info(report, 'reconciled segment index with directory');
    const lastEnd = await this.deps.db.get<{ end: number | null }>(
      'SELECT MAX(end_ms) AS end FROM segments',
    );
    await this.deps.motion.closeDangling((start) => Math.max(start, lastEnd?.end ?? start));
    await this.deps.db.run(
      "UPDATE recorder_runs SET ended_at = ?, end_reason = 'agent_stopped' WHERE ended_at IS NULL",
      [this.deps.clock.now()],
    );
    this.#loop = this.#run().catch((err) => this.deps.log.error({ err }, 'recorder loop failed'));
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#current?.terminate(3000);
    await this.#loop;
    await this.deps.camera.close();
    await this.#setStatus({ state: 'stopped' });
  }

  status(): RecorderStatus {
    return this.#status;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let attempt = 0;
    while (!signal.aborted) {
      try {
        if (this.#status.state === 'paused') await this.#waitForSpace(signal);
        // Asked each run: an emulated camera that died is started again.
        const stream = await this.deps.camera.open(signal);
        await this.#setStatus({
          state: this.#status.state === 'stopped' ? 'starting' : this.#status.state,
        });
        const { end, segments, detail } = await this.#runOnce(stream);
        if (signal.aborted) break;
        if (end === 'paused') continue;
        if (segments > 0) attempt = 0;
        await this.#setStatus({
          state: 'reconnecting',
          lastError: { at: this.deps.clock.now(), message: `${end}: ${detail}` },
        });
        this.deps.log.warn({ end, detail, attempt }, 'recorder run ended; restarting');
      } catch (err) {
        if (signal.aborted) break;
        await this.#setStatus({
          state: 'reconnecting',
          lastError: { at: this.deps.clock.now(), message: errorMessage(err) },
        });
        this.deps.log.error({ err: errorMessage(err) }, 'recorder error');
      }
      await delay(backoffMs(attempt++, 500, 5000), signal).catch(() => undefined);
    }
  }

  async #runOnce(stream: CameraStream): Promise<{ end: RunEnd; segments: number; detail: string }> {
    const { deps } = this;
    const { settings } = deps;
    const run = await deps.db.run('INSERT INTO recorder_runs (started_at) VALUES (?)', [
      deps.clock.now(),
    ]);
    const runId = run.lastId;
    const map = new WallClockMap();
    const detector =
      settings.sceneThreshold === null ? null : new SceneMotionDetector(settings.sceneThreshold);
    const scores = new SceneScoreParser();
    let openMotion: Promise<number> | null = null;
    let chain: Promise<void> = Promise.resolve();
    let segments = 0;
    let end: RunEnd | null = null;
    let lastActivity = deps.clock.monotonic();

    const handleMotion = (timeMs: number, score: number) => {
      const change = detector?.push(timeMs, score);
      if (change?.opened) openMotion = deps.motion.open(change.opened);
      if (change?.closed && openMotion) {
        const closed = change.closed;
        const opened = openMotion;
        openMotion = null;
        chain = chain.then(async () =>
          deps.motion.close(await opened, closed.end ?? closed.start, closed.score),
        );
      }
    };

    const ffmpeg = new FfmpegProcess(
      settings.ffmpegPath,
      recordArgs({
        url: stream.url,
        segmentsDir: deps.store.dir,
        runId,
        segmentSeconds: settings.segmentSeconds,
        scene: detector !== null,
        ioTimeoutSeconds: Math.max(2, settings.stallSeconds / 2),
      }),
      {
        stdoutLine: (line) => {
          const entry = parseSegmentListLine(line);
          const name = entry && parseSegmentFileName(entry.file);
          if (!entry || !name) return;
          lastActivity = deps.clock.monotonic();
          const placed = map.place(entry.ptsStart, entry.ptsEnd, deps.clock.now());
          chain = chain.then(async () => {
            const added = await deps.store.add({ runId, seq: name.seq, ...entry, ...placed });
            segments += 1;
            this.#segmentBytes = added.bytes;
            deps.onSegment?.({ id: added.id, ...placed });
            const outcome = await deps.retention.enforce(this.#headroom());
            if (outcome.blocked && end === null) {
              end = 'paused';
              await this.#pause(outcome.pinnedBytes);
              void ffmpeg.terminate(3000);
            } else if (end === null && this.#status.state !== 'recording') {
              await this.#setStatus({ state: 'recording' });
            }
            await this.#heartbeat();
          });
          chain = chain.catch((err) =>
            deps.log.error({ err: errorMessage(err) }, 'indexing a segment failed'),
          );
        },
        fd3Line: (line) => {
          const sample = scores.push(line);
          const time = sample && map.toWall(sample.ptsTime);
          if (sample && time !== null && time !== undefined) handleMotion(time, sample.score);
        },
      },
    );
    this.#current = ffmpeg;
    if (ffmpeg.pid !== undefined) await writePidFile(settings.pidFile, ffmpeg.pid);
    const watchdog = setInterval(() => {
      if (deps.clock.monotonic() - lastActivity > settings.stallSeconds * 1000 && end === null) {
        end = 'stalled';
        ffmpeg.kill();
      }
    }, 1000);
    try {
      const exit = await ffmpeg.exited;
      await chain;
      const last = detector?.flush();
      if (last && openMotion)
        await deps.motion.close(await openMotion, last.end ?? last.start, last.score);
      if (this.#abort.signal.aborted) end ??= 'stopped';
      end ??= segments > 0 ? 'camera_lost' : 'ffmpeg_failed';
      const detail =
        ffmpeg.stderrTail().split('\n').slice(-3).join(' | ') || `exit code ${exit.code}`;
      return { end, segments, detail };
    } finally {
      clearInterval(watchdog);
      this.#current = null;
      await rm(settings.pidFile, { force: true });
      await deps.db.run('UPDATE recorder_runs SET ended_at = ?, end_reason = ? WHERE id = ?', [
        deps.clock.now(),
        end ?? 'stopped',
        runId,
      ]);
    }
  }

  async #pause(pinnedBytes: number): Promise<void> {
    const held = (pinnedBytes / 1e6).toFixed(1);
    const reason = `storage is full: what is left is ${held} MB held for pending requests or uploads, and the last seconds of footage`;
    this.deps.log.warn({ pinnedBytes }, 'recording paused: only pinned footage is left');
    await this.#setStatus({ state: 'paused', pauseReason: reason });
  }

  /** While paused: re-checks every few seconds whether space can be made again. */
  async #waitForSpace(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const outcome = await this.deps.retention.enforce(this.#headroom());
      if (!outcome.blocked) {
        this.deps.log.info('recording resumes: space is available again');
        await this.#setStatus({ state: 'starting' });
        return;
      }
      await this.#heartbeat();
      await delay(2000, signal).catch(() => undefined);
    }
  }

  /** Room for the segment being written and the next: resuming needs as much. */
  #headroom(): number {
    return this.#segmentBytes * 2;
  }

  async #heartbeat(): Promise<void> {
    await this.#setStatus({ heartbeat: this.deps.clock.now() });
  }

  async #setStatus(change: Partial<RecorderStatus>): Promise<void> {
    const stateChanged = change.state !== undefined && change.state !== this.#status.state;
    const next: RecorderStatus = { ...this.#status, ...change };
    if (stateChanged) next.since = this.deps.clock.now();
    if (change.state && change.state !== 'paused') delete next.pauseReason;
    this.#status = next;
    await this.deps.state.set('recorder', next);
    if (stateChanged) this.deps.onStatus?.(next);
  }
}
