import { ThresholdError } from '../../errors.js';

/**
 * H.264 bitstream helpers for the in-process MPEG-TS → MP4 remuxer: splitting Annex-B
 * access units into NAL units, reading the few sequence parameter set fields an MP4 track
 * needs, and writing the `avcC` record. Clause numbers refer to ITU-T H.264 (08/2021) and
 * ISO/IEC 14496-15.
 */

/** An H.264 stream (or one of its parameter sets) that cannot be read. */
export class H264Error extends ThresholdError {
  constructor(message: string) {
    super('bad_h264', message);
  }
}

/** A NAL unit inside an Annex-B buffer: [start, end) excludes the start code and any trailing zero bytes. */
export interface NalUnit {
  /** nal_unit_type (7.4.1): the low five bits of the header byte. */
  type: number;
  /** Offset of the header byte. */
  start: number;
  /** Offset just past the unit's last non-zero byte. */
  end: number;
}

export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;

const START_CODE = Buffer.from([0, 0, 1]);

/**
 * Splits an Annex-B access unit (start codes 00 00 01 or 00 00 00 01) into its NAL units, in order.
 * Bytes before the first start code are ignored; trailing zero bytes before the next start code
 * (trailing_zero_8bits) are not part of a unit. Empty units (two start codes in a row) are left out.
 *
 * The search for start codes is the native `indexOf`, so only the zeros at the end of each
 * unit are looked at from JavaScript: this runs over every byte of every exported clip.
 * 7.4.1 guarantees that 00 00 01 never occurs inside a unit (emulation prevention) and that a
 * unit's last byte is not zero, so the zeros before a start code (trailing_zero_8bits and the
 * leading zero of a four-byte start code, B.1) belong to no unit.
 */
export function annexBNals(au: Buffer): NalUnit[] {
  const units: NalUnit[] = [];
  let at = au.indexOf(START_CODE);
  while (at !== -1) {
    const start = at + 3;
    at = au.indexOf(START_CODE, start);
    let end = at === -1 ? au.length : at;
    while (end > start && au[end - 1] === 0) end--;
    const header = au[start];
    if (end > start && header !== undefined) units.push({ type: header & 0x1f, start, end });
  }
  return units;
}

export interface SpsInfo {
  /** profile_idc: 66 baseline, 77 main, 100 high, 110 high 10, 122 high 4:2:2, 244 high 4:4:4 … */
  profileIdc: number;
  /** The byte holding constraint_set0..5_flag and reserved_zero_2bits (avcC profile_compatibility). */
  constraintFlags: number;
  levelIdc: number;
  /** 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4 (1 for profiles that do not code it). */
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** Displayed size after frame cropping, pixels. */
  width: number;
  height: number;
}

/** Profiles whose SPS carries chroma_format_idc, bit depths and scaling lists (7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** Largest ue(v) value: 31 leading zeros (9.1); more is malformed. */
const UE_MAX = 2 ** 32 - 2;

/**
 * Widest and tallest picture accepted, in macroblocks: the MP4 track header stores sizes as
 * 16.16 fixed point, so nothing above 65535 pixels can be remuxed (ffmpeg refuses it too).
 */
const MAX_MBS = 4095;

/** Reads bits most significant first from an RBSP (emulation prevention already removed). */
class BitReader {
  private pos = 0;

  constructor(private readonly bytes: Uint8Array) {}

  bit(): number {
    const byte = this.bytes[this.pos >> 3];
    if (byte === undefined) throw new H264Error('sequence parameter set is truncated');
    const value = (byte >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return value;
  }

  /** u(n) for n ≤ 32; arithmetic instead of shifts so 32-bit values stay positive. */
  bits(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) value = value * 2 + this.bit();
    return value;
  }

  /** ue(v) (9.1), refused above `max` (the field's range in 7.4.2.1.1). */
  ue(field: string, max = UE_MAX): number {
    let zeros = 0;
    while (this.bit() === 0) {
      zeros++;
      if (zeros > 31) throw new H264Error(`${field}: exp-Golomb code longer than 32 bits`);
    }
    const value = 2 ** zeros - 1 + this.bits(zeros);
    if (value > max) throw new H264Error(`${field} ${value} is out of range (at most ${max})`);
    return value;
  }

  /** se(v) (9.1.1), refused outside [min, max]. */
  se(field: string, min = -(2 ** 31) + 1, max = 2 ** 31 - 1): number {
    const k = this.ue(field);
    const value = k % 2 === 1 ? (k + 1) / 2 : -k / 2;
    if (value < min || value > max) {
      throw new H264Error(`${field} ${value} is out of range [${min}, ${max}]`);
    }
    return value;
  }
}

/** The RBSP of a NAL unit's payload: every 00 00 03 loses its 03 (7.4.1). */
function unescapeRbsp(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length);
  let length = 0;
  let zeros = 0;
  for (const byte of payload) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    out[length++] = byte;
  }
  return out.subarray(0, length);
}

