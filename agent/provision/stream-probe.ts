import { spawn } from 'node:child_process';
import { z } from 'zod';
import { ThresholdError } from '../errors.js';
import { redactCredentials } from '../log.js';

/**
 * What a camera's stream is, read by ffprobe from a few seconds of its packets: the one
 * place that probes a stream, for provisioning and for `threshold doctor`. The arguments
 * and the parser are pure functions; `probeStream` only spawns ffprobe between them.
 *
 * ffprobe reads a live stream at its own pace, so a probe of `seconds` takes that long.
 * The keyframe interval is measured between keyframes seen; when fewer than two arrive
 * within the window, it is reported as at least the time seen without one.
 */

export interface StreamReport {
  readonly video: VideoReport | null;
  readonly audio: AudioReport | null;
  /** Seconds of video packets the report rests on. */
  readonly sampledSeconds: number;
}

export interface VideoReport {
  /** ffprobe's codec name: h264, hevc, mjpeg, … */
  readonly codec: string;
  readonly profile: string | null;
  readonly width: number | null;
  readonly height: number | null;
  /** Frames per second, from the packets' times (the stream's own figure as a fallback). */
  readonly fps: number | null;
  /** Pictures sent out of presentation order (B-frames). */
  readonly bFrames: boolean;
  /** The longest gap between keyframes; `exact: false` means "at least", see above. */
  readonly keyframeInterval: { readonly seconds: number; readonly exact: boolean } | null;
}

export interface AudioReport {
  readonly codec: string;
  readonly sampleRate: number | null;
  readonly channels: number | null;
}

/** The stream could not be read; `code` says why, the message names no credentials. */
export class StreamProbeError extends ThresholdError {}

const STREAM_ENTRIES =
  'index,codec_type,codec_name,profile,width,height,r_frame_rate,avg_frame_rate,has_b_frames,sample_rate,channels';
const PACKET_ENTRIES = 'stream_index,pts_time,dts_time,flags';

/**
 * ffprobe's arguments for `seconds` of the stream at `url` (an RTSP URL, or a file for
 * tests). RTSP goes over TCP, as the recorder pulls it; `-timeout` (µs) bounds each wait
 * for the camera so a silent host fails instead of hanging.
 */
export function streamProbeArgs(
  url: string,
  options: { seconds: number; ioTimeoutMs?: number },
): string[] {
  const rtsp = /^rtsps?:\/\//i.test(url);
  return [
    ...['-hide_banner', '-v', 'error'],
    ...(rtsp
      ? [
          ...['-rtsp_transport', 'tcp'],
          ...['-timeout', String(Math.round((options.ioTimeoutMs ?? 10_000) * 1000))],
        ]
      : []),
    ...['-read_intervals', `%+${options.seconds}`],
    ...['-show_entries', `stream=${STREAM_ENTRIES}:packet=${PACKET_ENTRIES}`],
    ...['-of', 'json=c=1', url],
  ];
}

const numberText = z
  .union([z.string(), z.number()])
  .transform((value) => Number(value))
  .pipe(z.number());

const probeOutput = z.object({
  streams: z
    .array(
      z.object({
        index: z.number().int(),
        codec_type: z.string().optional(),
        codec_name: z.string().optional(),
        profile: z.string().optional(),
        width: z.number().optional(),
        height: z.number().optional(),
        r_frame_rate: z.string().optional(),
        avg_frame_rate: z.string().optional(),
        has_b_frames: z.number().optional(),
        sample_rate: numberText.optional(),
        channels: z.number().optional(),
      }),
    )
    .default([]),
  packets: z
    .array(
      z.object({
        stream_index: z.number().int(),
        pts_time: numberText.optional(),
        dts_time: numberText.optional(),
        flags: z.string().default(''),
      }),
    )
    .default([]),
});

/** Parses ffprobe's JSON output (from `streamProbeArgs`) into a report. */
export function parseStreamProbe(json: string): StreamReport {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new StreamProbeError('stream_probe_output', 'ffprobe printed no JSON');
  }
  const parsed = probeOutput.safeParse(raw);
  if (!parsed.success) {
    throw new StreamProbeError('stream_probe_output', 'ffprobe printed JSON of an unknown shape');
  }
  const { streams, packets } = parsed.data;
  const videoStream = streams.find((s) => s.codec_type === 'video');
  const audioStream = streams.find((s) => s.codec_type === 'audio');
  const video = timed(
    videoStream ? packets.filter((p) => p.stream_index === videoStream.index) : [],
  );
  const times = video.map((p) => p.time);
  const sampledSeconds = times.length > 1 ? round2(Math.max(...times) - Math.min(...times)) : 0;
  return {
    video: videoStream
      ? {
          codec: videoStream.codec_name ?? 'unknown',
          profile: videoStream.profile ?? null,
          width: videoStream.width ?? null,
          height: videoStream.height ?? null,
          fps: frameRate(times, rate(videoStream.avg_frame_rate ?? videoStream.r_frame_rate)),
          bFrames: (videoStream.has_b_frames ?? 0) > 0 || outOfOrder(video),
          keyframeInterval: keyframeInterval(video),
        }
      : null,
    audio: audioStream
      ? {
          codec: audioStream.codec_name ?? 'unknown',
          sampleRate: audioStream.sample_rate ?? null,
          channels: audioStream.channels ?? null,
        }
      : null,
    sampledSeconds,
  };
}

type Packet = z.infer<typeof probeOutput>['packets'][number];

interface TimedPacket {
  readonly time: number;
  readonly key: boolean;
  /** The packet carried its own presentation time. */
  readonly own: boolean;
}

