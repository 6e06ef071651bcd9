import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readSync,
  unlinkSync,
  writevSync,
} from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Piece } from '../plan.js';
import { ExportError, exportCancelled } from '../types.js';
import { RemuxUnsupported } from './errors.js';
import {
  annexBNals,
  avcDecoderConfig,
  H264Error,
  NAL_PPS,
  NAL_SPS,
  parseSps,
  type SpsInfo,
} from './h264.js';
import { free, ftyp, MDAT_HEADER_BYTES, mdatHeader, moov, moovBound } from './mp4-boxes.js';
import { compactVideo, pesTimes, programStreams, STREAM_TYPE_H264 } from './mpegts.js';
import { clipTimeline, type FileTimes, type Slice } from './timeline.js';

export interface RemuxInput {
  pieces: readonly Piece[];
  /** Seconds the clip presents (the plan's duration). */
  durationS: number;
  /** The MP4 to create; it must not exist, and is removed again if the remux fails. */
  output: string;
  signal?: AbortSignal;
  /** Fraction written, 0..1. */
  report?: (fraction: number) => void;
}

export interface RemuxResult {
  samples: number;
  bytes: number;
}

/** Room for the `avcC`: parameter sets of any real camera fit many times over. */
const AVCC_RESERVE = 2048;

/**
 * The fast cut without ffmpeg: the recorder's MPEG-TS segments become an MP4 with its index
 * at the front, in two passes over the files, and no process to start. Pass one reads only
 * PES headers and decides the samples and the edit list; the index's size is then bounded
 * and reserved. Pass two strips the packet headers in place, turns start codes into
 * lengths, and writes the samples straight from the read buffer with `writev`. Memory is
 * one segment's worth whatever the clip's length.
 *
 * Each segment is read, worked on and written in one synchronous step (a couple of
 * milliseconds for 2 s of 1080p), and the event loop gets its turn between segments: the
 * thread pool's round trips for every read and write made the remux two to three times
 * slower, and nothing waits longer than one step.
 *
 * Footage it does not handle throws `RemuxUnsupported` (see `mpegts.ts`); the exporter
 * then uses ffmpeg. The output is checked by ffprobe like any other clip.
 */
export async function remuxClip(input: RemuxInput): Promise<RemuxResult> {
  const reader = new SegmentReader();
  const firstPass: FileTimes[][] = [];
  let videoPid: number | undefined;
  for (const piece of input.pieces) {
    const files: FileTimes[] = [];
    for (const row of piece.segments) {
      await step(input.signal);
      const length = reader.read(row.path);
      const pid = h264Pid(reader.buf, length);
      if (videoPid !== undefined && pid !== videoPid) {
        throw new RemuxUnsupported('the video changes stream between segments');
      }
      videoPid = pid;
      files.push({ row, times: pesTimes(reader.buf, length, pid) });
    }
    firstPass.push(files);
  }
  if (videoPid === undefined) throw new RemuxUnsupported('no segments');
  const timeline = clipTimeline(
    input.pieces.map((piece, i) => ({ piece, files: firstPass[i] ?? [] })),
    input.durationS,
  );
  const unitCounts = new Map(firstPass.flat().map((f) => [f.row.path, f.times.pts.length]));

  const head = ftyp();
  const mdatStart =
    head.length + moovBound(timeline.dts.length, timeline.slices.length, AVCC_RESERVE) + 8;
  const fd = openSync(input.output, 'wx', 0o600);
  let done = false;
  try {
    const written = await writeSamples(fd, reader, timeline.slices, {
      pid: videoPid,
      unitCounts,
      dataStart: mdatStart + MDAT_HEADER_BYTES,
      ...(input.signal ? { signal: input.signal } : {}),
      report: input.report ?? (() => {}),
    });
    const { info, avcC } = decoderConfig(written.sps, written.pps);
    const index = moov({
      width: info.width,
      height: info.height,
      avcC,
      sizes: written.sizes,
      durations: timeline.durations,
      keys: timeline.keys,
      chunks: written.chunks,
      edits: timeline.edits,
    });
    const padding = mdatStart - head.length - index.length;
    if (padding < 8) throw new RangeError('the reserved index space is too small');
    writeAll(fd, [head, index, free(padding), mdatHeader(written.bytes)], 0);
    done = true;
    return { samples: written.sizes.length, bytes: mdatStart + MDAT_HEADER_BYTES + written.bytes };
  } finally {
    closeSync(fd);
    if (!done) unlinkSync(input.output);
  }
}

interface WriteOptions {
  pid: number;
  /** Access units per file found by the first pass: the second must find the same. */
  unitCounts: ReadonlyMap<string, number>;
  dataStart: number;
  signal?: AbortSignal;
  report: (fraction: number) => void;
}