/** scaling_list() (7.3.2.1.1.1): only skipped, the matrices do not matter to a remuxer. */
function skipScalingList(reader: BitReader, size: number): void {
  let lastScale = 8;
  let nextScale = 8;
  for (let j = 0; j < size; j++) {
    if (nextScale !== 0) {
      const delta = reader.se('delta_scale', -128, 127);
      nextScale = (lastScale + delta + 256) % 256;
    }
    lastScale = nextScale === 0 ? lastScale : nextScale;
  }
}

/** pic_order_cnt_type and what follows it (7.3.2.1.1); none of it is kept. */
function skipPicOrderCnt(reader: BitReader): void {
  const type = reader.ue('pic_order_cnt_type', 2);
  if (type === 0) {
    reader.ue('log2_max_pic_order_cnt_lsb_minus4', 12);
  } else if (type === 1) {
    reader.bit(); // delta_pic_order_always_zero_flag
    reader.se('offset_for_non_ref_pic');
    reader.se('offset_for_top_to_bottom_field');
    const cycle = reader.ue('num_ref_frames_in_pic_order_cnt_cycle', 255);
    for (let i = 0; i < cycle; i++) reader.se('offset_for_ref_frame');
  }
}

interface ChromaFields {
  chromaFormatIdc: number;
  separateColourPlane: boolean;
  bitDepthLuma: number;
  bitDepthChroma: number;
}

/** The fields only the high profiles code; the others imply 4:2:0, 8 bits (7.4.2.1.1). */
function readChroma(reader: BitReader, profileIdc: number): ChromaFields {
  if (!HIGH_PROFILES.has(profileIdc)) {
    return { chromaFormatIdc: 1, separateColourPlane: false, bitDepthLuma: 8, bitDepthChroma: 8 };
  }
  const chromaFormatIdc = reader.ue('chroma_format_idc', 3);
  const separateColourPlane = chromaFormatIdc === 3 && reader.bit() === 1;
  const bitDepthLuma = reader.ue('bit_depth_luma_minus8', 6) + 8;
  const bitDepthChroma = reader.ue('bit_depth_chroma_minus8', 6) + 8;
  reader.bit(); // qpprime_y_zero_transform_bypass_flag
  if (reader.bit() === 1) {
    // seq_scaling_matrix_present_flag: six 4x4 lists, then two 8x8 (six with 4:4:4).
    const lists = chromaFormatIdc === 3 ? 12 : 8;
    for (let i = 0; i < lists; i++) {
      if (reader.bit() === 1) skipScalingList(reader, i < 6 ? 16 : 64);
    }
  }
  return { chromaFormatIdc, separateColourPlane, bitDepthLuma, bitDepthChroma };
}

/**
 * Parses a sequence parameter set NAL (header byte included); emulation-prevention bytes
 * (00 00 03) are removed first. Reads up to frame cropping (7.3.2.1.1); the VUI is not
 * needed. Anything malformed or truncated throws `H264Error`, never anything else, because
 * the bytes come from a camera.
 */
export function parseSps(nal: Uint8Array): SpsInfo {
  const header = nal[0];
  if (header === undefined) throw new H264Error('sequence parameter set is empty');
  if ((header & 0x80) !== 0) throw new H264Error('forbidden_zero_bit is set');
  if ((header & 0x1f) !== NAL_SPS) {
    throw new H264Error(`NAL unit type ${header & 0x1f} is not a sequence parameter set`);
  }
  const reader = new BitReader(unescapeRbsp(nal.subarray(1)));
  const profileIdc = reader.bits(8);
  const constraintFlags = reader.bits(8);
  const levelIdc = reader.bits(8);
  reader.ue('seq_parameter_set_id', 31);
  const chroma = readChroma(reader, profileIdc);
  reader.ue('log2_max_frame_num_minus4', 12);
  skipPicOrderCnt(reader);
  reader.ue('max_num_ref_frames', 16);
  reader.bit(); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = reader.ue('pic_width_in_mbs_minus1', MAX_MBS - 1) + 1;
  const heightMapUnits = reader.ue('pic_height_in_map_units_minus1', MAX_MBS - 1) + 1;
  const frameMbsOnly = reader.bit();
  if (frameMbsOnly === 0) reader.bit(); // mb_adaptive_frame_field_flag
  reader.bit(); // direct_8x8_inference_flag
  const crop = { left: 0, right: 0, top: 0, bottom: 0 };
  if (reader.bit() === 1) {
    crop.left = reader.ue('frame_crop_left_offset');
    crop.right = reader.ue('frame_crop_right_offset');
    crop.top = reader.ue('frame_crop_top_offset');
    crop.bottom = reader.ue('frame_crop_bottom_offset');
  }
  reader.bit(); // vui_parameters_present_flag: the last field read, so its absence is truncation

  const heightMbs = heightMapUnits * (2 - frameMbsOnly);
  if (heightMbs > MAX_MBS) throw new H264Error(`picture is ${heightMbs} macroblocks tall`);
  // Crop units (7-19 to 7-22): chroma samples, doubled vertically when a frame is two fields.
  const chromaArrayType = chroma.separateColourPlane ? 0 : chroma.chromaFormatIdc;
  const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
  const subHeightC = chromaArrayType === 1 ? 2 : 1;
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * (2 - frameMbsOnly);
  const width = widthMbs * 16 - cropUnitX * (crop.left + crop.right);
  const height = heightMbs * 16 - cropUnitY * (crop.top + crop.bottom);
  if (width <= 0 || height <= 0) {
    throw new H264Error(`frame cropping leaves no picture (${width}x${height})`);
  }
  return {
    profileIdc,
    constraintFlags,
    levelIdc,
    chromaFormatIdc: chroma.chromaFormatIdc,
    bitDepthLuma: chroma.bitDepthLuma,
    bitDepthChroma: chroma.bitDepthChroma,
    width,
    height,
  };
}

