import { describe, expect, it } from 'vitest';
import { concatUrl, ffconcatText, fileUrl } from './concat-list.js';
import {
  aacBitrate,
  edgeArgs,
  type MediaInput,
  moovReserve,
  muxArgs,
  rawAudioExtractArgs,
  reencodeArgs,
  seconds,
  x264Args,
} from './ffmpeg-args.js';
import { progressReader } from './media-tool.js';
import { clipProbeArgs, segmentProbeArgs } from './probe.js';
import { thumbnailArgs } from './thumbnail.js';

const footage: MediaInput = { kind: 'mpegts', url: 'concat:/s/1.ts|/s/2.ts', offsetS: -0.9 };

/** The value following `flag` (the first occurrence after `from`). */
function flagValue(args: readonly string[], flag: string, from = 0): string | undefined {
  const i = args.indexOf(flag, from);
  return i < 0 ? undefined : args[i + 1];
}

describe('muxArgs', () => {
  it('copies the video with the range start at time 0 and cuts at the range end', () => {
    const args = muxArgs({ video: footage, durationS: 6, output: '/out/clip.mp4' });
    const input = args.indexOf('-i');
    expect(args[input + 1]).toBe('concat:/s/1.ts|/s/2.ts');
    // Input options come before their -i: an offset, not a seek.
    expect(flagValue(args, '-itsoffset')).toBe('-0.900000');
    expect(args.indexOf('-itsoffset')).toBeLessThan(input);
    expect(args).not.toContain('-ss');
    expect(flagValue(args, '-protocol_whitelist')).toBe('file,concat');
    expect(flagValue(args, '-c:v')).toBe('copy');
    expect(flagValue(args, '-t')).toBe('5.999500');
    expect(args.indexOf('-t')).toBeGreaterThan(input);
    expect(args.filter((arg) => arg === '-map')).toHaveLength(1);
    expect(flagValue(args, '-map_metadata')).toBe('-1');
    expect(flagValue(args, '-movflags')).toBe('+faststart');
    expect(args.slice(-4)).toEqual(['-f', 'mp4', '-y', '/out/clip.mp4']);
  });

  it('reserves the index space instead of rewriting when told, and reports progress', () => {
    const args = muxArgs({ video: footage, durationS: 6, output: '/o.mp4', moovBytes: 50_000 });
    expect(flagValue(args, '-moov_size')).toBe('50000');
    expect(args).not.toContain('-movflags');
    expect(args).not.toContain('-progress');
    const withProgress = muxArgs({
      video: footage,
      durationS: 6,
      output: '/o.mp4',
      progress: true,
    });
    expect(flagValue(withProgress, '-progress')).toBe('pipe:1');
  });

  it('reads an ffconcat list with the concat demuxer, unsafe names allowed (our paths)', () => {
    const video: MediaInput = { kind: 'ffconcat', url: '/clips/list.ffconcat', offsetS: 0 };
    const args = muxArgs({ video, durationS: 10, output: '/o.mp4' });
    const input = args.indexOf('-i');
    expect(args.slice(input - 8, input + 3)).toEqual([
      '-f',
      'concat',
      '-safe',
      '0',
      '-protocol_whitelist',
      'file,concat',
      '-itsoffset',
      '0.000000',
      '-i',
      '/clips/list.ffconcat',
      '-map',
    ]);
  });

  it('lets a list on stdin use the pipe protocol, and nothing else does', () => {
    const fromStdin = muxArgs({
      video: { kind: 'ffconcat', url: 'pipe:0', offsetS: 0 },
      durationS: 4,
      output: '/o.mp4',
    });
    expect(flagValue(fromStdin, '-protocol_whitelist')).toBe('file,concat,pipe');
    expect(flagValue(fromStdin, '-i')).toBe('pipe:0');
    expect(
      flagValue(muxArgs({ video: footage, durationS: 4, output: '/o.mp4' }), '-protocol_whitelist'),
    ).toBe('file,concat');
  });

  it('encodes G.711 from a raw file to AAC, trimmed to the clip', () => {
    const args = muxArgs({
      video: footage,
      audio: {
        input: {
          kind: 'raw',
          codec: 'mulaw',
          sampleRate: 8000,
          channels: 1,
          path: '/w/a.g711',
          offsetS: 0.032,
        },
        bitrate: 24_000,
      },
      durationS: 6,
      output: '/o.mp4',
    });
    const second = args.indexOf('-i', args.indexOf('-i') + 1);
    expect(args[second + 1]).toBe('/w/a.g711');
    expect(args.slice(second - 8, second)).toEqual([
      '-f',
      'mulaw',
      '-ar',
      '8000',
      '-ac',
      '1',
      '-itsoffset',
      '0.032000',
    ]);
    expect(flagValue(args, '-map', args.indexOf('0:v:0'))).toBe('1:a:0');
    expect(flagValue(args, '-af')).toBe('atrim=start=0');
    expect(flagValue(args, '-c:a')).toBe('aac');
    expect(flagValue(args, '-b:a')).toBe('24000');
  });
});

