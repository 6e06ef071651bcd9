import type { RawAudioFormat } from './types.js';

/**
 * ffmpeg arguments for cutting clips, as pure functions (no I/O) so tests can read them.
 * Every process runs without a shell; inputs are our own segment files, joined with the
 * concat protocol (one piece) or an ffconcat list (several), and only the `file` and
 * `concat` protocols (and `pipe` for a list on stdin) are allowed to open anything.
 */

/** Video (and maybe audio) from recorded footage or from the smart cut's parts. */
export interface MediaInput {
  kind: 'mpegts' | 'ffconcat';
  /** `concat:/a.ts|/b.ts` for `mpegts`; the list file, or `pipe:0`, for `ffconcat`. */
  url: string;
  /** Added to every timestamp (after the input's start is moved to 0), seconds. */
  offsetS: number;
}

/** G.711 bytes pulled out of the MPEG-TS private stream (see `rawAudioExtractArgs`). */
export interface RawAudioInput extends RawAudioFormat {
  kind: 'raw';
  path: string;
  offsetS: number;
}

export interface MuxArgsInput {
  video: MediaInput;
  audio?: { input: MediaInput | RawAudioInput; bitrate: number };
  /** Seconds of clip; presentation time 0 is the range start. */
  durationS: number;
  output: string;
  /**
   * Bytes reserved at the front for the `moov` box: the index is written there at the end
   * and the file is not rewritten. Without it, `+faststart` moves the index by rewriting.
   */
  moovBytes?: number;
  progress?: boolean;
}

/** Six decimals: microseconds, ffmpeg's time unit. */
export function seconds(value: number): string {
  const text = value.toFixed(6);
  return text === '-0.000000' ? '0.000000' : text;
}

const COMMON = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'];
const WHITELIST = ['-protocol_whitelist', 'file,concat'];

function inputArgs(input: MediaInput | RawAudioInput): string[] {
  const offset = ['-itsoffset', seconds(input.offsetS)];
  switch (input.kind) {
    case 'mpegts':
      return ['-f', 'mpegts', ...WHITELIST, ...offset, '-i', input.url];
    case 'ffconcat': {
      // A list on stdin (`pipe:0`) needs the pipe protocol; its entries still cannot use it
      // to any effect, as they are our own `file:` and `concat:` URLs.
      const whitelist = input.url === 'pipe:0' ? 'file,concat,pipe' : 'file,concat';
      const list = ['-f', 'concat', '-safe', '0', '-protocol_whitelist', whitelist];
      return [...list, ...offset, '-i', input.url];
    }
    case 'raw':
      return [
        '-f',
        input.codec,
        '-ar',
        String(input.sampleRate),
        '-ac',
        String(input.channels),
        ...offset,
        '-i',
        input.path,
      ];
  }
}

/**
 * The one remux every export ends with: video copied, audio (if any) trimmed to the clip
 * and encoded to AAC, cut at `durationS`, metadata dropped, index at the front.
 *
 * With stream copy, ffmpeg keeps the packets before time 0 (from the keyframe on) with
 * negative timestamps, and the MP4 muxer hides them with an edit list: that is the fast
 * cut. (`-ss` before `-i` is not used: seeking in MPEG-TS lands on any packet, not on a
 * keyframe, so the copy would start at the *next* keyframe, after the range start.)
 */
export function muxArgs(input: MuxArgsInput): string[] {
  const args = [...COMMON];
  if (input.progress) args.push('-progress', 'pipe:1');
  args.push(...inputArgs(input.video));
  if (input.audio) args.push(...inputArgs(input.audio.input));
  args.push('-map', '0:v:0', '-c:v', 'copy');
  if (input.audio) {
    // Sample-exact: the audio before the range start is cut inside its frame.
    args.push('-map', '1:a:0', '-af', 'atrim=start=0', '-c:a', 'aac');
    args.push('-b:a', String(input.audio.bitrate));
  }
  // Half a millisecond short: a frame exactly at the range end is outside it.
  args.push('-t', seconds(Math.max(0.001, input.durationS - 0.0005)));
  args.push('-map_metadata', '-1', '-map_chapters', '-1', '-fflags', '+bitexact');
  if (input.moovBytes !== undefined) args.push('-moov_size', String(input.moovBytes));
  else args.push('-movflags', '+faststart');
  args.push('-f', 'mp4', '-y', input.output);
  return args;
}

/**
 * Bytes to reserve for the `moov` box: per second of clip, up to 60 video and 60 audio
 * samples at up to 24 bytes of index each (size, chunk offset, time, composition offset),
 * plus room for the headers. Too little makes ffmpeg fail at the end (it says so on stderr,
 * though 5.1 exits 0; the export then falls back to `+faststart`); too much only leaves
 * padding.
 */
export function moovReserve(durationS: number, audio: boolean): number {
  const samplesPerSecond = audio ? 120 : 60;
  return Math.ceil(16_384 + durationS * samplesPerSecond * 24);
}

/** AAC bitrate for a source's rate and channels: enough for speech, no more. */
export function aacBitrate(sampleRate: number, channels: number): number {
  return Math.min(128_000, Math.max(24_000, sampleRate * channels * 2));
}

