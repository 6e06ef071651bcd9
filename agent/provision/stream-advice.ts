import type { StreamReport } from './stream-probe.js';

/**
 * Where a camera's settings hurt the agent, in plain words, each with what to change on
 * the camera. Warnings only: the agent records any H.264 or HEVC stream, but these make
 * shared clips longer or later and exports slower.
 */

/** Keyframes further apart than this make clips start late (DESIGN.md: export). */
export const MAX_KEYFRAME_SECONDS = 4;

export type StreamAdviceCode = 'no_video' | 'hevc' | 'codec' | 'keyframe_interval' | 'b_frames';

export interface StreamAdvice {
  readonly code: StreamAdviceCode;
  /** What is wrong and why it matters. */
  readonly problem: string;
  /** What to change on the camera. */
  readonly fix: string;
}

export function adviseOnStream(report: StreamReport): StreamAdvice[] {
  const video = report.video;
  if (!video) {
    return [
      {
        code: 'no_video',
        problem: 'the stream has no video',
        fix: 'choose another profile or stream on the camera',
      },
    ];
  }
  const advice: StreamAdvice[] = [];
  if (video.codec === 'hevc') {
    advice.push({
      code: 'hevc',
      problem:
        'the camera sends H.265 (HEVC): recording works, but most browsers cannot play it on the owner page and shared clips need the slow export path',
      fix: 'set the video codec (encoding) to H.264 in the camera’s video settings',
    });
  } else if (video.codec !== 'h264') {
    advice.push({
      code: 'codec',
      problem: `the camera sends ${video.codec}, which the agent does not record well`,
      fix: 'set the video codec (encoding) to H.264 in the camera’s video settings',
    });
  }
  const interval = video.keyframeInterval;
  if (interval && interval.seconds > MAX_KEYFRAME_SECONDS) {
    const seconds = interval.exact
      ? `${formatSeconds(interval.seconds)} s`
      : `more than ${formatSeconds(interval.seconds)} s`;
    const frames = video.fps ? ` (${Math.round(video.fps * 2)} frames at ${video.fps} fps)` : '';
    advice.push({
      code: 'keyframe_interval',
      problem: `keyframes come ${seconds} apart (over ${MAX_KEYFRAME_SECONDS} s): a shared clip can only start at a keyframe, so clips start late or carry footage from before the time asked for`,
      fix: `set the keyframe (I-frame) interval or GOP to 2 s${frames}, and turn off "smart codec", "H.264+" or dynamic GOP`,
    });
  }
  if (video.bFrames) {
    advice.push({
      code: 'b_frames',
      problem:
        'the stream uses B-frames: pictures arrive out of order, which delays live view and makes every shared clip take the slow export path',
      fix: 'turn off B-frames on the camera (choose the Main or Baseline profile, or a GOP structure of I and P frames only)',
    });
  }
  return advice;
}

/** One line describing the stream, e.g. "H.264 Main 1920x1080 25 fps, keyframes every 1 s, audio pcm_mulaw 8000 Hz". */
export function describeStream(report: StreamReport): string {
  const video = report.video;
  const parts: string[] = [];
  if (video) {
    const codec = video.codec === 'h264' ? 'H.264' : video.codec === 'hevc' ? 'H.265' : video.codec;
    parts.push(
      [
        codec,
        video.profile,
        video.width && video.height ? `${video.width}x${video.height}` : null,
        video.fps ? `${video.fps} fps` : null,
      ]
        .filter(Boolean)
        .join(' '),
    );
    const interval = video.keyframeInterval;
    if (interval) {
      parts.push(
        `keyframes every ${interval.exact ? '' : '> '}${formatSeconds(interval.seconds)} s`,
      );
    }
    parts.push(video.bFrames ? 'B-frames' : 'no B-frames');
  } else {
    parts.push('no video');
  }
  const audio = report.audio;
  parts.push(
    audio ? `audio ${audio.codec}${audio.sampleRate ? ` ${audio.sampleRate} Hz` : ''}` : 'no audio',
  );
  return parts.join(', ');
}

function formatSeconds(seconds: number): string {
  return String(Math.round(seconds * 10) / 10);
}