describe('edgeArgs', () => {
  const match = { profile: 'high', level: 40, pixFmt: 'yuv420p' } as const;

  it('re-encodes the head and copies the rest of the segment in one pass', () => {
    const args = edgeArgs({
      segment: '/s/2.ts',
      head: { startS: 4.72, endS: 5.0, path: '/w/head.ts' },
      part: { fromS: 5.0, path: '/w/part.ts' },
      match,
    });
    expect(args.filter((arg) => arg === '-i')).toHaveLength(1);
    expect(flagValue(args, '-i')).toBe('/s/2.ts');
    // The file's own timestamps, not ffmpeg's shifted ones.
    expect(args.indexOf('-copyts')).toBeLessThan(args.indexOf('-i'));
    expect(flagValue(args, '-vf')).toBe('trim=start=4.719500:end=4.999500');
    expect(args).not.toContain('-ss');
    expect(flagValue(args, '-c:v')).toBe('libx264');
    expect(flagValue(args, '-fps_mode')).toBe('passthrough');
    const head = args.indexOf('/w/head.ts');
    const part = args.indexOf('/w/part.ts');
    expect(head).toBeGreaterThan(0);
    expect(part).toBeGreaterThan(head);
    expect(flagValue(args, '-c:v', head)).toBe('copy');
    expect(flagValue(args, '-bsf:v', head)).toBe('noise=drop=lt(pts*tb\\,4.999500)');
  });

  it('writes only the part when the range starts on a keyframe', () => {
    const args = edgeArgs({ segment: '/s/2.ts', part: { fromS: 1.2, path: '/w/part.ts' }, match });
    expect(args).not.toContain('libx264');
    expect(args).toContain('/w/part.ts');
  });
});

describe('x264Args', () => {
  it('turns on the tools that make x264 write the source profile', () => {
    const params = (profile: 'baseline' | 'main' | 'high') =>
      flagValue(x264Args({ profile, level: 31, pixFmt: 'yuv420p' }), '-x264-params');
    expect(params('baseline')).toMatch(/^cabac=0:8x8dct=0:/);
    expect(params('main')).toMatch(/^cabac=1:8x8dct=0:/);
    expect(params('high')).toMatch(/^cabac=1:8x8dct=1:/);
    expect(params('high')).toContain('bframes=0');
  });

  it('matches level, pixel format and colour description; strips the SEI', () => {
    const args = x264Args({
      profile: 'main',
      level: 40,
      pixFmt: 'yuvj420p',
      colorRange: 'pc',
      colorSpace: 'bt709',
    });
    expect(flagValue(args, '-level')).toBe('40');
    expect(flagValue(args, '-profile:v')).toBe('main');
    expect(flagValue(args, '-pix_fmt')).toBe('yuvj420p');
    expect(flagValue(args, '-color_range')).toBe('pc');
    expect(flagValue(args, '-colorspace')).toBe('bt709');
    expect(args).not.toContain('-color_trc');
    expect(flagValue(args, '-bsf:v')).toBe('filter_units=remove_types=6');
  });
});

