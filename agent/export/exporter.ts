import { chmod, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { audioSource, DEFAULT_RAW_AUDIO } from './audio.js';
import { ClipProber } from './clip-prober.js';
import { type MuxArgsInput, moovReserve } from './ffmpeg-args.js';
import { muxAndProbe, probeWhileMaking } from './mux.js';
import { type ExportPlan, planExport } from './plan.js';
import { type ClipProbe, isRunStart, probeSegment } from './probe.js';
import { RemuxUnsupported } from './remux/errors.js';
import { type RemuxInput, remuxClip } from './remux/remux.js';
import { makeThumbnail } from './thumbnail.js';
import {
  ExportError,
  type ExportRequest,
  type ExportResult,
  exportCancelled,
  type RawAudioFormat,
} from './types.js';
import { type ClipExpectation, checkClip, clipProblems, layoutProblems } from './verify.js';
import { cutVideo } from './video-cut.js';

export interface ExporterDeps {
  ffmpegPath: string;
  ffprobePath: string;
  logger?: Logger;
  /** What the recorder's G.711 private stream holds; µ-law 8 kHz mono unless told. */
  rawAudio?: RawAudioFormat;
  /** Thumbnail width in pixels (320 unless told). */
  thumbnailWidth?: number;
  /** The in-process remux of a fast cut; `remuxClip` unless told. */
  remux?: (input: RemuxInput) => Promise<unknown>;
}

/**
 * Cuts clips out of recorded footage (DESIGN.md, "Export"): plan the pieces, then write an
 * MP4 with its index at the front and check it with ffprobe. A fast cut of video alone is
 * remuxed in process; everything else (audio, the smart cut, footage the remux does not
 * handle, a remuxed clip that fails its check) goes through ffmpeg: probe the first
 * segment when needed, cut, mux. Work happens
 * in a private directory beside the output; the MP4 appears under its name only once
 * checked, and a failure or an abort leaves nothing behind.
 */
export class Exporter {
  private readonly prober: ClipProber;

  constructor(private readonly deps: ExporterDeps) {
    this.prober = new ClipProber(deps.ffprobePath);
  }

  /**
   * Gets the next export's clip check ready now (see `ClipProber`): call it when an
   * export is likely soon, and `close` when done with the exporter.
   */
  warm(): void {
    this.prober.warm();
  }

  close(): void {
    this.prober.close();
  }

  async export(request: ExportRequest): Promise<ExportResult> {
    const plan = planExport(request.segments, request.fromMs, request.toMs);
    const output = resolve(request.output);
    const workDir = await mkdtemp(join(dirname(output), '.export-'));
    const { signal } = request;
    const report = request.onProgress ?? (() => {});
    const clip = join(workDir, 'clip.mp4');
    // The smart cut's edge encode runs beside later steps; it is waited for before the work
    // directory goes, so no ffmpeg outlives the export.
    const pending: Promise<unknown>[] = [];
    try {
      const made =
        (request.mode === 'fast' && !request.audio
          ? await this.remuxed(plan, clip, signal, report)
          : undefined) ?? (await this.withFfmpeg(plan, request, workDir, clip, report, pending));
      const checked = checkClip(made.probed, made.expected);
      const layout = await layoutProblems(clip);
      if (layout.length > 0) {
        throw new ExportError(
          'export_invalid_output',
          `the clip failed its check: ${layout.join('; ')}`,
        );
      }
      const thumbnail = request.thumbnail
        ? await makeThumbnail(
            this.deps.ffmpegPath,
            {
              input: clip,
              atS: checked.durationS / 2,
              output: join(workDir, 'thumbnail.jpg'),
              width: this.deps.thumbnailWidth ?? 320,
            },
            signal,
          )
        : undefined;
      if (signal?.aborted) throw exportCancelled(signal);
      // Footage is the owner's: whichever way it was cut, only they can read the clip.
      await chmod(clip, 0o600);
      await rename(clip, output);
      if (thumbnail && request.thumbnail) await rename(thumbnail, resolve(request.thumbnail));
      report(1);
      const bytes = (await stat(output)).size;
      this.deps.logger?.debug(
        {
          component: 'export',
          method: made.method,
          by: made.by,
          durationS: checked.durationS,
          bytes,
        },
        'clip exported',
      );
      return {
        output,
        bytes,
        durationS: checked.durationS,
        plannedS: made.expected.durationS,
        mode: request.mode,
        method: made.method,
        audio: !request.audio ? 'dropped' : made.expected.audio ? 'included' : 'absent',
        gaps: plan.gaps,
        segments: plan.pieces.flatMap((piece) => [...piece.segments]),
        ...(request.thumbnail ? { thumbnail: resolve(request.thumbnail) } : {}),
      };
    } finally {
      await Promise.allSettled(pending);
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /**
   * The fast cut of video alone, in process (see `remuxClip`): no ffmpeg to start. Footage
   * it does not handle gives undefined, and the caller uses ffmpeg; so does a clip that
   * fails its check, which says the remux went wrong where ffmpeg may not (logged as a
   * warning: it is a fault to look into, not footage to expect).
   */
  private async remuxed(
    plan: ExportPlan,
    clip: string,
    signal: AbortSignal | undefined,
    report: (fraction: number) => void,
  ): Promise<Made | undefined> {
    const remux = this.deps.remux ?? remuxClip;
    let probed: ClipProbe;
    try {
      probed = await probeWhileMaking(
        this.prober,
        clip,
        async () => {
          await remux({
            pieces: plan.pieces,
            durationS: plan.durationS,
            output: clip,
            ...(signal ? { signal } : {}),
            report,
          });
        },
        signal,
      );
    } catch (err) {
      if (!(err instanceof RemuxUnsupported)) throw err;
      this.deps.logger?.info({ component: 'export', reason: err.message }, 'cutting with ffmpeg');
      await rm(clip, { force: true });
      return undefined;
    }
    const expected = { durationS: plan.durationS };
    const problems = [...clipProblems(probed, expected), ...(await layoutProblems(clip))];
    if (problems.length > 0) {
      this.deps.logger?.warn(
        { component: 'export', problems },
        'the remuxed clip failed its check; cutting with ffmpeg',
      );
      await rm(clip, { force: true });
      return undefined;
    }
    return { probed, expected, method: 'copy', by: 'remux' };
  }

  /** Every cut with ffmpeg: probe the first segment when needed, cut, mux, probe the clip. */
  private async withFfmpeg(
    plan: ExportPlan,
    request: ExportRequest,
    workDir: string,
    clip: string,
    report: (fraction: number) => void,
    pending: Promise<unknown>[],
  ): Promise<Made> {
    const { signal } = request;
    const withSignal = signal ? { signal } : {};
    const first = plan.pieces[0]?.segments[0];
    if (!first) throw new ExportError('no_footage', 'no footage in the range');
    // A copy starting inside a run needs no probe: the segment starts with the keyframe
    // its stream time names (see `fileOffsetS`).
    const probe =
      request.audio || request.mode === 'exact' || isRunStart(first)
        ? await probeSegment(this.deps.ffprobePath, first.path, { packets: true, ...withSignal })
        : undefined;
    const cut = await cutVideo({
      ffmpegPath: this.deps.ffmpegPath,
      plan,
      mode: request.mode,
      ...(probe ? { probe } : {}),
      workDir,
      ...withSignal,
      report,
      ...(this.deps.logger ? { logger: this.deps.logger } : {}),
    });
    if (cut.list) pending.push(cut.list);
    const audio =
      request.audio && probe
        ? await audioSource({
            ffmpegPath: this.deps.ffmpegPath,
            rawFormat: this.deps.rawAudio ?? DEFAULT_RAW_AUDIO,
            probe,
            pieces: plan.pieces,
            workDir,
            originS: cut.originS ?? 0,
            ...withSignal,
          })
        : undefined;
    const mux: MuxArgsInput = {
      video: cut.video,
      ...(audio ? { audio } : {}),
      durationS: cut.durationS,
      output: clip,
      moovBytes: moovReserve(cut.durationS, audio !== undefined),
      progress: true,
    };
    const base = { copy: 0, 'smart-cut': 0.2, 're-encode': 0.85 }[cut.method];
    const probed = await muxAndProbe({
      ffmpegPath: this.deps.ffmpegPath,
      prober: this.prober,
      mux,
      ...(cut.list ? { list: cut.list } : {}),
      ...withSignal,
      report: (f) => report(base + (1 - base) * f),
      ...(this.deps.logger ? { logger: this.deps.logger } : {}),
    });
    return { probed, expected: mux, method: cut.method, by: 'ffmpeg' };
  }
}

/** A clip written into the work directory, with what ffprobe read of it. */
interface Made {
  probed: ClipProbe;
  /** What the clip must hold (see `checkClip`). */
  expected: ClipExpectation;
  method: ExportResult['method'];
  by: 'remux' | 'ffmpeg';
}