/** Profiles that imply 4:2:0 at 8 bits, for which ffmpeg leaves out the avcC extension. */
const PROFILES_WITHOUT_AVCC_EXT = new Set([66, 77, 88]);

/**
 * The body of an ISO/IEC 14496-15 `avcC` box (AVCDecoderConfigurationRecord, 5.3.3.1, no
 * box header): version 1, profile/compat/level from the SPS bytes, lengthSizeMinusOne 3,
 * one SPS and one PPS, then chroma_format / bit depth bytes and numOfSequenceParameterSetExt
 * 0. The extension is written for every profile except 66/77/88, as ffmpeg
 * (`ff_isom_write_avcc`) does, so our files match the ones ffmpeg made before; the standard's
 * list (100/110/122/144) names 144, the withdrawn High 4:4:4 profile, and not its successor
 * 244, which needs the extension just as much.
 */
export function avcDecoderConfig(sps: Uint8Array, pps: Uint8Array, info: SpsInfo): Buffer {
  const [header, profileIdc, compat, levelIdc] = sps;
  if (header === undefined || profileIdc === undefined || compat === undefined) {
    throw new H264Error('sequence parameter set is too short for an avcC record');
  }
  if (levelIdc === undefined) throw new H264Error('sequence parameter set has no level');
  if ((header & 0x1f) !== NAL_SPS || ((pps[0] ?? 0) & 0x1f) !== NAL_PPS) {
    throw new H264Error('avcC needs a sequence and a picture parameter set');
  }
  if (sps.length > 0xffff || pps.length > 0xffff) {
    throw new H264Error('parameter set longer than 65535 bytes');
  }
  if (profileIdc !== info.profileIdc || levelIdc !== info.levelIdc) {
    throw new H264Error('SPS info does not belong to this sequence parameter set');
  }
  const inRange = (v: number, min: number, max: number) =>
    Number.isInteger(v) && v >= min && v <= max;
  const depthsOk = inRange(info.bitDepthLuma, 8, 14) && inRange(info.bitDepthChroma, 8, 14);
  if (!inRange(info.chromaFormatIdc, 0, 3) || !depthsOk) {
    throw new H264Error('SPS info holds a chroma format or bit depth H.264 does not have');
  }
  const ext = !PROFILES_WITHOUT_AVCC_EXT.has(profileIdc);
  const out = Buffer.alloc(6 + 2 + sps.length + 1 + 2 + pps.length + (ext ? 4 : 0));
  let at = out.writeUInt8(1, 0); // configurationVersion
  at = out.writeUInt8(profileIdc, at);
  at = out.writeUInt8(compat, at);
  at = out.writeUInt8(levelIdc, at);
  at = out.writeUInt8(0xfc | 3, at); // reserved 111111, lengthSizeMinusOne 3 (4-byte lengths)
  at = out.writeUInt8(0xe0 | 1, at); // reserved 111, numOfSequenceParameterSets 1
  at = out.writeUInt16BE(sps.length, at);
  out.set(sps, at);
  at += sps.length;
  at = out.writeUInt8(1, at); // numOfPictureParameterSets
  at = out.writeUInt16BE(pps.length, at);
  out.set(pps, at);
  at += pps.length;
  if (ext) {
    at = out.writeUInt8(0xfc | info.chromaFormatIdc, at);
    at = out.writeUInt8(0xf8 | (info.bitDepthLuma - 8), at);
    at = out.writeUInt8(0xf8 | (info.bitDepthChroma - 8), at);
    out.writeUInt8(0, at); // numOfSequenceParameterSetExt
  }
  return out;
}
