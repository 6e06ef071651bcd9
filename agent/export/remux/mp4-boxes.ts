/**
 * The boxes of a progressive MP4 (ISO/IEC 14496-12) with one H.264 track, index first:
 * `ftyp`, `moov`, `free` (the rest of the space reserved for the index), `mdat`. Pure
 * functions from sample tables to bytes; the remux writes them.
 */

/** The movie's clock (`mvhd`, `tkhd`, edit durations): milliseconds, as ffmpeg writes. */
export const MOVIE_TIMESCALE = 1000;
/** The track's clock: MPEG-TS's own 90 kHz, so timestamps carry over without rounding. */
export const MEDIA_TIMESCALE = 90_000;
/** `mdat` with a 64-bit size: its header is the same whatever the clip's size. */
export const MDAT_HEADER_BYTES = 16;

/** One entry of the edit list: a stretch of the track, or nothing (`mediaTime` -1). */
export interface Edit {
  /** Track time (90 kHz) presented at the edit's start; -1 for an empty edit. */
  mediaTime: number;
  /** How long it is presented, seconds. */
  durationS: number;
}

export interface VideoTrack {
  width: number;
  height: number;
  /** The `avcC` body (AVCDecoderConfigurationRecord). */
  avcC: Uint8Array;
  /** Per sample: bytes, duration (90 kHz ticks), and whether it is a sync sample. */
  sizes: readonly number[];
  durations: readonly number[];
  keys: readonly boolean[];
  /** Runs of consecutive samples stored together: file offset and sample count. */
  chunks: readonly { offset: number; samples: number }[];
  edits: readonly Edit[];
}

export function ftyp(): Buffer {
  return box('ftyp', ascii('isom'), u32(0x200), ascii('isomiso2avc1mp41'));
}

/** A `free` box filling exactly `bytes` (at least 8). */
export function free(bytes: number): Buffer {
  if (bytes < 8) throw new RangeError('a free box takes at least 8 bytes');
  return box('free', Buffer.alloc(bytes - 8));
}

/** The header of an `mdat` holding `payload` bytes, in the 64-bit form. */
export function mdatHeader(payload: number): Buffer {
  const header = Buffer.alloc(MDAT_HEADER_BYTES);
  header.writeUInt32BE(1, 0);
  header.write('mdat', 4, 'latin1');
  header.writeBigUInt64BE(BigInt(payload + MDAT_HEADER_BYTES), 8);
  return header;
}

/**
 * At least the size of the `moov` of a track with `samples` samples in `chunks` chunks and
 * an `avcC` of up to `avcCBytes`: space reserved before the media is written.
 */
export function moovBound(samples: number, chunks: number, avcCBytes: number): number {
  const fixed = 1024 + avcCBytes;
  // stts 8, stsz 4, stss 4 per sample; stsc 12, co64 8 per chunk; two edits.
  return fixed + 16 * samples + 20 * chunks;
}

/** Presented duration of the track, seconds: the edit list's total. */
export function presentedS(track: VideoTrack): number {
  return track.edits.reduce((sum, edit) => sum + edit.durationS, 0);
}

export function moov(track: VideoTrack): Buffer {
  const movieDuration = Math.round(presentedS(track) * MOVIE_TIMESCALE);
  const mediaDuration = track.durations.reduce((sum, d) => sum + d, 0);
  return box(
    'moov',
    mvhd(movieDuration),
    box(
      'trak',
      tkhd(movieDuration, track.width, track.height),
      box('edts', elst(track.edits)),
      box(
        'mdia',
        mdhd(mediaDuration),
        fullBox(
          'hdlr',
          0,
          0,
          u32(0),
          ascii('vide'),
          Buffer.alloc(12),
          Buffer.from('VideoHandler\0', 'latin1'),
        ),
        box(
          'minf',
          fullBox('vmhd', 0, 1, Buffer.alloc(8)),
          box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1))),
          stbl(track),
        ),
      ),
    ),
  );
}

function mvhd(duration: number): Buffer {
  const v1 = duration > 0xffffffff;
  return fullBox(
    'mvhd',
    v1 ? 1 : 0,
    0,
    times(v1, MOVIE_TIMESCALE, duration),
    u32(0x00010000), // rate 1.0
    Buffer.from([0x01, 0x00]), // volume 1.0
    Buffer.alloc(10),
    MATRIX,
    Buffer.alloc(24),
    u32(2), // next track id
  );
}

function tkhd(duration: number, width: number, height: number): Buffer {
  const v1 = duration > 0xffffffff;
  // Creation and modification times stay 0: a clip says nothing of when it was made.
  const head = v1
    ? Buffer.concat([Buffer.alloc(16), u32(1), u32(0), u64(duration)])
    : Buffer.concat([Buffer.alloc(8), u32(1), u32(0), u32(duration)]);
  return fullBox(
    'tkhd',
    v1 ? 1 : 0,
    0x000003, // enabled, in movie
    head,
    Buffer.alloc(8),
    Buffer.alloc(8), // layer, alternate group, volume 0, reserved
    MATRIX,
    u32(width * 0x10000),
    u32(height * 0x10000),
  );
}

