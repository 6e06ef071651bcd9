import { describe, expect, it } from 'vitest';
import {
  parseSegmentFileName,
  parseSegmentListLine,
  recordArgs,
  SceneScoreParser,
  segmentFileName,
  segmentPattern,
} from './ffmpeg-args.js';

const base = {
  url: 'rtsp://user:pw@cam.local/stream',
  segmentsDir: '/data/segments',
  runId: 7,
  segmentSeconds: 2,
  scene: true,
  ioTimeoutSeconds: 5,
};

function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('recordArgs', () => {
  it('pulls RTSP over TCP with a socket timeout', () => {
    const args = recordArgs(base);
    expect(flagValue(args, '-rtsp_transport')).toBe('tcp');
    expect(flagValue(args, '-timeout')).toBe('5000000');
    expect(args.indexOf('-rtsp_transport')).toBeLessThan(args.indexOf('-i'));
  });

  it('copies streams into MPEG-TS segments with continuous timestamps', () => {
    const args = recordArgs(base);
    expect(flagValue(args, '-c')).toBe('copy');
    expect(flagValue(args, '-f')).toBe('segment');
    expect(flagValue(args, '-segment_format')).toBe('mpegts');
    expect(flagValue(args, '-segment_time')).toBe('2');
    expect(flagValue(args, '-segment_list')).toBe('pipe:1');
    expect(flagValue(args, '-segment_list_type')).toBe('csv');
    expect(args).not.toContain('-reset_timestamps');
    expect(args).toContain('/data/segments/7-%06d.ts');
    expect(args.join(' ')).not.toMatch(/-c:v (?!copy)/);
  });

  it("writes a % of the directory as %%, which ffmpeg's segment pattern reads as a literal %", () => {
    expect(segmentPattern('/data/100%d %06d 50%', 7)).toBe('/data/100%%d %%06d 50%%/7-%06d.ts');
    const args = recordArgs({ ...base, segmentsDir: '/srv/a%b/segments' });
    expect(args).toContain('/srv/a%%b/segments/7-%06d.ts');
    // The list names each file by its base name, which has no % to unescape.
    expect(parseSegmentListLine('7-000003.ts,6.0,8.0')?.file).toBe(segmentFileName(7, 3));
  });

  it('decodes only keyframes, and only for scene scoring', () => {
    const args = recordArgs(base);
    expect(args.indexOf('-skip_frame')).toBeLessThan(args.indexOf('-i'));
    expect(args.join(' ')).toMatch(
      /scdet=threshold=100,metadata=mode=print:key=lavfi\.scd\.mafd:direct=1:file=pipe\\\\\\:3/,
    );
    const without = recordArgs({ ...base, scene: false });
    expect(without).not.toContain('-skip_frame');
    expect(without).not.toContain('null');
  });

  it('leaves RTSP options out for other inputs', () => {
    const args = recordArgs({ ...base, url: '/tmp/file.ts' });
    expect(args).not.toContain('-rtsp_transport');
  });
});

describe('segment names and list lines', () => {
  it('round-trips file names made from internal ids only', () => {
    expect(segmentFileName(12, 3)).toBe('12-000003.ts');
    expect(parseSegmentFileName('12-000003.ts')).toEqual({ runId: 12, seq: 3 });
    expect(parseSegmentFileName('12-1234567.ts')).toEqual({ runId: 12, seq: 1234567 });
    for (const name of ['x.ts', '12-3.ts', '../1-000001.ts', '1-000001.mp4', '1-000001.ts.tmp']) {
      expect(parseSegmentFileName(name)).toBeNull();
    }
  });

  it('parses CSV segment list lines and refuses malformed ones', () => {
    expect(parseSegmentListLine('7-000004.ts,8.000000,10.040000')).toEqual({
      file: '7-000004.ts',
      ptsStart: 8,
      ptsEnd: 10.04,
    });
    for (const line of ['', '7-000004.ts,8', '7-000004.ts,a,b', 'evil.ts,1,2', '7-000004.ts,5,4']) {
      expect(parseSegmentListLine(line)).toBeNull();
    }
  });

  it('pairs scene scores with their frame times', () => {
    const parser = new SceneScoreParser();
    expect(parser.push('frame:3    pts:270000  pts_time:3')).toBeNull();
    expect(parser.push('lavfi.scd.mafd=4.598')).toEqual({ ptsTime: 3, score: 4.598 });
    expect(parser.push('lavfi.scd.mafd=0.5')).toBeNull();
  });
});
