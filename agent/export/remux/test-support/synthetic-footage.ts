import fc from 'fast-check';
import { planExport } from '../../plan.js';
import type { SegmentRow } from '../../types.js';
import { type PesTimes, PTS_MODULO, TICKS_PER_S } from '../mpegts.js';
import type { PieceTimes } from '../timeline.js';

/**
 * Synthetic first passes for `clipTimeline`: runs of segments as the recorder cuts them
 * (each opening on a keyframe, the index's stream time starting at 0 with the run), with
 * the PES times ffmpeg's MPEG-TS muxer would write (90 kHz, offset by an arbitrary base,
 * 33 bits), and pieces made by `planExport` over the same rows.
 */

/** Wall-clock ms that footage times count from. */
export const BASE_MS = Date.UTC(2026, 1, 1, 8, 0, 0);

/** One recording run to synthesise. */
export interface RunSpec {
  runId: number;
  fps: number;
  /** Frames from one keyframe to the next. */
  gop: number;
  framesPerSegment: number;
  segments: number;
  /** Stream ticks of audio ahead of the run's first picture. */
  leadTicks?: number;
  /** Added to every PES time (mod 2^33), as the muxer's offset is. */
  ptsBase?: number;
  /** Wall-clock ms of the run's stream time 0, from BASE_MS. */
  wallMs?: number;
  firstId?: number;
}

/** Segment rows and, per file, the PES times a first pass would read from it. */
export interface Footage {
  rows: SegmentRow[];
  times: Map<string, PesTimes>;
  /** Per file, the stream ticks of each picture (unwrapped, from the run's 0). */
  ticks: Map<string, number[]>;
}

/** The rows and PES times of `specs`, one run after another. */
export function footage(...specs: RunSpec[]): Footage {
  const out: Footage = { rows: [], times: new Map(), ticks: new Map() };
  for (const spec of specs) {
    const lead = spec.leadTicks ?? 0;
    const tick = (j: number) => lead + Math.round((j * TICKS_PER_S) / spec.fps);
    for (let s = 0; s < spec.segments; s++) {
      const from = s * spec.framesPerSegment;
      const to = from + spec.framesPerSegment;
      const ptsStart = s === 0 ? 0 : tick(from) / TICKS_PER_S;
      const ptsEnd = tick(to) / TICKS_PER_S;
      const path = `/data/segments/${spec.runId}-${String(s).padStart(6, '0')}.ts`;
      const wall = BASE_MS + (spec.wallMs ?? 0);
      out.rows.push({
        id: (spec.firstId ?? spec.runId * 1000) + s,
        runId: spec.runId,
        path,
        startMs: wall + ptsStart * 1000,
        endMs: wall + ptsEnd * 1000,
        ptsStart,
        ptsEnd,
        bytes: 188 * 100,
        sha256: '0'.repeat(64),
      });
      const ticks = Array.from({ length: spec.framesPerSegment }, (_, k) => tick(from + k));
      const pts = ticks.map((t) => ((spec.ptsBase ?? 126_000) + t) % PTS_MODULO);
      out.ticks.set(path, ticks);
      out.times.set(path, {
        pts,
        dts: [...pts],
        key: ticks.map((_, k) => (from + k) % spec.gop === 0),
      });
    }
  }
  return out;
}

/** The first passes of the plan's pieces over `range` (seconds of wall time from BASE_MS). */
export function piecesOf(f: Footage, fromS: number, toS: number) {
  const plan = planExport(f.rows, BASE_MS + fromS * 1000, BASE_MS + toS * 1000);
  const pieces: PieceTimes[] = plan.pieces.map((piece) => ({
    piece,
    files: piece.segments.map((row) => ({ row, times: timesOf(f, row.path) })),
  }));
  return { plan, pieces };
}

/** The PES times of one file of `f`; throws for a path it does not hold. */
export function timesOf(f: Footage, path: string): PesTimes {
  const times = f.times.get(path);
  if (!times) throw new Error(`no times for ${path}`);
  return times;
}

/** A run as the property draws it: rate, GOP, segment length and count, lead-in, PTS base. */
export const runArb = fc
  .record({
    fps: fc.integer({ min: 10, max: 60 }),
    gop: fc.integer({ min: 1, max: 60 }),
    gopsPerSegment: fc.integer({ min: 1, max: 4 }),
    segments: fc.integer({ min: 1, max: 4 }),
    leadTicks: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: TICKS_PER_S })),
    ptsBase: fc.oneof(
      fc.maxSafeNat().map((n) => n % PTS_MODULO),
      fc.integer({ min: 1, max: 1_000_000 }).map((d) => PTS_MODULO - d),
    ),
  })
  // A run's first segment needs two pictures to measure its frame step by.
  .filter((r) => r.gop * r.gopsPerSegment >= 2);

/** One draw of `runArb`. */
export type RunDraw = typeof runArb extends fc.Arbitrary<infer T> ? T : never;

/** Runs one after another in wall time, `gapMs` apart. */
export function layOut(runs: readonly RunDraw[], gapMs: number): RunSpec[] {
  let wallMs = 0;
  return runs.map((r, i) => {
    const spec: RunSpec = {
      runId: i + 1,
      fps: r.fps,
      gop: r.gop,
      framesPerSegment: r.gop * r.gopsPerSegment,
      segments: r.segments,
      leadTicks: r.leadTicks,
      ptsBase: r.ptsBase,
      wallMs,
    };
    const frames = r.gop * r.gopsPerSegment * r.segments;
    wallMs += ((r.leadTicks + Math.round((frames * TICKS_PER_S) / r.fps)) * 1000) / TICKS_PER_S;
    wallMs += gapMs;
    return spec;
  });
}
