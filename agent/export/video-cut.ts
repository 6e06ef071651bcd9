import { join } from 'node:path';
import type { Logger } from '../log.js';
import { ffconcatText, fileUrl, footageInput, listInput, pieceEntries } from './concat-list.js';
import { edgeArgs, type MediaInput, reencodeArgs } from './ffmpeg-args.js';
import { progressReader, runMediaTool } from './media-tool.js';
import type { ExportPlan } from './plan.js';
import { fileOffsetS, type SegmentProbe } from './probe.js';
import { edgeFiles, exactDuration, exactEntries, planEdge } from './smart-cut.js';
import type { CutMode, ExportResult } from './types.js';

/** Settled at once into a value, so an edge failing before the mux waits is not lost. */
export type ListOutcome = { text: string } | { error: unknown };

/** The video side of a clip, ready for the final mux. */
export interface VideoCut {
  video: MediaInput;
  /**
   * The ffconcat list the mux reads from its stdin (`video.url` is `pipe:0`), given once
   * the smart cut's edge is written, or the edge's error. The mux starts meanwhile, so that
   * loading ffmpeg overlaps the encoding.
   */
  list?: Promise<ListOutcome>;
  durationS: number;
  method: ExportResult['method'];
  /** Stream time of the clip's time 0 in the first segment's timestamps, if probed. */
  originS?: number;
}

export interface VideoCutInput {
  ffmpegPath: string;
  plan: ExportPlan;
  mode: CutMode;
  /** The first segment's probe; fast cuts inside a run go without. */
  probe?: SegmentProbe;
  workDir: string;
  signal?: AbortSignal;
  report: (fraction: number) => void;
  logger?: Logger;
}

/**
 * Decides how the video is cut and does the work that must precede the final mux: none for
 * a copy, the edge for a smart cut, everything for a re-encode.
 */
export async function cutVideo(input: VideoCutInput): Promise<VideoCut> {
  const { plan, probe, workDir, signal } = input;
  const [firstPiece] = plan.pieces;
  const first = firstPiece?.segments[0];
  if (!firstPiece || !first) throw new RangeError('a plan has at least one piece');
  const fileOffset = probe ? fileOffsetS(probe, first) : undefined;
  // The clip's start in the first segment's timestamps; ffmpeg counts the input's time
  // from the file's earliest packet, so the copy shifts by the difference.
  const originS = fileOffset !== undefined ? first.ptsStart + fileOffset + firstPiece.offsetS : 0;
  const copyOffset = probe ? originS - probe.startS : firstPiece.offsetS;
  const copy = async (): Promise<VideoCut> => ({
    video: await footageInput(plan.pieces, workDir, -copyOffset),
    durationS: plan.durationS,
    method: 'copy',
    ...(probe ? { originS } : {}),
  });
  if (input.mode === 'fast' || !probe || fileOffset === undefined) return copy();
  const edge = planEdge(probe, firstPiece, fileOffset);
  if ('unsupported' in edge) {
    input.logger?.info({ component: 'export', reason: edge.unsupported }, 're-encoding');
    const reencoded = join(workDir, 'reencoded.ts');
    const footage = await listInput(
      pieceEntries(plan.pieces),
      workDir,
      -copyOffset,
      'all.ffconcat',
    );
    await runMediaTool(
      input.ffmpegPath,
      reencodeArgs({
        video: footage,
        durationS: plan.durationS,
        output: reencoded,
        progress: true,
      }),
      {
        ...(signal ? { signal } : {}),
        onLine: progressReader(plan.durationS, (f) => input.report(0.85 * f)),
      },
    );
    return {
      video: { kind: 'mpegts', url: fileUrl(reencoded), offsetS: 0 },
      durationS: plan.durationS,
      method: 're-encode',
      originS,
    };
  }
  // Starting on the segment's own first frame: nothing to re-encode, nothing to split.
  if (!edge.head && Math.abs(edge.originS - probe.videoStartS) < 0.0005) return copy();
  const files = edgeFiles(workDir);
  const args = edgeArgs({
    segment: first.path,
    match: edge.match,
    ...(edge.head
      ? { head: { startS: edge.head.startS, endS: edge.head.endS, path: files.head } }
      : {}),
    ...(edge.part ? { part: { fromS: edge.part.fromS, path: files.part } } : {}),
  });
  const written =
    edge.head || edge.part
      ? runMediaTool(input.ffmpegPath, args, signal ? { signal } : {})
      : Promise.resolve('');
  const entries = exactEntries(edge, plan.pieces, files);
  return {
    video: { kind: 'ffconcat', url: 'pipe:0', offsetS: 0 },
    list: written.then(
      () => {
        input.report(0.2);
        return { text: ffconcatText(entries) };
      },
      (error: unknown) => ({ error }),
    ),
    durationS: exactDuration(edge, plan.pieces),
    method: 'smart-cut',
    originS: edge.originS,
  };
}
