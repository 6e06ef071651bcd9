import { RemuxUnsupported } from './errors.js';

/**
 * Just enough MPEG-TS (ISO/IEC 13818-1) to take the H.264 stream out of the recorder's own
 * segments: the program tables, PES headers, and the video payload stripped of its packet
 * headers. The segments come from ffmpeg's MPEG-TS muxer: tables that fit one packet, one
 * access unit per PES, every segment opening with the tables and a new PES. Anything else
 * is `RemuxUnsupported`, and the exporter hands the footage to ffmpeg instead.
 */

export const TS_PACKET = 188;
const SYNC = 0x47;
const PAT_PID = 0;
/** ITU-T H.264 in a PES (ISO/IEC 13818-1, table 2-34). */
export const STREAM_TYPE_H264 = 0x1b;
/** PTS and DTS are 33-bit counters of a 90 kHz clock. */
export const PTS_MODULO = 2 ** 33;
export const TICKS_PER_S = 90_000;

export interface ElementaryStream {
  pid: number;
  streamType: number;
}

/** The program's streams, from the PAT and the PMT it points to (the first program). */
export function programStreams(buf: Uint8Array, length: number): ElementaryStream[] {
  const pat = sectionIn(buf, length, PAT_PID, 0x00);
  if (!pat) throw new RemuxUnsupported('no program association table');
  let pmtPid: number | undefined;
  for (let i = 8; i + 4 <= pat.end - 4; i += 4) {
    const program = (buf[pat.start + i] ?? 0) * 256 + (buf[pat.start + i + 1] ?? 0);
    if (program !== 0) {
      pmtPid = (((buf[pat.start + i + 2] ?? 0) & 0x1f) << 8) | (buf[pat.start + i + 3] ?? 0);
      break;
    }
  }
  if (pmtPid === undefined) throw new RemuxUnsupported('no program in the PAT');
  const pmt = sectionIn(buf, length, pmtPid, 0x02);
  if (!pmt) throw new RemuxUnsupported('no program map table');
  const at = (i: number) => buf[pmt.start + i] ?? 0;
  const programInfo = ((at(10) & 0x0f) << 8) | at(11);
  const streams: ElementaryStream[] = [];
  for (let i = 12 + programInfo; i + 5 <= pmt.end - pmt.start - 4; ) {
    const esInfo = ((at(i + 3) & 0x0f) << 8) | at(i + 4);
    streams.push({ streamType: at(i), pid: ((at(i + 1) & 0x1f) << 8) | at(i + 2) });
    i += 5 + esInfo;
  }
  return streams;
}

/** A PSI section of `tableId` on `pid`, [start, end) in `buf`: it must fit one packet. */
function sectionIn(
  buf: Uint8Array,
  length: number,
  pid: number,
  tableId: number,
): { start: number; end: number } | undefined {
  for (let off = 0; off + TS_PACKET <= length; off += TS_PACKET) {
    if (packetPid(buf, off) !== pid || !((buf[off + 1] ?? 0) & 0x40)) continue;
    const payload = payloadStart(buf, off);
    if (payload < 0) continue;
    const start = payload + 1 + (buf[payload] ?? 0); // pointer_field
    if ((buf[start] ?? -1) !== tableId) continue;
    const sectionLength = (((buf[start + 1] ?? 0) & 0x0f) << 8) | (buf[start + 2] ?? 0);
    const end = start + 3 + sectionLength;
    if (end > off + TS_PACKET || sectionLength < 9) {
      throw new RemuxUnsupported('a program table spans packets');
    }
    return { start, end };
  }
  return undefined;
}

function packetPid(buf: Uint8Array, off: number): number {
  return (((buf[off + 1] ?? 0) & 0x1f) << 8) | (buf[off + 2] ?? 0);
}

/** Offset of the packet's payload, or -1 when it carries none. */
function payloadStart(buf: Uint8Array, off: number): number {
  const control = ((buf[off + 3] ?? 0) >> 4) & 0x03;
  if (!(control & 0x01)) return -1;
  const start = control & 0x02 ? off + 5 + (buf[off + 4] ?? 0) : off + 4;
  return start < off + TS_PACKET ? start : -1;
}

/** What the PES headers of a file's video stream say, one entry per access unit. */
export interface PesTimes {
  /** Presentation and decoding times, 90 kHz ticks as found (33 bits, not unwrapped). */
  pts: number[];
  dts: number[];
  /** The packet's random access indicator: ffmpeg sets it on keyframes. */
  key: boolean[];
}

