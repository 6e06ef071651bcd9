import fc from 'fast-check';
import type { SpsInfo } from '../h264.js';

/**
 * Synthetic H.264 sequence parameter sets (ITU-T H.264 7.3.2.1.1): an arbitrary over the
 * fields `parseSps` reads, a writer that turns them into a NAL unit, and what the parser
 * must answer for them. The tests check the writer against ffmpeg's own header tracer, so
 * a round trip through it checks the parser against ffmpeg too.
 */

/** Writes bits most significant first; `nal()` adds the stop bit and emulation prevention. */
export class BitWriter {
  private readonly bits: number[] = [];

  /** `value` in `n` bits, u(n). */
  u(n: number, value: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }

  /** Unsigned Exp-Golomb, ue(v) (9.1). */
  ue(value: number): this {
    const len = (value + 1).toString(2).length - 1;
    return this.u(len, 0).u(len + 1, value + 1);
  }

  /** Signed Exp-Golomb, se(v) (9.1.1). */
  se(value: number): this {
    return this.ue(value > 0 ? 2 * value - 1 : -2 * value);
  }

  /** NAL header byte, the RBSP with rbsp_trailing_bits, 00 00 03 escapes (7.4.1). */
  nal(header: number): Buffer {
    const bits = [...this.bits, 1];
    while (bits.length % 8 !== 0) bits.push(0);
    const out = [header];
    let zeros = 0;
    for (let i = 0; i < bits.length; i += 8) {
      const byte = bits.slice(i, i + 8).reduce((v, b) => v * 2 + b, 0);
      if (zeros >= 2 && byte <= 3) {
        out.push(3);
        zeros = 0;
      }
      out.push(byte);
      zeros = byte === 0 ? zeros + 1 : 0;
    }
    return Buffer.from(out);
  }
}

/** profile_idc values whose SPS carries chroma format, bit depths and scaling lists. */
export const HIGH_PROFILES = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

const scalingDeltas = fc.array(fc.integer({ min: -128, max: 127 }), {
  minLength: 64,
  maxLength: 64,
});

/** The fields of an SPS as drawn: `depth*` are bit_depth_*_minus8, sizes are in macroblocks. */
export const spsFields = fc.record({
  profileIdc: fc.constantFrom(66, 77, 88, ...HIGH_PROFILES),
  constraintFlags: fc.integer({ min: 0, max: 255 }),
  levelIdc: fc.integer({ min: 0, max: 255 }),
  id: fc.integer({ min: 0, max: 31 }),
  chromaFormatIdc: fc.integer({ min: 0, max: 3 }),
  separateColourPlane: fc.boolean(),
  depthLuma: fc.integer({ min: 0, max: 6 }),
  depthChroma: fc.integer({ min: 0, max: 6 }),
  /** Per list: absent, or deltas (only as many are written as the syntax reads). */
  scaling: fc.option(fc.array(fc.option(scalingDeltas), { minLength: 12, maxLength: 12 })),
  log2MaxFrameNum: fc.integer({ min: 0, max: 12 }),
  poc: fc.oneof(
    fc.record({ type: fc.constant(0), lsb: fc.integer({ min: 0, max: 12 }) }),
    fc.record({
      type: fc.constant(1),
      alwaysZero: fc.boolean(),
      offsets: fc.array(fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), { maxLength: 40 }),
    }),
    fc.record({ type: fc.constant(2) }),
  ),
  maxRefFrames: fc.integer({ min: 0, max: 16 }),
  widthMbs: fc.integer({ min: 1, max: 300 }),
  heightMapUnits: fc.integer({ min: 1, max: 150 }),
  frameMbsOnly: fc.boolean(),
  crop: fc.option(fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 4, maxLength: 4 })),
  vui: fc.boolean(),
});

/** One draw of `spsFields`. */
export type SpsFields = typeof spsFields extends fc.Arbitrary<infer T> ? T : never;

