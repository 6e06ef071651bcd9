import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
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
} from './h264.js';
import { expectedInfo, HIGH_PROFILES, spsFields, writeSps } from './test-support/sps-writer.js';
import {
  avcCOf,
  CLIPS,
  encode,
  ffmpegPixFmt,
  ffmpegProfileName,
  ffmpegSpsTrace,
  ffprobeStream,
} from './test-support/x264-clips.js';

const exec = promisify(execFile);
const big = { maxBuffer: 64 * 1024 * 1024 };
const NAL_SLICE = 1;

let dir = '';
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('threshold-h264-'));
});
afterAll(() => cleanup());

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
      await expect(encode(dir, clip)).rejects.toThrow();
      return;
    }
    const path = await encode(dir, clip);
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
    const path = await encode(dir, CLIPS[0]!, frames, 'aud=1:keyint=5:min-keyint=5:scenecut=0');
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
    const trace = await ffmpegSpsTrace(dir, samples.map(writeSps));
    for (const f of samples) {
      const seen = trace.get(f.id);
      const high = HIGH_PROFILES.includes(f.profileIdc);
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
    const stream = await readFile(await encode(dir, CLIPS[5]!, 1));
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
    const stream = await readFile(await encode(dir, CLIPS[1]!, 1));
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
