import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test-support/cli.js';
import {
  annexBNals,
  avcDecoderConfig,
  H264Error,
  NAL_AUD,
  NAL_IDR,
  NAL_PPS,
  NAL_SEI,
  NAL_SPS,
  type NalUnit,
  parseSps,
  type SpsInfo,
} from './h264.js';

const exec = promisify(execFile);
const big = { maxBuffer: 64 * 1024 * 1024 };
const NAL_SLICE = 1;

let dir = '';
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-h264-'));
});
afterAll(() => cleanup());

/** A clip x264 makes from testsrc2: `filter` shapes the picture (odd sizes need the format first). */
interface Clip {
  name: string;
  size: string;
  pixFmt: string;
  args: string[];
  filter?: string;
}

function clip(name: string, size: string, pixFmt: string, args: string, filter?: string): Clip {
  return { name, size, pixFmt, args: args ? args.split(' ') : [], ...(filter ? { filter } : {}) };
}

const CLIPS: Clip[] = [
  clip('1080p-high', '1920x1080', 'yuv420p', '-profile:v high'),
  clip('720p-main', '1280x720', 'yuv420p', '-profile:v main'),
  clip('odd-baseline', '642x362', 'yuv420p', '-profile:v baseline'),
  clip('high422', '642x362', 'yuv422p', '-profile:v high422', 'crop=642:361:0:0'),
  clip('high10', '854x480', 'yuv420p10le', '-profile:v high10'),
  clip('high444-odd', '322x242', 'yuv444p', '-profile:v high444', 'crop=321:241:0:0'),
  clip('gray-odd', '322x242', 'gray', '', 'crop=321:241:0:0'),
  clip('1080i', '1920x1080', 'yuv420p', '-flags +ildct+ilme'),
  clip('486i-422-10bit', '720x486', 'yuv422p10le', '-profile:v high422 -flags +ildct+ilme'),
];

/** Encodes a clip to raw Annex-B; `extra` goes to x264 (AUDs, GOP length). */
async function encode(clip: Clip, frames = 3, extra = ''): Promise<string> {
  const path = join(dir, `${clip.name}.h264`);
  const vf = [`format=${clip.pixFmt}`, ...(clip.filter ? [clip.filter] : [])].join(',');
  const x264 = extra ? ['-x264-params', extra] : [];
  await exec('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi'],
    ...['-i', `testsrc2=size=${clip.size}:rate=25`, '-vf', vf, '-frames:v', String(frames)],
    ...['-c:v', 'libx264', '-pix_fmt', clip.pixFmt, ...clip.args, ...x264, '-f', 'h264', path],
  ]);
  return path;
}

async function ffprobeStream(path: string): Promise<Record<string, unknown>> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path]);
  const streams = (JSON.parse(stdout) as { streams: Record<string, unknown>[] }).streams;
  expect(streams).toHaveLength(1);
  return streams[0]!;
}

/** The body of the one `avcC` box inside `moov` of an MP4 file. */
function avcCOf(mp4: Buffer): Buffer {
  let at = 0;
  while (at + 8 <= mp4.length && mp4.toString('latin1', at + 4, at + 8) !== 'moov') {
    at += mp4.readUInt32BE(at);
  }
  const moov = mp4.subarray(at, at + mp4.readUInt32BE(at));
  const tag = moov.indexOf('avcC');
  expect(tag).toBeGreaterThan(4);
  expect(moov.lastIndexOf('avcC')).toBe(tag);
  return moov.subarray(tag + 4, tag - 4 + moov.readUInt32BE(tag - 4));
}

/** The names ffmpeg gives profiles (libavcodec/profiles.c), for what our encodes produce. */
function ffmpegProfileName(info: SpsInfo): string {
  const constrained = (info.constraintFlags & 0x40) !== 0;
  const names: Record<number, string> = {
    66: constrained ? 'Constrained Baseline' : 'Baseline',
    77: 'Main',
    100: 'High',
    110: 'High 10',
    122: 'High 4:2:2',
    244: 'High 4:4:4 Predictive',
  };
  return names[info.profileIdc] ?? `unexpected profile ${info.profileIdc}`;
}

/** ffmpeg decodes monochrome as 4:2:0 with flat chroma; full range (yuvj) is a VUI matter. */
function ffmpegPixFmt(info: SpsInfo): string {
  const layout = ['yuv420p', 'yuv420p', 'yuv422p', 'yuv444p'][info.chromaFormatIdc];
  return info.bitDepthLuma > 8 ? `${layout}${info.bitDepthLuma}le` : `${layout}`;
}

