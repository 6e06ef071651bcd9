import { createReadStream } from 'node:fs';
import { pipeline, type Writable } from 'node:stream';
import { z } from 'zod';
import { MediaToolError } from '../errors.js';
import { runMediaTool } from './media-tool.js';

/**
 * ffprobe for the exporter: what a segment holds (the smart cut's keyframes, the audio's
 * kind and start) and what a finished clip holds. ffprobe's JSON is outside input: it is
 * parsed by a schema, numbers arrive as strings.
 */

const num = z.union([z.number(), z.string()]).transform(Number).pipe(z.number());
const optionalText = z
  .string()
  .transform((value) => (value === 'unknown' ? undefined : value))
  .optional();

const streamSchema = z.object({
  index: z.number().int(),
  codec_type: z.string(),
  codec_name: z.string().optional(),
  profile: z.string().optional(),
  level: z.number().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  pix_fmt: z.string().optional(),
  has_b_frames: z.number().optional(),
  color_range: optionalText,
  color_space: optionalText,
  color_primaries: optionalText,
  color_transfer: optionalText,
  sample_rate: num.optional(),
  channels: z.number().optional(),
  start_time: num.optional(),
  r_frame_rate: z.string().optional(),
});

const packetSchema = z.object({
  stream_index: z.number().int(),
  pts_time: num.optional(),
  dts_time: num.optional(),
  duration_time: num.optional(),
  flags: z.string().optional(),
});

const probeSchema = z.object({
  streams: z.array(streamSchema).default([]),
  packets: z.array(packetSchema).default([]),
  format: z.object({ start_time: num.optional(), duration: num.optional() }).optional(),
});

export type ProbedStream = z.infer<typeof streamSchema>;

export interface VideoPacket {
  ptsS: number;
  dtsS: number;
  durationS?: number;
  key: boolean;
}

export interface SegmentProbe {
  /** The file's start time as ffmpeg's `-ss` counts from it (earliest stream), seconds. */
  startS: number;
  video: ProbedStream;
  /** The first video packet's time: the segment's keyframe. */
  videoStartS: number;
  audio?: { kind: 'native'; stream: ProbedStream } | { kind: 'private'; startS: number };
  /** Video packets in presentation order; empty unless asked for. */
  packets: VideoPacket[];
}

const STREAM_ENTRIES =
  'stream=index,codec_type,codec_name,profile,level,width,height,pix_fmt,has_b_frames,' +
  'color_range,color_space,color_primaries,color_transfer,sample_rate,channels,start_time,' +
  'r_frame_rate';

export function segmentProbeArgs(path: string, packets: boolean): string[] {
  const entries = packets
    ? `${STREAM_ENTRIES}:format=start_time:packet=stream_index,pts_time,dts_time,duration_time,flags`
    : `${STREAM_ENTRIES}:format=start_time`;
  return ['-v', 'error', '-of', 'json', '-show_entries', entries, '-f', 'mpegts', path];
}

export async function probeSegment(
  ffprobePath: string,
  path: string,
  options: { packets: boolean; signal?: AbortSignal },
): Promise<SegmentProbe> {
  const args = segmentProbeArgs(path, options.packets);
  const parsed = parseProbe(await runMediaTool(ffprobePath, args, options), ffprobePath);
  const video = parsed.streams.find((stream) => stream.codec_type === 'video');
  if (!video) throw new MediaToolError(`no video stream in segment ${path}`, '');
  const packets = parsed.packets
    .filter((packet) => packet.stream_index === video.index)
    .flatMap((packet): VideoPacket[] =>
      packet.pts_time === undefined
        ? []
        : [
            {
              ptsS: packet.pts_time,
              dtsS: packet.dts_time ?? packet.pts_time,
              ...(packet.duration_time !== undefined ? { durationS: packet.duration_time } : {}),
              key: packet.flags?.startsWith('K') ?? false,
            },
          ],
    )
    .sort((a, b) => a.ptsS - b.ptsS);
  const videoStartS = video.start_time ?? packets[0]?.ptsS ?? 0;
  return {
    startS: parsed.format?.start_time ?? videoStartS,
    video,
    videoStartS,
    audio: audioOf(parsed.streams),
    packets,
  };
}

/**
 * Seconds to add to the index's stream time (the recorder's segment list: seconds from
 * ffmpeg's first packet) to get this file's timestamps. MPEG-TS adds a constant delay, so
 * the difference is the same for every segment of a run, and a segment cut at a keyframe
 * starts exactly at its `ptsStart`. The first segment of a run is the exception: it starts
 * with whatever packet came first — often audio, up to a group of pictures ahead of the
 * first keyframe (and G.711 may carry no timestamp there). Its *end* is still exact: the
 * next segment's keyframe, right after its last frame.
 */
