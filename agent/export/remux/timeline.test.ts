import { describe, expect, it } from 'vitest';
import { RemuxUnsupported } from './errors.js';
import { PTS_MODULO, TICKS_PER_S } from './mpegts.js';
import { footage, piecesOf, type RunSpec, timesOf } from './test-support/synthetic-footage.js';
import { clipTimeline, type Timeline } from './timeline.js';

/** `clipTimeline` on worked examples over synthetic first passes (see synthetic-footage). */

const steps = (from: number, count: number, step = 3600) =>
  Array.from({ length: count }, (_, i) => from + i * step);
const slicesOf = (t: Timeline) => t.slices.map((s) => [s.row.path.slice(-11), s.from, s.to]);
const keyIndices = (t: Timeline) => t.keys.flatMap((key, i) => (key ? [i] : []));

/** 25 fps, a keyframe every second, 2 s segments. */
const RUN: RunSpec = { runId: 1, fps: 25, gop: 25, framesPerSegment: 50, segments: 4 };

describe('clipTimeline', () => {
  it('starts mid-GOP inside a run at the keyframe before the range, the edit hiding the lead', () => {
    const { plan, pieces } = piecesOf(footage(RUN), 3.3, 6.5);
    const t = clipTimeline(pieces, plan.durationS);
    // The keyframe at 3.0 s (second 1 of the segment from 2.0 s); 3.3 s is 0.3 s after it.
    expect(t.edits).toHaveLength(1);
    expect(t.edits[0]?.mediaTime).toBe(27_000);
    expect(t.edits[0]?.durationS).toBeCloseTo(3.2, 9);
    // Pictures 3.00 … 6.48 s: 88 of them, the next (6.52 s) is past the range.
    expect(t.dts).toEqual(steps(0, 88));
    expect(t.durations).toEqual(Array(88).fill(3600));
    expect(keyIndices(t)).toEqual([0, 25, 50, 75]);
    expect(slicesOf(t)).toEqual([
      ['1-000001.ts', 25, 50],
      ['1-000002.ts', 0, 50],
      ['1-000003.ts', 0, 13],
    ]);
  });

  it('a range starting on a keyframe presents from media time 0', () => {
    const { plan, pieces } = piecesOf(footage(RUN), 5, 7);
    const t = clipTimeline(pieces, plan.durationS);
    expect(t.edits.map((e) => e.mediaTime)).toEqual([0]);
    expect(t.edits[0]?.durationS).toBeCloseTo(2, 9);
    expect(t.dts).toEqual(steps(0, 50));
    expect(keyIndices(t)).toEqual([0, 25]);
    expect(slicesOf(t)).toEqual([
      ['1-000002.ts', 25, 50],
      ['1-000003.ts', 0, 25],
    ]);
  });

  it("a run's first segment that opens with audio: the window comes from the segment's end", () => {
    // The first picture 0.3 s after the index's 0; segment 0 ends at 0.3 + 50 frames = 2.3 s.
    const f = footage({ ...RUN, leadTicks: 27_000 });
    expect(f.rows[0]?.ptsEnd).toBeCloseTo(2.3, 12);

    const before = piecesOf(f, 0.1, 1.5);
    const t = clipTimeline(before.pieces, before.plan.durationS);
    // 0.2 s of nothing, then the first picture: the range's 1.4 s in all.
    expect(t.edits).toHaveLength(2);
    expect(t.edits[0]?.mediaTime).toBe(-1);
    expect(t.edits[0]?.durationS).toBeCloseTo(0.2, 9);
    expect(t.edits[1]?.mediaTime).toBe(0);
    expect(t.edits[1]?.durationS).toBeCloseTo(1.2, 9);
    // Pictures 0.30 … 1.46 s; the one at 1.50 s is the range's end.
    expect(t.dts).toEqual(steps(0, 30));
    expect(keyIndices(t)).toEqual([0, 25]);
    expect(slicesOf(t)).toEqual([['1-000000.ts', 0, 30]]);

    // Starting after the first picture: no empty edit, 0.2 s of the first GOP hidden.
    const after = piecesOf(f, 0.5, 1.5);
    const u = clipTimeline(after.pieces, after.plan.durationS);
    expect(u.edits.map((e) => e.mediaTime)).toEqual([18_000]);
    expect(u.edits[0]?.durationS).toBeCloseTo(1, 9);
    expect(u.dts).toEqual(steps(0, 30));
  });

  it('puts a second run where the plan places it, the first piece holding its last picture', () => {
    const f = footage(RUN, { ...RUN, runId: 2, segments: 3, wallMs: 10_000, ptsBase: 7_777 });
    const { plan, pieces } = piecesOf(f, 3.3, 13);
    expect(plan.pieces.map((p) => p.durationS)).toEqual([
      expect.closeTo(4.7, 9),
      expect.closeTo(3, 9),
    ]);
    const t = clipTimeline(pieces, plan.durationS);
    expect(t.edits.map((e) => e.mediaTime)).toEqual([27_000]);
    expect(t.edits[0]?.durationS).toBeCloseTo(7.7, 9);
    // Run 1: pictures 3.00 … 7.96 s (125). Run 2 at clip 4.7 s: track 27 000 + 4.7 s.
    const second = 27_000 + 4.7 * TICKS_PER_S;
    expect(t.dts).toEqual([...steps(0, 125), ...steps(second, 75)]);
    expect(t.durations[124]).toBe(second - 124 * 3600);
    expect(t.durations.every((d) => d > 0)).toBe(true);
    expect(keyIndices(t)).toEqual([0, 25, 50, 75, 100, 125, 150, 175]);
    expect(slicesOf(t)).toEqual([
      ['1-000001.ts', 25, 50],
      ['1-000002.ts', 0, 50],
      ['1-000003.ts', 0, 50],
      ['2-000000.ts', 0, 50],
      ['2-000001.ts', 0, 25],
    ]);
  });

  it('a second run opening with audio starts its pictures that much later in the clip', () => {
    const run2: RunSpec = { ...RUN, runId: 2, segments: 2, wallMs: 10_000, leadTicks: 18_000 };
    const { plan, pieces } = piecesOf(footage(RUN, run2), 3.3, 12);
    expect(plan.pieces[0]?.durationS).toBeCloseTo(4.7, 9);
    const t = clipTimeline(pieces, plan.durationS);
    // Clip 4.7 s is run 2's stream 0; its first picture 0.2 s later.
    const second = 27_000 + 4.7 * TICKS_PER_S + 18_000;
    expect(t.dts[125]).toBe(second);
    expect(t.durations[124]).toBe(second - 124 * 3600);
    expect(t.keys[125]).toBe(true);
    // Run 2 pictures 0.2 … 1.96 s of its stream: 45 of them.
    expect(t.dts.length).toBe(125 + 45);
  });

  it('keeps times continuous across the 33-bit PTS wrap', () => {
    // Picture 75 (3.0 s) lands exactly on 2^33 + 500: counting starts again from 500.
    const f = footage({ ...RUN, ptsBase: PTS_MODULO - 75 * 3600 + 500 });
    const seg1 = timesOf(f, f.rows[1]?.path ?? '').pts;
    expect(seg1[24]).toBeGreaterThan(PTS_MODULO - 4000);
    expect(seg1[25]).toBe(500);
    const { plan, pieces } = piecesOf(f, 2.5, 5.5);
    const t = clipTimeline(pieces, plan.durationS);
    expect(t.edits.map((e) => e.mediaTime)).toEqual([45_000]);
    expect(t.dts).toEqual(steps(0, 88));
    expect(t.durations).toEqual(Array(88).fill(3600));
  });

  describe('refuses what it cannot copy', () => {
    it('frames decoded out of presentation order', () => {
      const f = footage(RUN);
      const times = timesOf(f, f.rows[2]?.path ?? '');
      times.dts[5] = (times.pts[5] ?? 0) - 3600;
      const { plan, pieces } = piecesOf(f, 3.3, 6.5);
      expect(() => clipTimeline(pieces, plan.durationS)).toThrow(RemuxUnsupported);
      expect(() => clipTimeline(pieces, plan.durationS)).toThrow(/reorders/);
    });

    it('a piece that does not open with a keyframe and has none before the start', () => {
      const f = footage(RUN);
      const times = timesOf(f, f.rows[1]?.path ?? '');
      times.key[0] = false;
      const early = piecesOf(f, 2.5, 4);
      expect(() => clipTimeline(early.pieces, early.plan.durationS)).toThrow(RemuxUnsupported);
      expect(() => clipTimeline(early.pieces, early.plan.durationS)).toThrow(/keyframe/);
      // After the segment's second keyframe the same footage is fine.
      const late = piecesOf(f, 3.3, 4);
      expect(clipTimeline(late.pieces, late.plan.durationS).keys[0]).toBe(true);
    });

    it('a piece with no video', () => {
      const f = footage(RUN);
      for (const times of f.times.values()) {
        for (const list of [times.pts, times.dts, times.key]) list.length = 0;
      }
      const { plan, pieces } = piecesOf(f, 3.3, 6.5);
      expect(() => clipTimeline(pieces, plan.durationS)).toThrow(RemuxUnsupported);
      expect(() => clipTimeline(pieces, plan.durationS)).toThrow(/no video/);
    });

    it('a range holding no picture of a piece (all of it before the first)', () => {
      const f = footage({ ...RUN, leadTicks: 45_000 });
      const { plan, pieces } = piecesOf(f, 0.1, 0.3);
      expect(plan.pieces).toHaveLength(1);
      expect(() => clipTimeline(pieces, plan.durationS)).toThrow(RemuxUnsupported);
      expect(() => clipTimeline(pieces, plan.durationS)).toThrow(/no picture/);
    });
  });
});
