import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test-support/cli.js';
import {
  type Edit,
  free,
  ftyp,
  MDAT_HEADER_BYTES,
  mdatHeader,
  moov,
  moovBound,
  type VideoTrack,
} from './mp4-boxes.js';
import { find, flags, shape, table, version, walk } from './test-support/box-walker.js';
import {
  accessUnits,
  decodeErrors,
  isIdr,
  probe,
  writeSampleMp4,
} from './test-support/h264-samples.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

const AVCC = Buffer.from('0164001effe1000a6764001eacd940a02ff9700100056beec8b22c', 'hex');

function track(over: Partial<VideoTrack> = {}): VideoTrack {
  return {
    width: 1920,
    height: 1080,
    avcC: AVCC,
    sizes: [5000, 300, 310, 4800, 290, 5100],
    durations: [3600, 3600, 3600, 3000, 3000, 3600],
    keys: [true, false, false, true, false, true],
    chunks: [
      { offset: 1000, samples: 3 },
      { offset: 7000, samples: 2 },
      { offset: 9000, samples: 1 },
    ],
    edits: [
      { mediaTime: -1, durationS: 0.2 },
      { mediaTime: 0, durationS: 4.8 },
    ],
    ...over,
  };
}

describe('ftyp, free, mdat', () => {
  it('ftyp names isom with the brands ffmpeg writes', () => {
    const [box, ...rest] = walk(ftyp());
    expect(rest).toEqual([]);
    expect(box?.type).toBe('ftyp');
    expect(box?.body.toString('latin1', 0, 4)).toBe('isom');
    expect(box?.body.readUInt32BE(4)).toBe(0x200);
    expect(box?.body.toString('latin1', 8)).toBe('isomiso2avc1mp41');
  });

  it('free(n) is exactly n bytes, and refuses fewer than its header', () => {
    for (const n of [8, 9, 100, 4096]) {
      const buf = free(n);
      expect(buf.length).toBe(n);
      expect(walk(buf).map((b) => [b.type, b.size])).toEqual([['free', n]]);
    }
    expect(() => free(7)).toThrow(RangeError);
  });

  it('the mdat header is 16 bytes with the 64-bit size of header and payload', () => {
    for (const payload of [0, 12_345, 2 ** 32 + 7]) {
      const header = mdatHeader(payload);
      expect(header.length).toBe(MDAT_HEADER_BYTES);
      expect(header.readUInt32BE(0)).toBe(1);
      expect(header.toString('latin1', 4, 8)).toBe('mdat');
      expect(header.readBigUInt64BE(8)).toBe(BigInt(payload + 16));
    }
  });
});