/** Straightforward byte-at-a-time splitter: the meaning `annexBNals` must have. */
function referenceNals(bytes: Uint8Array): NalUnit[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) starts.push(i);
  }
  const units: NalUnit[] = [];
  starts.forEach((sc, k) => {
    let end = starts[k + 1] ?? bytes.length;
    while (end > sc + 3 && bytes[end - 1] === 0) end--;
    if (end > sc + 3) units.push({ type: bytes[sc + 3]! & 0x1f, start: sc + 3, end });
  });
  return units;
}

function firstOf(stream: Buffer, type: number): Buffer {
  const unit = annexBNals(stream).find((u) => u.type === type);
  if (!unit) throw new Error(`no NAL unit of type ${type}`);
  return stream.subarray(unit.start, unit.end);
}

describe('parseSps and avcDecoderConfig on x264 streams', () => {
  let x264Formats: string[] = [];
  beforeAll(async () => {
    const { stdout } = await exec('ffmpeg', ['-hide_banner', '-h', 'encoder=libx264']);
    x264Formats = /Supported pixel formats: (.*)/.exec(stdout)?.[1]?.split(' ') ?? [];
    expect(x264Formats).toContain('yuv420p');
  });

  it.each(CLIPS)('$name matches ffprobe and the avcC ffmpeg writes', async (clip) => {
    if (!x264Formats.includes(clip.pixFmt)) {
      // An 8-bit-only x264: the clip cannot be made, and that is what is checked.
      await expect(encode(clip)).rejects.toThrow();
      return;
    }
    const path = await encode(clip);
    const stream = await readFile(path);
    const sps = firstOf(stream, NAL_SPS);
    const info = parseSps(sps);
    const probe = await ffprobeStream(path);
    expect({ w: info.width, h: info.height }).toEqual({ w: probe.width, h: probe.height });
    expect(ffmpegProfileName(info)).toBe(probe.profile);
    expect(info.levelIdc).toBe(probe.level);
    expect(ffmpegPixFmt(info)).toBe(String(probe.pix_fmt).replace('yuvj', 'yuv'));
    expect(info.width).toBe(Number(clip.filter?.split(/[=:]/)[1] ?? clip.size.split('x')[0]));

    const mp4 = join(dir, `${clip.name}.mp4`);
    await exec('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-i', path, '-c', 'copy', mp4]);
    const expected = avcCOf(await readFile(mp4));
    const ours = avcDecoderConfig(sps, firstOf(stream, NAL_PPS), info);
    expect(ours.toString('hex')).toBe(expected.toString('hex'));
  });

  it('finds AUD, SPS, PPS, SEI, IDR and non-IDR units where x264 puts them', async () => {
    const frames = 12;
    const path = await encode(CLIPS[0]!, frames, 'aud=1:keyint=5:min-keyint=5:scenecut=0');
    const stream = await readFile(path);
    const units = annexBNals(stream);
    expect(units).toEqual(referenceNals(stream));
    const types = units.map((u) => u.type);
    expect(types.slice(0, 5)).toEqual([NAL_AUD, NAL_SPS, NAL_PPS, NAL_SEI, NAL_IDR]);
    expect(new Set(types)).toEqual(
      new Set([NAL_AUD, NAL_SPS, NAL_PPS, NAL_SEI, NAL_IDR, NAL_SLICE]),
    );
    const count = (type: number) => types.filter((t) => t === type).length;
    const { stdout } = await exec(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'packet=flags', '-of', 'csv=p=0', path],
      big,
    );
    const flags = stdout.trim().split('\n');
    expect(flags).toHaveLength(frames);
    const keyframes = flags.filter((f) => f.startsWith('K')).length;
    expect(count(NAL_AUD)).toBe(frames);
    expect(count(NAL_IDR) + count(NAL_SLICE)).toBe(frames);
    expect(count(NAL_IDR)).toBe(keyframes);
    expect(count(NAL_SPS)).toBe(keyframes); // x264 repeats the headers before every IDR
    // Every gap between units is a start code, possibly after trailing zeros.
    units.forEach((u, i) => {
      const gap = stream.subarray(i === 0 ? 0 : units[i - 1]!.end, u.start).toString('hex');
      expect(gap).toMatch(/^(00)*000001$/);
    });
    expect(stream.subarray(units.at(-1)!.end).every((b) => b === 0)).toBe(true);
  });
});

/** Writes bits most significant first; `nal()` adds the stop bit and emulation prevention. */
class BitWriter {
  private readonly bits: number[] = [];

  u(n: number, value: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }

