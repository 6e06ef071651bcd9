/**
 * ffmpeg arguments for recording, as pure functions (no I/O) so tests can read them.
 * One ffmpeg process per recorder run:
 *  - output 1: the camera's streams copied (no re-encoding) into MPEG-TS segments cut at
 *    keyframes, timestamps continuous across segments (no `-reset_timestamps`), so
 *    consecutive segments join byte for byte; each closed segment is announced as a CSV
 *    line `file,start,end` (stream seconds) on stdout (`-segment_list pipe:1`);
 *  - output 2 (scene motion): keyframes only (`-skip_frame nokey` touches the decoder,
 *    never the copied streams), scaled down, compared by the `scdet` filter, whose mean
 *    absolute frame difference (`lavfi.scd.mafd`, 0–100) the `metadata` filter prints to
 *    fd 3, unbuffered (`direct=1`: a few bytes a second would otherwise sit in a 32 KiB
 *    buffer for minutes). (The `select` filter's scene score is made to find cuts: it stays low while
 *    motion goes on steadily. `scdet`'s threshold of 100 means it never reports a cut.) (ffmpeg's `pipe:3`
 *    protocol, escaped twice: once for the filtergraph, once for the option; Node's stdio
 *    pipes are sockets, which `/dev/fd/3` cannot open.)
 */

export interface RecordArgsInput {
  url: string;
  /** Directory the segment files go to. */
  segmentsDir: string;
  /** File name prefix; names come from internal ids only (`<run>-<seq>.ts`). */
  runId: number;
  segmentSeconds: number;
  /** Score scene changes between keyframes. */
  scene: boolean;
  /** Socket I/O timeout: a camera silent this long ends the run. */
  ioTimeoutSeconds: number;
}

/** The name ffmpeg gives segment `seq` of run `runId` (`-segment_start_number 0`). */
export function segmentFileName(runId: number, seq: number): string {
  return `${runId}-${String(seq).padStart(6, '0')}.ts`;
}

/** Parses a name made by `segmentFileName`; null for anything else. */
export function parseSegmentFileName(name: string): { runId: number; seq: number } | null {
  const match = /^(\d+)-(\d{6,})\.ts$/.exec(name);
  if (!match?.[1] || !match[2]) return null;
  return { runId: Number(match[1]), seq: Number(match[2]) };
}

/**
 * The segment muxer's output pattern for run `runId` in `dir`. ffmpeg expands it with
 * `av_get_frame_filename` (libavformat), where `%` starts a field: `%d`/`%06d` take
 * the segment number (once only), `%%` is a literal `%`, anything else is an invalid
 * template. So a `%` in the directory (a data directory may be named anything) is written
 * `%%`. The segment list (`-segment_list`) names files by their base name, as ffmpeg made
 * them, so `parseSegmentListLine` reads them unescaped.
 */
export function segmentPattern(dir: string, runId: number): string {
  return `${dir.replaceAll('%', '%%')}/${runId}-%06d.ts`;
}

export const SCENE_WIDTH = 320;

export function recordArgs(input: RecordArgsInput): string[] {
  const isRtsp = /^rtsps?:/i.test(input.url);
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning'];
  if (isRtsp) {
    args.push(
      '-rtsp_transport',
      'tcp',
      '-timeout',
      String(Math.round(input.ioTimeoutSeconds * 1e6)),
    );
  }
  // Start quickly: the camera's parameters are in its SDP and first keyframe.
  args.push('-analyzeduration', '1000000', '-probesize', '1000000', '-fflags', '+genpts');
  if (input.scene) args.push('-skip_frame', 'nokey');
  args.push('-i', input.url);
  args.push(
    '-map',
    '0:v:0',
    '-map',
    '0:a:0?',
    '-c',
    'copy',
    '-f',
    'segment',
    '-segment_format',
    'mpegts',
    '-segment_time',
    String(input.segmentSeconds),
    '-segment_start_number',
    '0',
    '-segment_list',
    'pipe:1',
    '-segment_list_type',
    'csv',
    segmentPattern(input.segmentsDir, input.runId),
  );
  if (input.scene) {
    args.push(
      '-map',
      '0:v:0',
      '-an',
      '-vf',
      `scale=${SCENE_WIDTH}:-2,scdet=threshold=100,metadata=mode=print:key=lavfi.scd.mafd:direct=1:file=pipe\\\\\\:3`,
      '-f',
      'null',
      '-',
    );
  }
  return args;
}

/** One closed segment as ffmpeg's CSV segment list announces it. */
export interface SegmentListEntry {
  file: string;
  ptsStart: number;
  ptsEnd: number;
}

/** Parses a `-segment_list_type csv` line (`file,start,end`); null if malformed. */
export function parseSegmentListLine(line: string): SegmentListEntry | null {
  const parts = line.trim().split(',');
  if (parts.length !== 3) return null;
  const [file, start, end] = parts as [string, string, string];
  const ptsStart = Number(start);
  const ptsEnd = Number(end);
  if (!parseSegmentFileName(file) || !Number.isFinite(ptsStart) || !Number.isFinite(ptsEnd)) {
    return null;
  }
  if (ptsEnd < ptsStart) return null;
  return { file, ptsStart, ptsEnd };
}

/**
 * Reads the `metadata=mode=print` output: `frame:N pts:P pts_time:T` then
 * `lavfi.scd.mafd=S`. Feed it lines; it returns a sample when a score completes one.
 */
export class SceneScoreParser {
  #time: number | null = null;

  push(line: string): { ptsTime: number; score: number } | null {
    const frame = /pts_time:(-?[\d.]+)/.exec(line);
    if (frame?.[1] !== undefined) {
      this.#time = Number(frame[1]);
      return null;
    }
    const score = /^lavfi\.scd\.mafd=([\d.]+)/.exec(line.trim());
    if (score?.[1] !== undefined && this.#time !== null) {
      const sample = { ptsTime: this.#time, score: Number(score[1]) };
      this.#time = null;
      return sample;
    }
    return null;
  }
}