function mdhd(duration: number): Buffer {
  const v1 = duration > 0xffffffff;
  // Language `und`, packed ISO-639-2/T.
  return fullBox('mdhd', v1 ? 1 : 0, 0, times(v1, MEDIA_TIMESCALE, duration), u32(0x55c40000));
}

function elst(edits: readonly Edit[]): Buffer {
  const entries = edits.map((edit) => ({
    duration: Math.round(edit.durationS * MOVIE_TIMESCALE),
    mediaTime: edit.mediaTime,
  }));
  const v1 = entries.some((e) => e.duration > 0xffffffff || e.mediaTime > 0x7fffffff);
  const body = entries.map((entry) => {
    const b = Buffer.alloc(v1 ? 20 : 12);
    if (v1) {
      b.writeBigUInt64BE(BigInt(entry.duration), 0);
      b.writeBigInt64BE(BigInt(entry.mediaTime), 8);
      b.writeUInt32BE(0x00010000, 16); // rate 1.0
    } else {
      b.writeUInt32BE(entry.duration, 0);
      b.writeInt32BE(entry.mediaTime, 4);
      b.writeUInt32BE(0x00010000, 8);
    }
    return b;
  });
  return fullBox('elst', v1 ? 1 : 0, 0, u32(entries.length), ...body);
}

function stbl(track: VideoTrack): Buffer {
  const { sizes, durations, keys, chunks } = track;
  if (sizes.length !== durations.length || sizes.length !== keys.length) {
    throw new RangeError('sample tables of different lengths');
  }
  return box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), avc1(track)),
    stts(durations),
    stss(keys),
    stsc(chunks),
    fullBox('stsz', 0, 0, u32(0), u32(sizes.length), u32s(sizes)),
    chunkOffsets(chunks),
  );
}

function avc1(track: VideoTrack): Buffer {
  const entry = Buffer.alloc(78);
  entry.writeUInt16BE(1, 6); // data reference index
  entry.writeUInt16BE(track.width, 24);
  entry.writeUInt16BE(track.height, 26);
  entry.writeUInt32BE(0x00480000, 28); // 72 dpi
  entry.writeUInt32BE(0x00480000, 32);
  entry.writeUInt16BE(1, 40); // frames per sample
  entry.writeUInt16BE(0x0018, 74); // depth
  entry.writeInt16BE(-1, 76);
  return box('avc1', entry, box('avcC', Buffer.from(track.avcC)));
}

function stts(durations: readonly number[]): Buffer {
  const runs: number[] = [];
  for (const duration of durations) {
    if (runs.length > 0 && runs.at(-1) === duration) {
      runs[runs.length - 2] = (runs.at(-2) ?? 0) + 1;
    } else {
      runs.push(1, duration);
    }
  }
  return fullBox('stts', 0, 0, u32(runs.length / 2), u32s(runs));
}

function stss(keys: readonly boolean[]): Buffer {
  const sync: number[] = [];
  for (const [i, key] of keys.entries()) if (key) sync.push(i + 1);
  return fullBox('stss', 0, 0, u32(sync.length), u32s(sync));
}

function stsc(chunks: VideoTrack['chunks']): Buffer {
  const entries: number[] = [];
  for (const [i, chunk] of chunks.entries()) {
    if (i === 0 || chunks[i - 1]?.samples !== chunk.samples) entries.push(i + 1, chunk.samples, 1);
  }
  return fullBox('stsc', 0, 0, u32(entries.length / 3), u32s(entries));
}

function chunkOffsets(chunks: VideoTrack['chunks']): Buffer {
  const offsets = chunks.map((chunk) => chunk.offset);
  if (offsets.every((offset) => offset <= 0xffffffff)) {
    return fullBox('stco', 0, 0, u32(offsets.length), u32s(offsets));
  }
  const body = Buffer.alloc(8 * offsets.length);
  for (const [i, offset] of offsets.entries()) body.writeBigUInt64BE(BigInt(offset), 8 * i);
  return fullBox('co64', 0, 0, u32(offsets.length), body);
}

/** Creation time, modification time (both 0), timescale, duration. */
function times(v1: boolean, timescale: number, duration: number): Buffer {
  return v1
    ? Buffer.concat([Buffer.alloc(16), u32(timescale), u64(duration)])
    : Buffer.concat([Buffer.alloc(8), u32(timescale), u32(duration)]);
}

const MATRIX = u32s([0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000]);

function box(type: string, ...parts: Uint8Array[]): Buffer {
  const size = parts.reduce((sum, part) => sum + part.length, 8);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(size, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, ...parts], size);
}

function fullBox(type: string, version: number, flags: number, ...parts: Uint8Array[]): Buffer {
  return box(type, u32(((version & 0xff) << 24) | (flags & 0xffffff)), ...parts);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

function u64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(value), 0);
  return b;
}

function u32s(values: readonly number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  for (const [i, value] of values.entries()) b.writeUInt32BE(value >>> 0, 4 * i);
  return b;
}

function ascii(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}