  ue(value: number): this {
    const len = (value + 1).toString(2).length - 1;
    return this.u(len, 0).u(len + 1, value + 1);
  }

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

const HIGH = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

const scalingDeltas = fc.array(fc.integer({ min: -128, max: 127 }), {
  minLength: 64,
  maxLength: 64,
});
const spsFields = fc.record({
  profileIdc: fc.constantFrom(66, 77, 88, ...HIGH),
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
type Fields = typeof spsFields extends fc.Arbitrary<infer T> ? T : never;

function writeSps(f: Fields): Buffer {
  const w = new BitWriter().u(8, f.profileIdc).u(8, f.constraintFlags).u(8, f.levelIdc).ue(f.id);
  if (HIGH.includes(f.profileIdc)) {
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
function expectedSize(f: Fields): { width: number; height: number } {
  let chromaArrayType = HIGH.includes(f.profileIdc) ? f.chromaFormatIdc : 1;
  if (chromaArrayType === 3 && f.separateColourPlane) chromaArrayType = 0;
  const [left, right, top, bottom] = f.crop ?? [0, 0, 0, 0];
  const fields = f.frameMbsOnly ? 1 : 2;
  return {
    width: 16 * f.widthMbs - CROP_X[chromaArrayType]! * (left! + right!),
    height: fields * (16 * f.heightMapUnits - CROP_Y[chromaArrayType]! * (top! + bottom!)),
  };
}

/** parseSps's answer for written fields, or null where cropping leaves nothing. */
function expectedInfo(f: Fields): SpsInfo | null {
  const { width, height } = expectedSize(f);
  if (width <= 0 || height <= 0) return null;
  const high = HIGH.includes(f.profileIdc);
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

/**
 * SPS fields as ffmpeg's cbs_h264 reads them, per seq_parameter_set_id. A real one-frame
 * clip (SPS id 0) goes first: without a picture ffmpeg has no size and will not run.
 */
async function ffmpegSpsTrace(nals: Buffer[]): Promise<Map<number, Map<string, number>>> {
  const tiny = await readFile(await encode(clip('tiny', '64x64', 'yuv420p', ''), 1));
  const path = join(dir, 'written.h264');
  const written = nals.flatMap((nal) => [Buffer.from([0, 0, 0, 1]), nal]);
  await writeFile(path, Buffer.concat([tiny, ...written]));
  const args = ['-hide_banner', '-f', 'h264', '-i', path, '-c', 'copy', '-bsf:v', 'trace_headers'];
  const { stderr } = await exec('ffmpeg', [...args, '-f', 'null', '-'], big);
  const bySps = new Map<number, Map<string, number>>();
  let current = new Map<string, number>();
  for (const line of stderr.split('\n')) {
    if (line.includes('] Sequence Parameter Set')) current = new Map();
    const field = /\] \d+\s+(\S+)\s+[01]+ = (-?\d+)$/.exec(line);
    if (!field) continue;
    current.set(field[1]!, Number(field[2]));
    if (field[1] === 'seq_parameter_set_id') bySps.set(Number(field[2]), current);
  }
  return bySps;
}

describe('parseSps on written parameter sets', () => {
  it('reads back every layout: high profiles, scaling lists, POC types, fields, cropping', () => {
    fc.assert(
      fc.property(spsFields, (f) => {
        const nal = writeSps(f);
        const expected = expectedInfo(f);
        if (expected) expect(parseSps(nal)).toEqual(expected);
        else expect(() => parseSps(nal)).toThrow(H264Error);
      }),
      { numRuns: 2000 },
    );
  });

  it('writes what ffmpeg reads, so the round trip above checks the parser against ffmpeg', async () => {
    const samples = fc
      .sample(
        // ffmpeg's header tracer (cbs_h264) predates 139, 134 and 135 in the list of 7.3.2.1.1.
        spsFields.filter(
          (f) => expectedInfo(f) !== null && ![139, 134, 135].includes(f.profileIdc),
        ),
        31,
      )
      .map((f, i) => ({ ...f, id: i + 1, vui: false, constraintFlags: f.constraintFlags & 0xfc }));
    const trace = await ffmpegSpsTrace(samples.map(writeSps));
    for (const f of samples) {
      const seen = trace.get(f.id);
      const high = HIGH.includes(f.profileIdc);
      const [left, right, top, bottom] = f.crop ?? [0, 0, 0, 0];
      const written = {
        profile_idc: f.profileIdc,
        chroma_format_idc: high ? f.chromaFormatIdc : undefined,
        pic_order_cnt_type: f.poc.type,
        pic_width_in_mbs_minus1: f.widthMbs - 1,
        pic_height_in_map_units_minus1: f.heightMapUnits - 1,
        frame_mbs_only_flag: f.frameMbsOnly ? 1 : 0,
        frame_crop_left_offset: f.crop ? left : undefined,
        frame_crop_right_offset: f.crop ? right : undefined,
        frame_crop_top_offset: f.crop ? top : undefined,
        frame_crop_bottom_offset: f.crop ? bottom : undefined,
        vui_parameters_present_flag: 0,
      };
      const read = Object.fromEntries(Object.keys(written).map((k) => [k, seen?.get(k)]));
      expect(read, JSON.stringify(f)).toEqual(written);
      expect(parseSps(writeSps(f))).toEqual(expectedInfo(f));
    }
  });
});

describe('annexBNals', () => {
  const piece = fc.oneof(
    fc.constant([0, 0, 1]),
    fc.constant([0, 0, 0, 1]),
    fc.array(fc.constant(0), { minLength: 1, maxLength: 6 }),
    fc.array(fc.constantFrom(0, 1, 3), { maxLength: 6 }),
    fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 24 }),
  );

  it('splits like a byte-by-byte reference on buffers full of start codes and zero runs', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const bytes = Buffer.from(pieces.flat());
        expect(annexBNals(bytes)).toEqual(referenceNals(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('finds nothing without a start code and keeps bytes after the last one', () => {
    expect(annexBNals(Buffer.from([0, 0, 2, 0x65, 0, 0]))).toEqual([]);
    const au = Buffer.from([7, 0, 0, 0, 1, 0x67, 0, 0, 3, 0, 0, 0, 0, 1, 0x68, 9, 0]);
    const units = annexBNals(au);
    expect(units).toEqual([
      { type: NAL_SPS, start: 5, end: 9 },
      { type: NAL_PPS, start: 14, end: 16 },
    ]);
  });
});

describe('parseSps on bad input', () => {
  const onlyH264Errors = (bytes: Uint8Array) => {
    try {
      parseSps(bytes);
    } catch (err) {
      expect(err).toBeInstanceOf(H264Error);
      expect((err as H264Error).code).toBe('bad_h264');
    }
  };

  it('throws only H264Error on arbitrary bytes, with or without an SPS header', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), onlyH264Errors), { numRuns: 3000 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
        onlyH264Errors(Buffer.concat([Buffer.from([0x67]), tail]));
      }),
      { numRuns: 3000 },
    );
  });

  it('throws only H264Error on mutated and truncated real and written parameter sets', async () => {
    const stream = await readFile(await encode(CLIPS[5]!, 1));
    const real = firstOf(stream, NAL_SPS);
    const whole = parseSps(real);
    // Cut before the VUI flag it throws; cut anywhere after, it reads the same.
    const parsed = Array.from({ length: real.length }, (_, n) => {
      try {
        return parseSps(real.subarray(0, n));
      } catch (err) {
        expect(err).toBeInstanceOf(H264Error);
        return undefined;
      }
    });
    const first = parsed.findIndex((info) => info !== undefined);
    expect(first).toBeGreaterThan(6);
    for (const info of parsed.slice(first)) expect(info).toEqual(whole);
    const flip = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 }));
    fc.assert(
      fc.property(
        spsFields,
        fc.array(flip, { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (f, flips, cut) => {
          for (const base of [real, writeSps(f)]) {
            const bytes = Buffer.from(base);
            for (const [at, bit] of flips) bytes[at % bytes.length]! ^= 1 << bit;
            onlyH264Errors(bytes);
            onlyH264Errors(bytes.subarray(0, cut % bytes.length));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses a NAL that is not an SPS, and an avcC from mismatched parts', async () => {
    const stream = await readFile(await encode(CLIPS[1]!, 1));
    const [sps, pps] = [firstOf(stream, NAL_SPS), firstOf(stream, NAL_PPS)];
    const info = parseSps(sps);
    expect(() => parseSps(pps)).toThrow(H264Error);
    expect(() => parseSps(new Uint8Array())).toThrow(/empty/);
    expect(() => parseSps(Buffer.from([0xe7, 0x42]))).toThrow(/forbidden_zero_bit/);
    expect(() => avcDecoderConfig(pps, sps, info)).toThrow(H264Error);
    const otherLevel = { ...info, levelIdc: info.levelIdc + 1 };
    expect(() => avcDecoderConfig(sps, pps, otherLevel)).toThrow(H264Error);
    expect(() => avcDecoderConfig(sps, pps, { ...info, bitDepthLuma: 300 })).toThrow(H264Error);
    expect(() => avcDecoderConfig(sps, pps, { ...info, chromaFormatIdc: -1 })).toThrow(H264Error);
    expect(() => avcDecoderConfig(sps.subarray(0, 3), pps, info)).toThrow(H264Error);
  });
});