describe('other builders', () => {
  it('extracts the private audio stream as raw bytes', () => {
    const args = rawAudioExtractArgs(footage, '/w/a.g711');
    expect(flagValue(args, '-itsoffset')).toBe('0.000000');
    expect(flagValue(args, '-map')).toBe('0:d:0');
    expect(flagValue(args, '-c')).toBe('copy');
    expect(args.slice(-4)).toEqual(['-f', 'data', '-y', '/w/a.g711']);
  });

  it('re-encodes a whole clip with a trim from 0 to the end', () => {
    const args = reencodeArgs({ video: footage, durationS: 6, output: '/w/r.ts' });
    expect(args.indexOf('-copyts')).toBeLessThan(args.indexOf('-i'));
    expect(flagValue(args, '-vf')).toBe('trim=start=-0.000500:end=5.999500');
    expect(flagValue(args, '-c:v')).toBe('libx264');
    expect(args.slice(-4)).toEqual(['-f', 'mpegts', '-y', '/w/r.ts']);
  });

  it('makes a thumbnail of one frame, scaled, from a seek by the index', () => {
    const args = thumbnailArgs({ input: '/c.mp4', atS: 3, output: '/t.jpg', width: 320 });
    expect(args.indexOf('-ss')).toBeLessThan(args.indexOf('-i'));
    expect(flagValue(args, '-ss')).toBe('3.000');
    expect(flagValue(args, '-frames:v')).toBe('1');
    expect(flagValue(args, '-vf')).toBe('scale=320:-2');
    expect(args.at(-1)).toBe('/t.jpg');
  });

  it('probes segments (with packets only when asked) and clips', () => {
    expect(segmentProbeArgs('/s/1.ts', false).join(' ')).not.toContain('packet=');
    expect(segmentProbeArgs('/s/1.ts', true).join(' ')).toContain('packet=stream_index,pts_time');
    expect(segmentProbeArgs('/s/1.ts', true).at(-1)).toBe('/s/1.ts');
    const clip = clipProbeArgs('/c.mp4');
    expect(flagValue(clip, '-show_entries')).toContain('format=duration');
    expect(flagValue(clip, '-of')).toBe('json');
  });

  it('formats seconds to the microsecond, never as -0', () => {
    expect(seconds(1.2)).toBe('1.200000');
    expect(seconds(-0)).toBe('0.000000');
    expect(seconds(-1e-9)).toBe('0.000000');
  });

  it('sizes the moov reserve and the AAC bitrate', () => {
    expect(moovReserve(60, false)).toBe(16_384 + 60 * 60 * 24);
    expect(moovReserve(60, true)).toBeGreaterThan(moovReserve(60, false));
    expect(aacBitrate(8000, 1)).toBe(24_000);
    expect(aacBitrate(48_000, 2)).toBe(128_000);
  });
});

describe('concat inputs', () => {
  it('joins absolute paths, refusing names the syntaxes would misread', () => {
    expect(concatUrl(['/a.ts', '/b.ts'])).toBe('concat:/a.ts|/b.ts');
    expect(() => concatUrl(['/a|b.ts'])).toThrow();
    expect(() => concatUrl(['a.ts'])).toThrow();
    expect(fileUrl('/w/x:y.ts')).toBe('file:/w/x:y.ts');
    expect(() => fileUrl('/w/a\nb')).toThrow();
  });

  it('writes an ffconcat list with quotes escaped and durations', () => {
    const text = ffconcatText([
      { url: "file:/w/it's.ts", durationS: 0.28 },
      { url: 'concat:/a.ts|/b.ts', durationS: 4.8 },
    ]);
    expect(text).toBe(
      "ffconcat version 1.0\nfile 'file:/w/it'\\''s.ts'\nduration 0.280000\n" +
        "file 'concat:/a.ts|/b.ts'\nduration 4.800000\n",
    );
  });
});

describe('progressReader', () => {
  it('reports rising fractions of the output time, and 1 at the end', () => {
    const seen: number[] = [];
    const read = progressReader(10, (f) => seen.push(f));
    for (const line of [
      'frame=10',
      'out_time_us=2500000',
      'out_time_us=2000000',
      'out_time_us=-40000',
      'out_time_us=7500000',
      'progress=continue',
      'out_time_us=12000000',
      'progress=end',
    ]) {
      read(line);
    }
    expect(seen).toEqual([0.25, 0.75, 1]);
  });
});
