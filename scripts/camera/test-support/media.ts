import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { MediaToolError } from '../../../agent/errors.js';

/** ffmpeg and ffprobe for tests of cameras: real tools on real streams. */

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool without a shell; kills it when `timeoutMs` passes. Never rejects on exit. */
export function runTool(
  command: string,
  args: readonly string[],
  timeoutMs: number,
  onStderrLine?: (line: string) => void,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      stderr = `${stderr.slice(-16_384)}${line}\n`;
      onStderrLine?.(line);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The tool's own words in the message, so that a failing test says what went wrong. */
function toolError(what: string, result: ToolResult): MediaToolError {
  const tail = result.stderr.trim().split('\n').slice(-3).join(' | ');
  return new MediaToolError(`${what} (exit ${result.code}): ${tail}`, result.stderr);
}

const streamSchema = z.object({
  codec_type: z.string(),
  codec_name: z.string(),
  profile: z.string().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  r_frame_rate: z.string().optional(),
  has_b_frames: z.number().optional(),
  sample_rate: z.string().optional(),
  channels: z.number().optional(),
});
export type ProbedStream = z.infer<typeof streamSchema>;

export function probeStreamsArgs(url: string): string[] {
  return ['-v', 'error', '-rtsp_transport', 'tcp', '-show_streams', '-of', 'json', url];
}

/** The streams ffprobe reads at an RTSP URL; throws when it cannot read them. */
export async function probeStreams(url: string, timeoutMs = 20_000): Promise<ProbedStream[]> {
  const result = await runTool('ffprobe', probeStreamsArgs(url), timeoutMs);
  if (result.code !== 0) throw toolError(`ffprobe failed on ${url}`, result);
  return z.object({ streams: z.array(streamSchema) }).parse(JSON.parse(result.stdout)).streams;
}

/** Pulls `seconds` of the stream into an MPEG-TS file with stream copy, as the recorder does. */
export function recordCopyArgs(url: string, seconds: number, output: string): string[] {
  return [
    ...['-hide_banner', '-nostats', '-v', 'error', '-y'],
    ...['-rtsp_transport', 'tcp', '-i', url],
    ...['-t', String(seconds), '-c', 'copy', '-f', 'mpegts', output],
  ];
}

export function videoPacketsArgs(file: string): string[] {
  return [
    ...['-v', 'error', '-select_streams', 'v:0'],
    ...['-show_entries', 'packet=pts_time,flags', '-of', 'json', file],
  ];
}

/** Every video packet of a file: its time and whether it is a keyframe. */
export async function videoPackets(file: string): Promise<{ time: number; key: boolean }[]> {
  const result = await runTool('ffprobe', videoPacketsArgs(file), 20_000);
  if (result.code !== 0) throw toolError('ffprobe failed', result);
  const packets = z
    .object({ packets: z.array(z.object({ pts_time: z.string(), flags: z.string() })) })
    .parse(JSON.parse(result.stdout)).packets;
  return packets.map((p) => ({ time: Number(p.pts_time), key: p.flags.includes('K') }));
}

/**
 * Scene detection on a live stream. `keyframesOnly` is the recorder's setting: decode
 * keyframes only, scale to 320 px wide, score each against the previous one. `scdet`
 * adds the mean absolute frame difference (`lavfi.scd.mafd`, 0..100) beside the score.
 */
export function sceneArgs(url: string, seconds: number, keyframesOnly: boolean): string[] {
  const filter = keyframesOnly
    ? "scale=320:-2,select='gte(scene,0)',scdet=threshold=100,metadata=print"
    : "scale=320:-2,select='gte(scene,0)',metadata=print";
  return [
    ...['-hide_banner', '-nostats', '-rtsp_transport', 'tcp'],
    ...(keyframesOnly ? ['-skip_frame', 'nokey'] : []),
    ...['-i', url, '-t', String(seconds), '-vf', filter, '-an', '-f', 'null', '-'],
  ];
}

/** One decoded frame's scores, placed in wall time (ms). */
export interface SceneSample {
  wallMs: number;
  scene: number;
  mafd: number | undefined;
}

/**
 * Runs scene detection and places each frame in wall time. A frame cannot arrive before
 * it was captured, so the smallest lag between a frame's arrival and its stream time
 * (frames read in a burst at start-up lag more) maps stream time to wall time.
 */
export async function sceneSamples(
  url: string,
  seconds: number,
  keyframesOnly: boolean,
): Promise<SceneSample[]> {
  const frames: { pts: number; arrival: number; scene?: number; mafd?: number }[] = [];
  const onLine = (line: string) => {
    const frame = /frame:\d+\s+pts:\S+\s+pts_time:(\S+)/.exec(line);
    if (frame) frames.push({ pts: Number(frame[1]), arrival: Date.now() });
    const value = /lavfi\.(scene_score|scd\.mafd)=([\d.]+)/.exec(line);
    const last = frames.at(-1);
    if (value && last) {
      if (value[1] === 'scene_score') last.scene = Number(value[2]);
      else last.mafd = Number(value[2]);
    }
  };
  const args = sceneArgs(url, seconds, keyframesOnly);
  const result = await runTool('ffmpeg', args, (seconds + 30) * 1000, onLine);
  if (result.code !== 0) throw toolError('ffmpeg scene detection failed', result);
  const offset = Math.min(...frames.map((f) => f.arrival - f.pts * 1000));
  return frames.flatMap((f) =>
    f.scene === undefined ? [] : [{ wallMs: offset + f.pts * 1000, scene: f.scene, mafd: f.mafd }],
  );
}

/** Whether a TCP connection to host:port is refused (nothing listens there). */
export function connectionRefused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no answer from ${host}:${port} within 5 s`));
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') resolve(true);
      else reject(err);
    });
  });
}