/** Copies the G.711 private stream's payload (raw µ-law/A-law bytes) out of the footage. */
export function rawAudioExtractArgs(video: MediaInput, output: string): string[] {
  const input = inputArgs({ ...video, offsetS: 0 });
  return [...COMMON, ...input, '-map', '0:d:0', '-c', 'copy', '-f', 'data', '-y', output];
}

/** What the re-encoded edge must match so that it joins the copied footage. */
export interface EncodeMatch {
  profile: 'baseline' | 'main' | 'high';
  /** `level_idc`, e.g. 40 for 4.0. */
  level: number;
  pixFmt: 'yuv420p' | 'yuvj420p';
  colorRange?: string;
  colorSpace?: string;
  colorPrimaries?: string;
  colorTransfer?: string;
}

/** libx264 settings whose SPS matches the source's profile, level and format. */
export function x264Args(match: EncodeMatch): string[] {
  // x264 writes the profile its tools imply: CABAC makes Main, 8x8 transforms High.
  const tools = {
    baseline: 'cabac=0:8x8dct=0',
    main: 'cabac=1:8x8dct=0',
    high: 'cabac=1:8x8dct=1',
  }[match.profile];
  const args = ['-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18'];
  args.push('-profile:v', match.profile, '-level', String(match.level));
  args.push('-x264-params', `${tools}:scenecut=0:keyint=infinite:bframes=0`);
  args.push('-pix_fmt', match.pixFmt);
  if (match.colorRange) args.push('-color_range', match.colorRange);
  if (match.colorSpace) args.push('-colorspace', match.colorSpace);
  if (match.colorPrimaries) args.push('-color_primaries', match.colorPrimaries);
  if (match.colorTransfer) args.push('-color_trc', match.colorTransfer);
  // No SEI: x264 writes its version and settings there, nothing a viewer needs.
  args.push('-bsf:v', 'filter_units=remove_types=6');
  return args;
}

export interface EdgeArgsInput {
  /** The segment holding the range start. */
  segment: string;
  /** Re-encoded: the frames with timestamps in [startS, endS) (the segment's own times). */
  head?: { startS: number; endS: number; path: string };
  /** Copied: the packets from the keyframe at timestamp `fromS` to the segment's end. */
  part?: { fromS: number; path: string };
  match: EncodeMatch;
}

/**
 * The smart cut's edge, in one pass over one segment: the frames from the range start to
 * the next keyframe re-encoded (decoding starts at the segment's own first keyframe), and
 * the packets from that keyframe on copied.
 *
 * `-copyts` keeps the file's own timestamps, so both cuts are stated in them: ffmpeg 5.1
 * counts output `-ss` for a decoded stream from that stream's first frame, not from the
 * file's start, which differs when audio opens the segment. The copy drops earlier
 * packets with a `noise` bitstream filter expression, since `-ss` on a copied output beside
 * an encoded one of the same input writes nothing in ffmpeg 5.1. Bounds sit half a
 * millisecond early: a frame exactly on the start is kept, one exactly on the end is not.
 */
export function edgeArgs(input: EdgeArgsInput): string[] {
  const args = [...COMMON, '-copyts', '-f', 'mpegts', ...WHITELIST, '-i', input.segment];
  const { head, part } = input;
  if (head) {
    args.push('-map', '0:v:0', '-an', '-sn', '-dn');
    args.push(
      '-vf',
      `trim=start=${seconds(head.startS - 0.0005)}:end=${seconds(head.endS - 0.0005)}`,
    );
    args.push(...x264Args(input.match), '-fps_mode', 'passthrough');
    args.push('-f', 'mpegts', '-y', head.path);
  }
  if (part) {
    args.push('-map', '0:v:0', '-an', '-sn', '-dn', '-c:v', 'copy');
    args.push('-bsf:v', `noise=drop=lt(pts*tb\\,${seconds(part.fromS - 0.0005)})`);
    args.push('-f', 'mpegts', '-y', part.path);
  }
  return args;
}

/**
 * The whole clip decoded and encoded again: the exact cut for sources the smart cut cannot
 * join (frame reordering, a profile x264 cannot match), and the benchmark's yardstick.
 * The input is an ffconcat list, whose timestamps start at 0 in each entry, shifted by its
 * offset; `-copyts` hands exactly those to the trim (see `edgeArgs`).
 */
export function reencodeArgs(input: {
  video: MediaInput;
  durationS: number;
  output: string;
  match?: EncodeMatch;
  progress?: boolean;
}): string[] {
  const args = [...COMMON];
  if (input.progress) args.push('-progress', 'pipe:1');
  args.push('-copyts', ...inputArgs(input.video), '-map', '0:v:0', '-an', '-sn', '-dn');
  // Frames before time 0 are decoded (they are references) and dropped by the trim.
  args.push('-vf', `trim=start=${seconds(-0.0005)}:end=${seconds(input.durationS - 0.0005)}`);
  if (input.match) args.push(...x264Args(input.match));
  else args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', '-bf', '0');
  args.push('-fps_mode', 'passthrough', '-f', 'mpegts', '-y', input.output);
  return args;
}
