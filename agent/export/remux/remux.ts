import { type FileHandle, open, rm } from 'node:fs/promises';
import type { Piece } from '../plan.js';
import { ExportError } from '../types.js';
import { RemuxUnsupported } from './errors.js';
import { annexBNals, avcDecoderConfig, NAL_PPS, NAL_SPS, parseSps } from './h264.js';
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
 * Footage it does not handle throws `RemuxUnsupported` (see `mpegts.ts`); the exporter
 * then uses ffmpeg. The output is checked by ffprobe like any other clip.
 */
export async function remuxClip(input: RemuxInput): Promise<RemuxResult> {
  const rows = input.pieces.flatMap((piece) => piece.segments);
  const firstReads = new ReadAhead(rows.map((row) => row.path));
  const firstPass: FileTimes[][] = [];
  let videoPid: number | undefined;
  let n = 0;
  try {
    for (const piece of input.pieces) {
      const files: FileTimes[] = [];
      for (const row of piece.segments) {
        checkCancelled(input.signal);
        const { buf, length } = await firstReads.get(n);
        const pid = h264Pid(buf, length);
        if (videoPid !== undefined && pid !== videoPid) {
          throw new RemuxUnsupported('the video changes stream between segments');
        }
        videoPid = pid;
        files.push({ row, times: pesTimes(buf, length, pid) });
        firstReads.release(n++, Promise.resolve());
      }
      firstPass.push(files);
    }
  } finally {
    await firstReads.settle();
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
  const file = await open(input.output, 'wx', 0o600);
  try {
    const written = await writeSamples(file, timeline.slices, {
      pid: videoPid,
      unitCounts,
      dataStart: mdatStart + MDAT_HEADER_BYTES,
      ...(input.signal ? { signal: input.signal } : {}),
      report: input.report ?? (() => {}),
    });
    const info = parseSps(written.sps);
    const index = moov({
      width: info.width,
      height: info.height,
      avcC: avcDecoderConfig(written.sps, written.pps, info),
      sizes: written.sizes,
      durations: timeline.durations,
      keys: timeline.keys,
      chunks: written.chunks,
      edits: timeline.edits,
    });
    const padding = mdatStart - head.length - index.length;
    if (padding < 8) throw new RangeError('the reserved index space is too small');
    const front = [head, index, free(padding), mdatHeader(written.bytes)];
    await writeAll(file, front, 0);
    await file.close();
    return { samples: written.sizes.length, bytes: mdatStart + MDAT_HEADER_BYTES + written.bytes };
  } catch (err) {
    await file.close().catch(() => {});
    await rm(input.output, { force: true });
    throw err;
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
  file: FileHandle,
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
  const reads = new ReadAhead(slices.map((slice) => slice.row.path));
  // One write in flight while the next file is read and worked on; each file's buffer is
  // released once its write is done.
  let writing: Promise<void> = Promise.resolve();
  try {
    for (const [i, slice] of slices.entries()) {
      checkCancelled(options.signal);
      const { buf, length } = await reads.get(i);
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
        for (const [j, nal] of nals.entries()) {
          const body = au.subarray(nal.start, nal.end);
          lengths.writeUInt32BE(body.length, 4 * j);
          parts.push(lengths.subarray(4 * j, 4 * j + 4), body);
          size += 4 + body.length;
          if (nal.type === NAL_SPS) sps = sameSet(sps, body, 'sequence');
          else if (nal.type === NAL_PPS) pps = sameSet(pps, body, 'picture');
        }
        if (size === 0) throw new RemuxUnsupported('an empty access unit');
        sizes.push(size);
        position += size;
      }
      writing = writing.then(() => writeAll(file, parts, start));
      reads.release(i, writing);
      chunks.push({ offset: start, samples: slice.to - slice.from });
      readBytes += slice.row.bytes;
      options.report(totalBytes > 0 ? readBytes / totalBytes : 1);
    }
    await writing;
  } finally {
    // Nothing may still write into the file or a buffer once this returns.
    await Promise.allSettled([writing, reads.settle()]);
  }
  if (!sps || !pps) throw new RemuxUnsupported('no parameter sets in the footage');
  return { sizes, chunks, bytes: position - options.dataStart, sps, pps };
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

async function writeAll(file: FileHandle, parts: Buffer[], position: number): Promise<void> {
  const expected = parts.reduce((sum, part) => sum + part.length, 0);
  const { bytesWritten } = await file.writev(parts, position);
  if (bytesWritten !== expected) throw new Error('short write to the clip');
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new ExportError('export_cancelled', 'the export was cancelled', {
      cause: signal.reason,
    });
  }
}

/**
 * Reads whole segment files, one ahead of the one being worked on, into a few buffers that
 * are reused once released (grown to the largest file): reading the next file, working on
 * this one and writing the last overlap, and memory stays a few segments' worth.
 */
class ReadAhead {
  private readonly buffers: Buffer[];
  /** Per buffer: settles when it may be read into again. */
  private readonly free: Promise<unknown>[];
  private readonly reads = new Map<number, Promise<{ buf: Buffer; length: number }>>();

  constructor(
    private readonly paths: readonly string[],
    slots = 3,
  ) {
    this.buffers = Array.from({ length: slots }, () => Buffer.allocUnsafe(0));
    this.free = Array.from({ length: slots }, () => Promise.resolve());
  }

  /** File `i`'s bytes; the read of file `i + 1` starts now. */
  async get(i: number): Promise<{ buf: Buffer; length: number }> {
    const read = this.start(i);
    if (!read) throw new RangeError(`no file ${i}`);
    void this.start(i + 1); // read ahead; its failure is handled in `start`
    return read;
  }

  /** File `i`'s buffer may be reused once `until` settles. */
  release(i: number, until: Promise<unknown>): void {
    this.reads.delete(i);
    this.free[i % this.buffers.length] = until.catch(() => {});
  }

  /** Waits for reads still running, so none writes into a buffer after the work ends. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.reads.values());
  }

  private start(i: number): Promise<{ buf: Buffer; length: number }> | undefined {
    const existing = this.reads.get(i);
    if (existing || i >= this.paths.length) return existing;
    const slot = i % this.buffers.length;
    const read = (this.free[slot] ?? Promise.resolve()).then(() =>
      this.readInto(slot, this.paths[i] ?? ''),
    );
    read.catch(() => {}); // a read ahead that fails is reported when its file is asked for
    this.reads.set(i, read);
    return read;
  }

  private async readInto(slot: number, path: string): Promise<{ buf: Buffer; length: number }> {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      let buf = this.buffers[slot] ?? Buffer.allocUnsafe(0);
      if (size > buf.length) {
        buf = Buffer.allocUnsafe(size);
        this.buffers[slot] = buf;
      }
      let length = 0;
      while (length < size) {
        const { bytesRead } = await file.read(buf, length, size - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      return { buf, length };
    } finally {
      await file.close();
    }
  }
}