interface Written {
  sizes: number[];
  chunks: { offset: number; samples: number }[];
  bytes: number;
  sps: Uint8Array;
  pps: Uint8Array;
}

async function writeSamples(
  fd: number,
  reader: SegmentReader,
  slices: readonly Slice[],
  options: WriteOptions,
): Promise<Written> {
  const sizes: number[] = [];
  const chunks: Written['chunks'] = [];
  let position = options.dataStart;
  let sps: Buffer | undefined;
  let pps: Buffer | undefined;
  const totalBytes = slices.reduce((sum, slice) => sum + slice.row.bytes, 0);
  let readBytes = 0;
  for (const slice of slices) {
    await step(options.signal);
    const length = reader.read(slice.row.path);
    const { buf } = reader;
    const bounds = compactVideo(buf, length, options.pid);
    if (bounds.length - 1 !== options.unitCounts.get(slice.row.path)) {
      throw new ExportError('bad_segment', `segment ${slice.row.id} changed while it was cut`);
    }
    const parts: Buffer[] = [];
    const start = position;
    for (let unit = slice.from; unit < slice.to; unit++) {
      const au = buf.subarray(bounds[unit], bounds[unit + 1]);
      const nals = annexBNals(au);
      const lengths = Buffer.allocUnsafe(4 * nals.length);
      let size = 0;
      for (const [i, nal] of nals.entries()) {
        const body = au.subarray(nal.start, nal.end);
        lengths.writeUInt32BE(body.length, 4 * i);
        parts.push(lengths.subarray(4 * i, 4 * i + 4), body);
        size += 4 + body.length;
        if (nal.type === NAL_SPS) sps = sameSet(sps, body, 'sequence');
        else if (nal.type === NAL_PPS) pps = sameSet(pps, body, 'picture');
      }
      if (size === 0) throw new RemuxUnsupported('an empty access unit');
      sizes.push(size);
      position += size;
    }
    writeAll(fd, parts, start);
    chunks.push({ offset: start, samples: slice.to - slice.from });
    readBytes += slice.row.bytes;
    options.report(totalBytes > 0 ? readBytes / totalBytes : 1);
  }
  if (!sps || !pps) throw new RemuxUnsupported('no parameter sets in the footage');
  return { sizes, chunks, bytes: position - options.dataStart, sps, pps };
}

/** The track's size and `avcC`; parameter sets this parser does not take are ffmpeg's. */
function decoderConfig(sps: Uint8Array, pps: Uint8Array): { info: SpsInfo; avcC: Buffer } {
  try {
    const info = parseSps(sps);
    return { info, avcC: avcDecoderConfig(sps, pps, info) };
  } catch (err) {
    if (err instanceof H264Error) throw new RemuxUnsupported(`parameter sets: ${err.message}`);
    throw err;
  }
}

/**
 * A parameter set, copied out of the read buffer. One `avcC` describes the whole track,
 * so a set that changes within the clip (a new resolution) is left to ffmpeg.
 */
function sameSet(kept: Buffer | undefined, found: Buffer, kind: string): Buffer {
  if (!kept) return Buffer.from(found);
  if (!kept.equals(found)) throw new RemuxUnsupported(`the ${kind} parameter set changes`);
  return kept;
}

function h264Pid(buf: Uint8Array, length: number): number {
  const streams = programStreams(buf, length);
  const video = streams.filter((s) => s.streamType === STREAM_TYPE_H264);
  const [only] = video;
  if (!only || video.length > 1) throw new RemuxUnsupported('not one H.264 stream');
  return only.pid;
}

function writeAll(fd: number, parts: Buffer[], position: number): void {
  const expected = parts.reduce((sum, part) => sum + part.length, 0);
  if (writevSync(fd, parts, position) !== expected) throw new Error('short write to the clip');
}

/** Between segments: the event loop's turn, then stop if the export was cancelled. */
async function step(signal: AbortSignal | undefined): Promise<void> {
  await nextTurn();
  if (signal?.aborted) throw exportCancelled(signal);
}

/** Reads whole segment files into one buffer, grown to the largest. */
class SegmentReader {
  buf = Buffer.allocUnsafe(4 * 1024 * 1024);

  /** Reads the file into `buf`; returns its length. */
  read(path: string): number {
    // Reads here block the thread: a FIFO or device would block it for good, so only
    // regular files are read (opening without blocking, which they ignore).
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) throw new RemuxUnsupported('a segment is not a regular file');
      const { size } = stats;
      if (size > this.buf.length) this.buf = Buffer.allocUnsafe(size);
      let length = 0;
      while (length < size) {
        const bytesRead = readSync(fd, this.buf, length, size - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      return length;
    } finally {
      closeSync(fd);
    }
  }
}