describe('moov', () => {
  it('nests the boxes of one H.264 track', () => {
    const boxes = walk(moov(track()));
    expect(shape(boxes)).toBe(
      'moov[mvhd,trak[tkhd,edts[elst],mdia[mdhd,hdlr,minf[vmhd,dinf[dref[url ]],' +
        'stbl[stsd[avc1[avcC]],stts,stss,stsc,stsz,stco]]]]]',
    );
  });

  it('writes the sample tables', () => {
    const stbl = find(walk(moov(track())), 'moov/trak/mdia/minf/stbl');
    // Runs of equal durations; 1-based sync samples; a stsc entry where the count changes.
    expect(table(find(stbl.children, 'stts'), 2)).toEqual([
      [3, 3600],
      [2, 3000],
      [1, 3600],
    ]);
    expect(table(find(stbl.children, 'stss'), 1).flat()).toEqual([1, 4, 6]);
    expect(table(find(stbl.children, 'stsc'), 3)).toEqual([
      [1, 3, 1],
      [2, 2, 1],
      [3, 1, 1],
    ]);
    const stsz = find(stbl.children, 'stsz');
    expect(stsz.body.readUInt32BE(4)).toBe(0); // sizes given per sample
    expect(table(stsz, 1, 8).flat()).toEqual([5000, 300, 310, 4800, 290, 5100]);
    expect(table(find(stbl.children, 'stco'), 1).flat()).toEqual([1000, 7000, 9000]);
    const stsd = find(stbl.children, 'stsd');
    expect(stsd.body.readUInt32BE(4)).toBe(1);
    const avc1 = find(stsd.children, 'avc1');
    expect(avc1.body.readUInt16BE(6)).toBe(1); // data reference index
    expect([avc1.body.readUInt16BE(24), avc1.body.readUInt16BE(26)]).toEqual([1920, 1080]);
    expect(avc1.body.readUInt16BE(74)).toBe(0x18);
    expect(find(avc1.children, 'avcC').body).toEqual(AVCC);
  });

  it('stsc has one entry while every chunk holds as many samples', () => {
    const chunks = [0, 1, 2, 3].map((i) => ({ offset: 100 + 1000 * i, samples: 2 }));
    const t = track({ sizes: Array(8).fill(10), durations: Array(8).fill(3600) });
    const stbl = find(
      walk(moov({ ...t, keys: Array(8).fill(true), chunks })),
      'moov/trak/mdia/minf/stbl',
    );
    expect(table(find(stbl.children, 'stsc'), 3)).toEqual([[1, 2, 1]]);
    expect(table(find(stbl.children, 'stts'), 2)).toEqual([[8, 3600]]);
    expect(table(find(stbl.children, 'stss'), 1).flat()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('writes the headers: clocks, durations, size, edit list', () => {
    const boxes = walk(moov(track()));
    const mvhd = find(boxes, 'moov/mvhd');
    expect(version(mvhd)).toBe(0);
    expect(mvhd.body.readUInt32BE(12)).toBe(1000); // timescale
    expect(mvhd.body.readUInt32BE(16)).toBe(5000); // the edits' total, ms
    expect(mvhd.body.readUInt32BE(mvhd.body.length - 4)).toBe(2); // next track id
    const tkhd = find(boxes, 'moov/trak/tkhd');
    expect(version(tkhd)).toBe(0);
    expect(flags(tkhd)).toBe(3);
    expect(tkhd.body.readUInt32BE(12)).toBe(1); // track id
    expect(tkhd.body.readUInt32BE(20)).toBe(5000);
    expect(tkhd.body.readUInt32BE(tkhd.body.length - 8)).toBe(1920 * 65536);
    expect(tkhd.body.readUInt32BE(tkhd.body.length - 4)).toBe(1080 * 65536);
    const mdhd = find(boxes, 'moov/trak/mdia/mdhd');
    expect(version(mdhd)).toBe(0);
    expect(mdhd.body.readUInt32BE(12)).toBe(90_000);
    expect(mdhd.body.readUInt32BE(16)).toBe(3 * 3600 + 2 * 3000 + 3600);
    const hdlr = find(boxes, 'moov/trak/mdia/hdlr');
    expect(hdlr.body.toString('latin1', 8, 12)).toBe('vide');
    const elst = find(boxes, 'moov/trak/edts/elst');
    expect(version(elst)).toBe(0);
    expect(elst.body.readUInt32BE(4)).toBe(2);
    const entries = [0, 1].map((i) => [
      elst.body.readUInt32BE(8 + 12 * i),
      elst.body.readInt32BE(12 + 12 * i),
      elst.body.readUInt32BE(16 + 12 * i),
    ]);
    expect(entries).toEqual([
      [200, -1, 0x10000],
      [4800, 0, 0x10000],
    ]);
  });

  it('switches to 64-bit fields for durations past 32 bits and co64 for offsets past 4 GiB', () => {
    // 50 days: past 2^32 ms in the movie clock, and the samples past 2^32 ticks.
    const longS = 50 * 86_400;
    const perSample = 0xffff_0000;
    const boxes = walk(
      moov(
        track({
          sizes: [1, 1, 1],
          durations: [perSample, perSample, 3600],
          keys: [true, false, false],
          chunks: [
            { offset: 4096, samples: 2 },
            { offset: 2 ** 32 + 10, samples: 1 },
          ],
          edits: [{ mediaTime: 2 ** 31, durationS: longS }],
        }),
      ),
    );
    const mvhd = find(boxes, 'moov/mvhd');
    expect(version(mvhd)).toBe(1);
    expect(mvhd.body.readUInt32BE(20)).toBe(1000);
    expect(mvhd.body.readBigUInt64BE(24)).toBe(BigInt(longS * 1000));
    const tkhd = find(boxes, 'moov/trak/tkhd');
    expect(version(tkhd)).toBe(1);
    expect(tkhd.body.readUInt32BE(20)).toBe(1);
    expect(tkhd.body.readBigUInt64BE(28)).toBe(BigInt(longS * 1000));
    const mdhd = find(boxes, 'moov/trak/mdia/mdhd');
    expect(version(mdhd)).toBe(1);
    expect(mdhd.body.readUInt32BE(20)).toBe(90_000);
    expect(mdhd.body.readBigUInt64BE(24)).toBe(BigInt(2 * perSample + 3600));
    const elst = find(boxes, 'moov/trak/edts/elst');
    expect(version(elst)).toBe(1);
    expect(elst.body.readBigUInt64BE(8)).toBe(BigInt(longS * 1000));
    expect(elst.body.readBigInt64BE(16)).toBe(BigInt(2 ** 31));
    const stbl = find(boxes, 'moov/trak/mdia/minf/stbl');
    expect(stbl.children.map((b) => b.type).slice(-2)).toEqual(['stsz', 'co64']);
    const co64 = find(stbl.children, 'co64');
    expect(co64.body.readUInt32BE(4)).toBe(2);
    expect(co64.body.readBigUInt64BE(8)).toBe(4096n);
    expect(co64.body.readBigUInt64BE(16)).toBe(BigInt(2 ** 32 + 10));
    // A v1 empty edit still reads as -1.
    const empty = walk(moov(track({ edits: [{ mediaTime: -1, durationS: longS }] })));
    expect(find(empty, 'moov/trak/edts/elst').body.readBigInt64BE(16)).toBe(-1n);
  });

  it('refuses sample tables of different lengths', () => {
    expect(() => moov(track({ keys: [true] }))).toThrow(RangeError);
  });

  it('property: moovBound is at least the real moov for any tables', () => {
    console.log(`mp4-boxes seed ${SEED} (rerun with FUZZ_SEED=${SEED})`);
    const edit = fc.record({
      mediaTime: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2 ** 31 - 1 })),
      durationS: fc.double({ min: 0, max: 6e6, noNaN: true }),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 4, max: 2048 }),
        fc.array(edit, { minLength: 1, maxLength: 2 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (samples, chunkCount, avcCBytes, edits, huge, salt) => {
          // Distinct durations and alternating chunk sizes: the largest tables for their counts.
          const durations = Array.from({ length: samples }, (_, i) =>
            huge ? 0xf000_0000 + i : 1 + ((i * 7919 + salt) % 90_000),
          );
          // Chunks of 1, 2, 1, 2 … samples (the last takes the rest): a stsc entry for each.
          const chunks: { offset: number; samples: number }[] = [];
          for (let left = samples; left > 0; ) {
            const take =
              chunks.length === chunkCount - 1 ? left : Math.min(left, 1 + (chunks.length % 2));
            chunks.push({
              offset: (huge ? 2 ** 40 : 0) + chunks.length * 1_000_000,
              samples: take,
            });
            left -= take;
          }
          const t: VideoTrack = {
            width: 65_535,
            height: 65_535,
            avcC: Buffer.alloc(avcCBytes, 1),
            sizes: durations.map((d) => d % 100_000),
            durations,
            keys: durations.map(() => true),
            chunks,
            edits: huge ? [{ mediaTime: -1, durationS: 6e6 }, ...edits].slice(0, 2) : edits,
          };
          expect(moov(t).length).toBeLessThanOrEqual(moovBound(samples, chunks.length, avcCBytes));
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  }, 20_000);
});

describe('an MP4 of real H.264 access units', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  let samples: Buffer[] = [];
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('threshold-mp4-boxes-'));
    samples = await accessUnits(dir);
  }, 20_000);
  afterAll(() => cleanup());

  const writeClip = (name: string, edits: Edit[]) =>
    writeSampleMp4(join(dir, name), samples, edits);

  it('ffprobe and ffmpeg read every frame of the clip', async () => {
    expect(samples).toHaveLength(10);
    expect(samples.map(isIdr)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => i % 5 === 0));
    const path = await writeClip('ten.mp4', [{ mediaTime: 0, durationS: 0.4 }]);
    const info = await probe(path);
    expect(info).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    expect(info.nb_read_frames).toBe('10');
    expect(info.durationS).toBeCloseTo(0.4, 3);
    expect(await decodeErrors(path)).toBe('');
  }, 20_000);

  it('an edit starting two frames into the track hides them, an empty edit delays the rest', async () => {
    const hidden = await writeClip('hidden.mp4', [{ mediaTime: 7200, durationS: 0.32 }]);
    const a = await probe(hidden);
    expect(a.nb_read_frames).toBe('8');
    expect(a.durationS).toBeCloseTo(0.32, 3);
    expect(await decodeErrors(hidden)).toBe('');
    const delayed = await writeClip('delayed.mp4', [
      { mediaTime: -1, durationS: 0.2 },
      { mediaTime: 0, durationS: 0.4 },
    ]);
    const b = await probe(delayed);
    expect(b.nb_read_frames).toBe('10');
    expect(b.durationS).toBeCloseTo(0.6, 3);
    expect(await decodeErrors(delayed)).toBe('');
  }, 20_000);
});
