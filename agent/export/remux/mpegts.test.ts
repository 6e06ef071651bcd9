import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSegments } from '../../../test-fixtures/make-segments.js';
import { tempDir } from '../../test-support/cli.js';
import type { SegmentRow } from '../types.js';
import { RemuxUnsupported } from './errors.js';
import {
  compactVideo,
  PTS_MODULO,
  pesTimes,
  programStreams,
  STREAM_TYPE_H264,
  TS_PACKET,
  tickDelta,
} from './mpegts.js';

/** The demuxer against ffmpeg's reading of the same segments (made by ffmpeg's muxer). */
const run = promisify(execFile);

let cleanup: () => Promise<void>;
let rows: SegmentRow[];
/** A segment from the middle of the run: tables, then a keyframe's PES, G.711 beside. */
let segment: Buffer;
let videoPid: number;

beforeAll(async () => {
  let dir: string;
  ({ dir, cleanup } = await tempDir('threshold-mpegts-'));
  rows = await makeSegments({ dir: join(dir, 'segments'), durationS: 6, audio: 'g711' });
  segment = await readFile(rows[1]?.path ?? '');
  const video = programStreams(segment, segment.length).find(
    (s) => s.streamType === STREAM_TYPE_H264,
  );
  videoPid = video?.pid ?? -1;
}, 60_000);

afterAll(async () => {
  await cleanup();
});

/** ffprobe's video packets of a file: raw 90 kHz times and key flags. */
async function probedPackets(path: string) {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_packets'],
    ...['-show_entries', 'packet=pts,dts,flags', '-of', 'json', path],
  ]);
  const parsed = JSON.parse(stdout) as { packets: { pts: number; dts: number; flags: string }[] };
  return parsed.packets;
}

/** A packet of `pid` that starts a PES (the first one, or the `nth`). */
function pesStart(buf: Buffer, pid: number, nth = 0): number {
  let seen = 0;
  for (let off = 0; off < buf.length; off += TS_PACKET) {
    const packetPid = ((buf[off + 1] ?? 0) & 0x1f) * 256 + (buf[off + 2] ?? 0);
    if (packetPid === pid && (buf[off + 1] ?? 0) & 0x40 && seen++ === nth) return off;
  }
  throw new Error('no such PES');
}

describe('MPEG-TS of the recorder', () => {
  it('finds the H.264 stream and the G.711 data stream in the program tables', () => {
    const streams = programStreams(segment, segment.length);
    expect(streams).toHaveLength(2);
    expect(streams.filter((s) => s.streamType === STREAM_TYPE_H264)).toHaveLength(1);
    expect(videoPid).toBeGreaterThan(0x0f);
  });

  it('reads the PES times and keyframes ffprobe reads, in every segment', async () => {
    for (const row of rows) {
      const buf = await readFile(row.path);
      const times = pesTimes(buf, buf.length, videoPid);
      const packets = await probedPackets(row.path);
      expect(times.pts).toEqual(packets.map((p) => p.pts));
      expect(times.dts).toEqual(packets.map((p) => p.dts));
      expect(times.key).toEqual(packets.map((p) => p.flags.startsWith('K')));
      expect(times.key[0]).toBe(true);
    }
  });

  it('strips the packet headers to the very bytes of the elementary stream', async () => {
    const { stdout } = await run(
      'ffmpeg',
      ['-v', 'error', '-i', rows[1]?.path ?? '', '-map', '0:v', '-c', 'copy', '-f', 'h264', '-'],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
    );
    const buf = Buffer.from(segment);
    const bounds = compactVideo(buf, buf.length, videoPid);
    expect(bounds.length - 1).toBe(pesTimes(segment, segment.length, videoPid).pts.length);
    expect(bounds[0]).toBe(0);
    expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
    expect(buf.subarray(0, bounds.at(-1)).equals(stdout)).toBe(true);
    // Each access unit starts with a start code.
    for (const start of bounds.slice(0, -1)) {
      expect([...buf.subarray(start, start + 4)]).toEqual([0, 0, 0, 1]);
    }
  });

  it('refuses what the recorder does not write', () => {
    const refusal = (buf: Buffer) => {
      try {
        compactVideo(Buffer.from(buf), buf.length, videoPid);
        pesTimes(buf, buf.length, videoPid);
        programStreams(buf, buf.length);
      } catch (err) {
        expect(err).toBeInstanceOf(RemuxUnsupported);
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(refusal(segment.subarray(0, segment.length - 1))).toMatch(/whole TS packets/);
    const unsynced = Buffer.from(segment);
    unsynced[TS_PACKET * 7] = 0x00;
    expect(refusal(unsynced)).toMatch(/lost packet sync at byte 1316/);
    // Without the first video PES start, the file opens inside an access unit.
    const first = pesStart(segment, videoPid);
    const headless = Buffer.concat([
      segment.subarray(0, first),
      segment.subarray(first + TS_PACKET),
    ]);
    expect(refusal(headless)).toMatch(/opens inside an access unit/);
    // A PES header without its times (PTS_DTS_flags 00).
    const untimed = Buffer.from(segment);
    const second = pesStart(segment, videoPid, 1);
    const adaptation = (untimed[second + 3] ?? 0) & 0x20 ? 1 + (untimed[second + 4] ?? 0) : 0;
    const pes = second + 4 + adaptation;
    untimed[pes + 7] = (untimed[pes + 7] ?? 0) & 0x3f;
    expect(refusal(untimed)).toMatch(/without a presentation time/);
    const noTables = Buffer.alloc(TS_PACKET * 4, 0x47);
    expect(refusal(noTables)).toMatch(/program association table/);
  });

  it('takes differences of 33-bit times across the wrap', () => {
    expect(tickDelta(1000, 4600)).toBe(3600);
    expect(tickDelta(4600, 1000)).toBe(-3600);
    expect(tickDelta(PTS_MODULO - 1800, 1800)).toBe(3600);
    expect(tickDelta(1800, PTS_MODULO - 1800)).toBe(-3600);
  });
});