/**
 * Each packet with a presentation time, in decode order. A packet without one (RTSP's
 * first keyframe often has none) takes the next packet's, off by a frame or two at most;
 * trailing packets without one are dropped.
 */
function timed(packets: readonly Packet[]): TimedPacket[] {
  const out: TimedPacket[] = [];
  let next: number | undefined;
  for (let i = packets.length - 1; i >= 0; i--) {
    const packet = packets[i];
    if (!packet) continue;
    const own = packet.pts_time ?? packet.dts_time;
    const time = own ?? next;
    if (time === undefined) continue;
    next = time;
    out.push({ time, key: packet.flags.includes('K'), own: own !== undefined });
  }
  return out.reverse();
}

/** B-frames show as presentation times that go back in decode order. */
function outOfOrder(packets: readonly TimedPacket[]): boolean {
  let previous = Number.NEGATIVE_INFINITY;
  for (const packet of packets) {
    if (!packet.own) continue;
    if (packet.time < previous) return true;
    previous = packet.time;
  }
  return false;
}

/**
 * Frames per second as the packets show it. The stream's declared rate is preferred when
 * the packets agree with it (within 5 %), since a few seconds of packets measure it
 * roughly; a declared rate they contradict (RTSP often declares none, or a field rate) is not.
 */
function frameRate(times: readonly number[], declared: number | null): number | null {
  const span = times.length >= 3 ? Math.max(...times) - Math.min(...times) : 0;
  const measured = span > 0 ? (times.length - 1) / span : null;
  if (measured === null) return declared;
  if (declared !== null && Math.abs(declared - measured) <= declared * 0.05) return declared;
  return round2(measured);
}

function keyframeInterval(packets: readonly TimedPacket[]): VideoReport['keyframeInterval'] {
  if (packets.length < 2) return null;
  const times = packets.map((p) => p.time);
  const start = Math.min(...times);
  const end = Math.max(...times);
  const keys = packets.filter((p) => p.key).map((p) => p.time);
  if (keys.length >= 2) {
    let longest = 0;
    for (let i = 1; i < keys.length; i++) {
      longest = Math.max(longest, (keys[i] ?? 0) - (keys[i - 1] ?? 0));
    }
    return { seconds: round2(longest), exact: true };
  }
  // One keyframe or none: the longest stretch seen without one is a lower bound.
  const only = keys[0];
  const bound = only === undefined ? end - start : Math.max(only - start, end - only);
  return { seconds: round2(bound), exact: false };
}

/** "30000/1001" → 29.97; "0/0" → null. */
function rate(text: string | undefined): number | null {
  const match = /^(\d+)\/(\d+)$/.exec(text ?? '');
  if (!match) return null;
  const [num, den] = [Number(match[1]), Number(match[2])];
  return num > 0 && den > 0 ? round2(num / den) : null;
}

const round2 = (value: number) => Math.round(value * 100) / 100;

export interface ProbeStreamOptions {
  /** How much of the stream to read; 10 s measures keyframe intervals up to about 5 s. */
  seconds: number;
  ffprobePath?: string;
  /** Longest wait for the camera at any one point; default 10 s. */
  ioTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Probes the stream at `url` (which may carry credentials: they are kept out of every
 * message). Rejects with a StreamProbeError whose code says what to fix:
 * `stream_auth`, `stream_unreachable`, `stream_not_found`, `stream_no_video`,
 * `stream_probe_failed`.
 */
export async function probeStream(url: string, options: ProbeStreamOptions): Promise<StreamReport> {
  const ioTimeoutMs = options.ioTimeoutMs ?? 10_000;
  const args = streamProbeArgs(url, { seconds: options.seconds, ioTimeoutMs });
  // The whole run: the window itself, the connection, and a loaded machine's slack.
  const deadlineMs = options.seconds * 1000 + 2 * ioTimeoutMs + 5000;
  const result = await runFfprobe(
    options.ffprobePath ?? 'ffprobe',
    args,
    deadlineMs,
    options.signal,
  );
  if (result.code !== 0 || result.timedOut) {
    throw probeFailure(result.stderr, result.timedOut);
  }
  const report = parseStreamProbe(result.stdout);
  if (!report.video) {
    throw new StreamProbeError('stream_no_video', 'the stream has no video');
  }
  return report;
}

/** Names the cause from ffprobe's own words, credentials masked. */
export function probeFailure(stderr: string, timedOut = false): StreamProbeError {
  const said = redactCredentials(stderr.trim().split('\n').slice(-2).join(' | '));
  if (timedOut) {
    return new StreamProbeError('stream_unreachable', 'the camera sent no video in time');
  }
  if (/401|unauthori[sz]ed/i.test(stderr)) {
    return new StreamProbeError('stream_auth', 'the camera refused the user name or password');
  }
  if (/404|not found/i.test(stderr)) {
    return new StreamProbeError('stream_not_found', 'the camera has no stream at that address');
  }
  if (/refused|timed out|timeout|unreachable|resolve|no route/i.test(stderr)) {
    return new StreamProbeError('stream_unreachable', `the stream is unreachable (${said})`);
  }
  return new StreamProbeError('stream_probe_failed', `ffprobe could not read the stream (${said})`);
}

interface FfprobeResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function runFfprobe(
  command: string,
  args: readonly string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<FfprobeResult> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8192);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(new StreamProbeError('ffprobe_missing', `cannot run ${command}: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(signal.reason);
      else resolve({ code, stdout, stderr, timedOut });
    });
  });
}