/** The SPS NAL unit (header 0x67) for `f`, in the order of 7.3.2.1.1. */
export function writeSps(f: SpsFields): Buffer {
  const w = new BitWriter().u(8, f.profileIdc).u(8, f.constraintFlags).u(8, f.levelIdc).ue(f.id);
  if (HIGH_PROFILES.includes(f.profileIdc)) {
    w.ue(f.chromaFormatIdc);
    if (f.chromaFormatIdc === 3) w.u(1, f.separateColourPlane ? 1 : 0);
    w.ue(f.depthLuma).ue(f.depthChroma);
    w.u(1, 0).u(1, f.scaling ? 1 : 0); // qpprime_y_zero_transform_bypass_flag, matrices
    const lists = f.scaling?.slice(0, f.chromaFormatIdc === 3 ? 12 : 8) ?? [];
    lists.forEach((deltas, i) => {
      w.u(1, deltas ? 1 : 0);
      let [last, next] = [8, 8];
      for (let j = 0; deltas && j < (i < 6 ? 16 : 64); j++) {
        if (next !== 0) {
          w.se(deltas[j]!);
          next = (last + deltas[j]! + 256) % 256;
        }
        last = next === 0 ? last : next;
      }
    });
  }
  w.ue(f.log2MaxFrameNum).ue(f.poc.type);
  if (f.poc.type === 0) w.ue(f.poc.lsb);
  if (f.poc.type === 1) {
    w.u(1, f.poc.alwaysZero ? 1 : 0).se(-3);
    w.se(7).ue(f.poc.offsets.length);
    for (const offset of f.poc.offsets) w.se(offset);
  }
  w.ue(f.maxRefFrames).u(1, 0);
  w.ue(f.widthMbs - 1).ue(f.heightMapUnits - 1);
  w.u(1, f.frameMbsOnly ? 1 : 0);
  if (!f.frameMbsOnly) w.u(1, 1);
  w.u(1, 1).u(1, f.crop ? 1 : 0);
  for (const offset of f.crop ?? []) w.ue(offset);
  // A VUI flag of 1 followed by junk: the parser must stop before it.
  w.u(1, f.vui ? 1 : 0);
  if (f.vui) w.u(16, 0xa5c3);
  return w.nal(0x67);
}

/** Crop units by ChromaArrayType (table 6-1: SubWidthC, SubHeightC; 1 for monochrome). */
const CROP_X = [1, 2, 2, 1];
const CROP_Y = [1, 2, 1, 1];

/** What a decoder shows, from the fields (7-19 to 7-22). */
function expectedSize(f: SpsFields): { width: number; height: number } {
  let chromaArrayType = HIGH_PROFILES.includes(f.profileIdc) ? f.chromaFormatIdc : 1;
  if (chromaArrayType === 3 && f.separateColourPlane) chromaArrayType = 0;
  const [left, right, top, bottom] = f.crop ?? [0, 0, 0, 0];
  const fields = f.frameMbsOnly ? 1 : 2;
  return {
    width: 16 * f.widthMbs - CROP_X[chromaArrayType]! * (left! + right!),
    height: fields * (16 * f.heightMapUnits - CROP_Y[chromaArrayType]! * (top! + bottom!)),
  };
}

/** parseSps's answer for written fields, or null where cropping leaves nothing. */
export function expectedInfo(f: SpsFields): SpsInfo | null {
  const { width, height } = expectedSize(f);
  if (width <= 0 || height <= 0) return null;
  const high = HIGH_PROFILES.includes(f.profileIdc);
  return {
    profileIdc: f.profileIdc,
    constraintFlags: f.constraintFlags,
    levelIdc: f.levelIdc,
    chromaFormatIdc: high ? f.chromaFormatIdc : 1,
    bitDepthLuma: high ? 8 + f.depthLuma : 8,
    bitDepthChroma: high ? 8 + f.depthChroma : 8,
    width,
    height,
  };
}
