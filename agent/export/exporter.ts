import { mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { audioSource, DEFAULT_RAW_AUDIO } from './audio.js';
import { type MuxArgsInput, moovReserve } from './ffmpeg-args.js';
import { muxAndProbe } from './mux.js';
import { planExport } from './plan.js';
import { isRunStart, probeSegment } from './probe.js';
import { makeThumbnail } from './thumbnail.js';
import {
  ExportError,
  type ExportRequest,
  type ExportResult,
  type RawAudioFormat,
} from './types.js';
import { checkClip, layoutProblems } from './verify.js';
import { cutVideo } from './video-cut.js';

export interface ExporterDeps {
  ffmpegPath: string;
  ffprobePath: string;
  logger?: Logger;
  /** What the recorder's G.711 private stream holds; µ-law 8 kHz mono unless told. */
  rawAudio?: RawAudioFormat;
  /** Thumbnail width in pixels (320 unless told). */
  thumbnailWidth?: number;
}

/**
 * Cuts clips out of recorded footage (DESIGN.md, "Export"): plan the pieces, probe the
 * first segment when the cut needs it, cut the video, mux (with the audio, if asked) into
 * an MP4 with its index at the front, check it with ffprobe. Work happens in a private
 * directory beside the output; the MP4 appears under its name only once checked, and a
 * failure or an abort leaves nothing behind.
 */
export class Exporter {
  constructor(private readonly deps: ExporterDeps) {}

  async export(request: ExportRequest): Promise<ExportResult> {
    const plan = planExport(request.segments, request.fromMs, request.toMs);
    const output = resolve(request.output);
    const workDir = await mkdtemp(join(dirname(output), '.export-'));
    const { signal } = request;
    const withSignal = signal ? { signal } : {};
    const report = request.onProgress ?? (() => {});
    // The smart cut's edge encode runs beside later steps; it is waited for before the work
    // directory goes, so no ffmpeg outlives the export.
    let edgeDone: Promise<unknown> | undefined;
    try {
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
      edgeDone = cut.list;
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
      const clip = join(workDir, 'clip.mp4');
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
        ffprobePath: this.deps.ffprobePath,
        mux,
        ...(cut.list ? { list: cut.list } : {}),
        ...withSignal,
        report: (f) => report(base + (1 - base) * f),
        ...(this.deps.logger ? { logger: this.deps.logger } : {}),
      });
      const checked = checkClip(probed, mux);
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
      if (signal?.aborted) {
        throw new ExportError('export_cancelled', 'the export was cancelled', {
          cause: signal.reason,
        });
      }
      await rename(clip, output);
      if (thumbnail && request.thumbnail) await rename(thumbnail, resolve(request.thumbnail));
      report(1);
      const bytes = (await stat(output)).size;
      this.deps.logger?.debug(
        { component: 'export', method: cut.method, durationS: checked.durationS, bytes },
        'clip exported',
      );
      return {
        output,
        bytes,
        durationS: checked.durationS,
        plannedS: cut.durationS,
        mode: request.mode,
        method: cut.method,
        audio: !request.audio ? 'dropped' : audio ? 'included' : 'absent',
        gaps: plan.gaps,
        segments: plan.pieces.flatMap((piece) => [...piece.segments]),
        ...(request.thumbnail ? { thumbnail: resolve(request.thumbnail) } : {}),
      };
    } finally {
      await edgeDone;
      await rm(workDir, { recursive: true, force: true });
    }
  }
}
