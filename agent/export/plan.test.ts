import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planExport, streamTimeAt } from './plan.js';
import { ExportError, type SegmentRow } from './types.js';

const BASE = Date.UTC(2026, 0, 31, 12, 0, 0);

/** Rows of one run: segments of the given stream lengths, starting at `startS` of wall time. */
function run(runId: number, lengths: readonly number[], startS = 0, firstId = 1): SegmentRow[] {
  let pts = 0;
  return lengths.map((length, i) => {
    const row: SegmentRow = {
      id: firstId + i,
      runId,
      path: `/data/segments/${runId}-${String(i).padStart(6, '0')}.ts`,
      startMs: BASE + (startS + pts) * 1000,
      endMs: BASE + (startS + pts + length) * 1000,
      ptsStart: pts,
      ptsEnd: pts + length,
      bytes: 1000,
      sha256: '0'.repeat(64),
    };
    pts += length;
    return row;
  });
}

const at = (s: number) => BASE + s * 1000;

describe('planExport', () => {
  it('selects the covering segments of one run and finds the offset into the first', () => {
    const rows = run(1, [2.4, 2.4, 1.2, 2.4, 2.4, 1.2]);
    const plan = planExport(rows, at(3.3), at(9.3));
    expect(plan.pieces).toHaveLength(1);
    const [piece] = plan.pieces;
    expect(piece?.segments.map((s) => s.id)).toEqual([2, 3, 4, 5]);
    expect(piece?.offsetS).toBeCloseTo(0.9, 9);
    expect(piece?.durationS).toBeCloseTo(6, 9);
    expect(piece?.spanS).toBeCloseTo(8.4, 9);
    expect(plan.durationS).toBeCloseTo(6, 9);
    expect(plan.gaps).toEqual([]);
  });

  it('ignores rows outside the range and sorts the rest', () => {
    const rows = run(1, [2, 2, 2, 2]).reverse();
    const plan = planExport(rows, at(2), at(6));
    expect(plan.pieces[0]?.segments.map((s) => s.id)).toEqual([2, 3]);
    expect(plan.pieces[0]?.offsetS).toBe(0);
  });

  it('splits at a recorder restart and reports the gap where the clip jumps it', () => {
    const rows = [...run(1, [2, 2, 2, 2, 2]), ...run(2, [2, 2, 2, 2, 2], 14, 10)];
    const plan = planExport(rows, at(6), at(20));
    expect(plan.pieces.map((p) => p.runId)).toEqual([1, 2]);
    expect(plan.pieces[0]?.durationS).toBeCloseTo(4, 9);
    expect(plan.pieces[1]?.offsetS).toBe(0);
    expect(plan.pieces[1]?.durationS).toBeCloseTo(6, 9);
    expect(plan.gaps).toEqual([{ fromMs: at(10), toMs: at(14), atS: 4 }]);
    expect(plan.durationS).toBeCloseTo(10, 9);
  });

  it('splits at a missing segment of one run (a hole in its timestamps)', () => {
    const rows = run(1, [2, 2, 2, 2]).filter((row) => row.id !== 2);
    const plan = planExport(rows, at(0), at(8));
    expect(plan.pieces).toHaveLength(2);
    expect(plan.gaps).toEqual([{ fromMs: at(2), toMs: at(4), atS: 2 }]);
  });

  it('reports uncovered stretches at both ends', () => {
    const plan = planExport(run(1, [2, 2], 10), at(8), at(16));
    expect(plan.gaps).toEqual([
      { fromMs: at(8), toMs: at(10), atS: 0 },
      { fromMs: at(14), toMs: at(16), atS: 4 },
    ]);
  });

  it('throws no_footage when nothing overlaps, bad_range for an empty range', () => {
    const rows = run(1, [2, 2]);
    expect(() => planExport(rows, at(10), at(12))).toThrow(
      expect.objectContaining({ code: 'no_footage' }),
    );
    expect(() => planExport([], at(0), at(1))).toThrow(ExportError);
    expect(() => planExport(rows, at(2), at(2))).toThrow(
      expect.objectContaining({ code: 'bad_range' }),
    );
  });

  it('refuses rows whose paths would break a concat URL or list', () => {
    for (const path of ['relative.ts', '/a|b.ts', "/it's.ts", '/line\nbreak.ts']) {
      const [row] = run(1, [2]);
      expect(() => planExport([{ ...(row as SegmentRow), path }], at(0), at(1))).toThrow(
        expect.objectContaining({ code: 'bad_segment' }),
      );
    }
  });

  it('maps wall-clock time into a segment linearly, clamped to it', () => {
    const [row] = run(1, [2]);
    const segment = { ...(row as SegmentRow), ptsStart: 10, ptsEnd: 12 };
    expect(streamTimeAt(segment, at(0.5))).toBeCloseTo(10.5, 9);
    expect(streamTimeAt(segment, at(-1))).toBe(10);
    expect(streamTimeAt(segment, at(9))).toBe(12);
  });

  it('accounts for every millisecond of the range as footage or gap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 500, max: 60_000 }),
        (tenths, keep, fromMs, lengthMs) => {
          const rows = run(
            1,
            tenths.map((t) => t / 10),
          ).filter((_, i) => keep[i]);
          let plan: ReturnType<typeof planExport>;
          try {
            plan = planExport(rows, BASE + fromMs, BASE + fromMs + lengthMs);
          } catch (err) {
            expect(err).toMatchObject({ code: 'no_footage' });
            return;
          }
          const gapMs = plan.gaps.reduce((sum, gap) => sum + gap.toMs - gap.fromMs, 0);
          // Gaps under 50 ms are not reported: allow that per boundary.
          const slack = 50 * (plan.pieces.length + 1);
          expect(Math.abs(plan.durationS * 1000 + gapMs - lengthMs)).toBeLessThanOrEqual(slack);
          for (const piece of plan.pieces) {
            expect(piece.offsetS).toBeGreaterThanOrEqual(0);
            expect(piece.offsetS + piece.durationS).toBeLessThanOrEqual(piece.spanS + 1e-9);
          }
        },
      ),
    );
  });
});