export function fileOffsetS(
  probe: SegmentProbe,
  row: { ptsStart: number; ptsEnd: number },
): number {
  const leadIn = isRunStart(row) || probe.startS < probe.videoStartS - 0.0005;
  const last = probe.packets.at(-1);
  if (!leadIn || !last) return probe.videoStartS - row.ptsStart;
  const frameS = last.durationS ?? 1 / (frameRate(probe.video) ?? 25);
  return last.ptsS + frameS - row.ptsEnd;
}

/**
 * ffmpeg's stream time starts at 0 with each run, so a segment starting at 0 opens a run.
 * (The segment list gives every later segment the time of its cutting keyframe.)
 */
export function isRunStart(row: { ptsStart: number }): boolean {
  return row.ptsStart < 0.001;
}

function audioOf(streams: readonly ProbedStream[]): SegmentProbe['audio'] {
  const audio = streams.find((stream) => stream.codec_type === 'audio');
  if (audio) return { kind: 'native', stream: audio };
  // MPEG-TS has no stream type for G.711: ffmpeg writes it as private data, read back as
  // `bin_data` with no codec parameters.
  const data = streams.find(
    (stream) => stream.codec_type === 'data' && stream.codec_name === 'bin_data',
  );
  if (data?.start_time !== undefined) return { kind: 'private', startS: data.start_time };
  return undefined;
}

/** What a finished clip holds, read from its index. */
export interface ClipProbe {
  durationS: number;
  streams: ProbedStream[];
}

/** ffprobe of an MP4 whose index is at the front, read from `input` (a path or `pipe:0`). */
export function clipProbeArgs(input: string): string[] {
  return [
    '-v',
    'error',
    '-of',
    'json',
    '-show_entries',
    'stream=index,codec_type,codec_name,width,height,sample_rate,channels,r_frame_rate:' +
      'format=duration',
    // Everything asked for is in the index: no packet is read, no frame decoded.
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-nofind_stream_info',
    '-f',
    'mp4',
    '-i',
    input,
  ];
}

export async function probeClip(
  ffprobePath: string,
  path: string,
  signal?: AbortSignal,
): Promise<ClipProbe> {
  const output = await runMediaTool(ffprobePath, clipProbeArgs(path), signal ? { signal } : {});
  return clipProbeOf(output, ffprobePath);
}

/**
 * Starts ffprobe now, reading the clip from stdin once `ready` gives its path (undefined:
 * there will be none). Loading ffprobe's shared libraries takes longer than the remux of
 * a minute of footage; this way it happens meanwhile (see `ClipProber`). The index is at
 * the front, so ffprobe reads the start of the file and leaves.
 */
export function probeClipWhenReady(
  ffprobePath: string,
  ready: Promise<string | undefined>,
  options: { signal?: AbortSignal } = {},
): Promise<ClipProbe> {
  const feed = (sink: Writable) => {
    // ffprobe closes its end once it has read enough (runMediaTool expects that).
    void ready.then((path) => {
      if (!path) {
        sink.end();
        return;
      }
      // A read error shows as a truncated clip: ffprobe fails, and so does the check.
      pipeline(createReadStream(path), sink, () => {});
    });
  };
  return runMediaTool(ffprobePath, clipProbeArgs('pipe:0'), { ...options, stdin: feed }).then(
    (output) => clipProbeOf(output, ffprobePath),
  );
}

function clipProbeOf(output: string, tool: string): ClipProbe {
  const parsed = parseProbe(output, tool);
  return { durationS: parsed.format?.duration ?? 0, streams: parsed.streams };
}

/** Frames per second from ffprobe's `25/1`, or undefined. */
export function frameRate(stream: ProbedStream | undefined): number | undefined {
  const [n, d] = (stream?.r_frame_rate ?? '').split('/').map(Number);
  return n && d ? n / d : undefined;
}

function parseProbe(text: string, tool: string): z.infer<typeof probeSchema> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new MediaToolError(`${tool} printed something other than JSON`, text.slice(-2000));
  }
  const parsed = probeSchema.safeParse(raw);
  if (!parsed.success) {
    throw new MediaToolError(`${tool} printed JSON of an unexpected shape`, text.slice(-2000));
  }
  return parsed.data;
}
