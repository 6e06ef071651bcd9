import { describe, expect, it } from 'vitest';
import type { Piece } from './plan.js';
import type { ProbedStream, SegmentProbe } from './probe.js';
import { fileOffsetS } from './probe.js';
import { encodeMatch, exactDuration, exactEntries, planEdge } from './smart-cut.js';
import { clipProblems } from './verify.js';

const video: ProbedStream = {
  index: 0,
  codec_type: 'video',
  codec_name: 'h264',
  profile: 'High',
  level: 40,
  pix_fmt: 'yuv420p',
  has_b_frames: 0,
  r_frame_rate: '25/1',
};

/** A 2.4 s segment at 25 fps starting at stream time 3.8 (MPEG-TS adds 1.4 s), GOP 1.2 s. */
function probe(overrides: Partial<SegmentProbe> = {}): SegmentProbe {
  const packets = Array.from({ length: 60 }, (_, i) => {
    const t = Math.round((3.8 + i * 0.04) * 1e6) / 1e6;
    return { ptsS: t, dtsS: t, key: i % 30 === 0 };
  });
  return { startS: 3.8, video, videoStartS: 3.8, packets, ...overrides };
}

function piece(offsetS: number, durationS: number, segments = 4): Piece {
  return {
    runId: 1,
    segments: Array.from({ length: segments }, (_, i) => ({
      id: i + 2,
      runId: 1,
      path: `/s/${i + 2}.ts`,
      startMs: 2400 + i * 2400,
      endMs: 4800 + i * 2400,
      ptsStart: 2.4 + i * 2.4,
      ptsEnd: 4.8 + i * 2.4,
      bytes: 1,
      sha256: '',
    })),
    offsetS,
    durationS,
    spanS: segments * 2.4,
    fromMs: 0,
    toMs: 0,
  };
}

describe('planEdge', () => {
  it('re-encodes from the range start to the next keyframe and copies from there', () => {
    const plan = planEdge(probe(), piece(0.9, 6), 1.4);
    if ('unsupported' in plan) throw new Error(plan.unsupported);
    // 3.8 + 0.9 = 4.7 is between frames; the first frame in range is 4.72.
    expect(plan.originS).toBeCloseTo(4.72, 6);
    expect(plan.head?.startS).toBeCloseTo(4.72, 6);
    expect(plan.head?.endS).toBeCloseTo(5, 6);
    expect(plan.head?.durationS).toBeCloseTo(0.28, 6);
    expect(plan.part?.fromS).toBeCloseTo(5, 6);
    expect(plan.part?.durationS).toBeCloseTo(1.2, 6);
    expect(plan.firstPieceS).toBeCloseTo(5.98, 6);
  });

  it('needs no head when the range starts on a keyframe', () => {
    const plan = planEdge(probe(), piece(1.2, 3), 1.4);
    if ('unsupported' in plan) throw new Error(plan.unsupported);
    expect(plan.head).toBeUndefined();
    expect(plan.part?.fromS).toBeCloseTo(5, 6);
    expect(plan.originS).toBeCloseTo(5, 6);
  });

  it('encodes the whole range when it ends before the next keyframe', () => {
    const plan = planEdge(probe(), piece(0.2, 0.4, 1), 1.4);
    if ('unsupported' in plan) throw new Error(plan.unsupported);
    expect(plan.head?.startS).toBeCloseTo(4, 6);
    expect(plan.head?.endS).toBeCloseTo(4.4, 6);
    expect(plan.part).toBeUndefined();
  });

  it('lists the parts, the rest of the piece and later pieces with their durations', () => {
    const first = piece(0.9, 6);
    const plan = planEdge(probe(), first, 1.4);
    if ('unsupported' in plan) throw new Error(plan.unsupported);
    const later = { ...piece(0, 3, 2), runId: 2 };
    const entries = exactEntries(plan, [first, later], { head: '/w/h.ts', part: '/w/p.ts' });
    expect(entries.map((e) => e.url)).toEqual([
      'file:/w/h.ts',
      'file:/w/p.ts',
      'concat:/s/3.ts|/s/4.ts|/s/5.ts',
      'concat:/s/2.ts|/s/3.ts',
    ]);
    expect(entries[2]?.durationS).toBeCloseTo(7.2, 6);
    expect(entries[3]?.durationS).toBeCloseTo(4.8, 6);
    expect(exactDuration(plan, [first, later])).toBeCloseTo(8.98, 6);
  });

  it('refuses sources it cannot join: reordered frames, other codecs and profiles', () => {
    const reordered = probe();
    reordered.packets[3] = { ptsS: 4, dtsS: 3.9, key: false };
    expect(planEdge(reordered, piece(0.9, 6), 1.4)).toEqual({
      unsupported: 'the video reorders frames (B-frames)',
    });
    expect(
      planEdge(probe({ video: { ...video, has_b_frames: 2 } }), piece(0.9, 6), 1.4),
    ).toHaveProperty('unsupported');
    expect(encodeMatch({ ...video, codec_name: 'hevc' })).toBe('the video is hevc');
    expect(encodeMatch({ ...video, profile: 'High 4:2:2' })).toMatch(/profile/);
    expect(encodeMatch({ ...video, pix_fmt: 'yuv422p' })).toMatch(/pixel format/);
    expect(encodeMatch({ ...video, profile: 'Constrained Baseline' })).toMatchObject({
      profile: 'baseline',
      level: 40,
    });
  });
});

describe('clip checks', () => {
  const h264 = { index: 0, codec_type: 'video', codec_name: 'h264', r_frame_rate: '25/1' };
  const aac = { index: 1, codec_type: 'audio', codec_name: 'aac' };

  it('accepts the planned streams and duration, names what is off', () => {
    expect(clipProblems({ durationS: 6.02, streams: [h264] }, { durationS: 6 })).toEqual([]);
    expect(clipProblems({ durationS: 6, streams: [h264, aac] }, { durationS: 6 })).toEqual([
      'expected no audio stream',
    ]);
    const audio = { input: { kind: 'mpegts', url: '', offsetS: 0 }, bitrate: 1 } as const;
    expect(clipProblems({ durationS: 6, streams: [h264] }, { durationS: 6, audio })).toEqual([
      'expected one AAC audio stream',
    ]);
    expect(clipProblems({ durationS: 5, streams: [h264] }, { durationS: 6 })).toEqual([
      'duration 5.000 s, planned 6.000 s',
    ]);
    expect(clipProblems({ durationS: 6, streams: [] }, { durationS: 6 })).toEqual([
      'expected one H.264 video stream',
    ]);
  });

  it("places stream time by the keyframe, or by the end in a run's first segment", () => {
    // A later segment starts with the keyframe its stream time names.
    expect(fileOffsetS(probe(), { ptsStart: 2.4, ptsEnd: 4.8 })).toBeCloseTo(1.4, 9);
    // A run's first segment may open with audio: its keyframe (3.8) is late; its end, the
    // last frame (6.16) plus one, is the next segment's start (stream time 2.04).
    const leadIn = probe({ startS: 3.0 });
    expect(fileOffsetS(leadIn, { ptsStart: 0, ptsEnd: 2.04 })).toBeCloseTo(4.16, 9);
    expect(fileOffsetS(probe(), { ptsStart: 0, ptsEnd: 2.04 })).toBeCloseTo(4.16, 9);
  });
});