/**
 * Reads the PES headers of `pid` without touching the payload: the first pass, which
 * decides what goes into the clip before a byte is written.
 */
export function pesTimes(buf: Uint8Array, length: number, pid: number): PesTimes {
  checkPackets(buf, length);
  const times: PesTimes = { pts: [], dts: [], key: [] };
  let sawPayload = false;
  for (let off = 0; off + TS_PACKET <= length; off += TS_PACKET) {
    if (packetPid(buf, off) !== pid) continue;
    const payload = payloadStart(buf, off);
    if (payload < 0) continue;
    if (!((buf[off + 1] ?? 0) & 0x40)) {
      if (!sawPayload) throw new RemuxUnsupported('a file opens inside an access unit');
      continue;
    }
    sawPayload = true;
    const header = pesHeader(buf, payload, off + TS_PACKET);
    times.pts.push(header.pts);
    times.dts.push(header.dts);
    const adaptation = ((buf[off + 3] ?? 0) & 0x20) !== 0 && (buf[off + 4] ?? 0) > 0;
    times.key.push(adaptation && ((buf[off + 5] ?? 0) & 0x40) !== 0);
  }
  return times;
}

function checkPackets(buf: Uint8Array, length: number): void {
  if (length % TS_PACKET !== 0) throw new RemuxUnsupported('a file is not whole TS packets');
  for (let off = 0; off < length; off += TS_PACKET) {
    if (buf[off] !== SYNC) throw new RemuxUnsupported(`lost packet sync at byte ${off}`);
  }
}

interface PesHeader {
  pts: number;
  dts: number;
  /** Where the elementary stream's bytes start. */
  dataStart: number;
}

function pesHeader(buf: Uint8Array, at: number, packetEnd: number): PesHeader {
  if (at + 9 > packetEnd || buf[at] !== 0 || buf[at + 1] !== 0 || buf[at + 2] !== 1) {
    throw new RemuxUnsupported('a PES header does not fit its packet');
  }
  const flags = ((buf[at + 7] ?? 0) >> 6) & 0x03;
  const dataStart = at + 9 + (buf[at + 8] ?? 0);
  if (dataStart > packetEnd || flags === 0 || flags === 1) {
    throw new RemuxUnsupported('an access unit without a presentation time');
  }
  const pts = timestamp(buf, at + 9);
  const dts = flags === 3 ? timestamp(buf, at + 14) : pts;
  return { pts, dts, dataStart };
}

/** A 33-bit PTS/DTS field (five bytes with marker bits). */
function timestamp(buf: Uint8Array, at: number): number {
  const b = (i: number) => buf[at + i] ?? 0;
  const high = (b(0) >> 1) & 0x07;
  const low = ((b(1) << 22) | ((b(2) >> 1) << 15) | (b(3) << 7) | (b(4) >> 1)) >>> 0;
  return high * 2 ** 30 + low;
}

/**
 * Strips the packet headers of `pid` in place: the video's elementary stream ends up
 * contiguous at the front of `buf`, and the result gives where each access unit starts
 * (one more entry than units: the last is the end). Every byte moves down, never up, so
 * one buffer serves; no allocation per packet.
 */
export function compactVideo(buf: Buffer, length: number, pid: number): number[] {
  checkPackets(buf, length);
  const bounds: number[] = [];
  let write = 0;
  for (let off = 0; off + TS_PACKET <= length; off += TS_PACKET) {
    if (packetPid(buf, off) !== pid) continue;
    let payload = payloadStart(buf, off);
    if (payload < 0) continue;
    const end = off + TS_PACKET;
    if ((buf[off + 1] ?? 0) & 0x40) {
      payload = pesHeader(buf, payload, end).dataStart;
      bounds.push(write);
    } else if (bounds.length === 0) {
      throw new RemuxUnsupported('a file opens inside an access unit');
    }
    buf.copyWithin(write, payload, end);
    write += end - payload;
  }
  bounds.push(write);
  return bounds;
}

/** `later` - `earlier` in ticks across a 33-bit wrap (for gaps under 13 hours). */
export function tickDelta(earlier: number, later: number): number {
  let delta = (later - earlier) % PTS_MODULO;
  if (delta > PTS_MODULO / 2) delta -= PTS_MODULO;
  if (delta < -PTS_MODULO / 2) delta += PTS_MODULO;
  return delta;
}
