import { describe, expect, it } from 'vitest';
import {
  CameraOptionError,
  emulatedCameraArgs,
  formatMotionSchedule,
  parseFrameSize,
  parseMotionSchedule,
} from './camera-args.js';

describe('parseMotionSchedule', () => {
  it('reads windows in seconds, decimals and spaces allowed', () => {
    expect(parseMotionSchedule('20-25, 60.5-64')).toEqual([
      { start: 20, end: 25 },
      { start: 60.5, end: 64 },
    ]);
  });

  it('reads an empty schedule as no motion', () => {
    expect(parseMotionSchedule(' ')).toEqual([]);
  });

  it.each(['20', '20-', 'a-b', '25-20', '5-5', '-3-4', '1-2;3-4'])('refuses "%s"', (text) => {
    expect(() => parseMotionSchedule(text)).toThrow(CameraOptionError);
  });

  it('round-trips through formatMotionSchedule', () => {
    const windows = [
      { start: 0, end: 1.5 },
      { start: 20, end: 25 },
    ];
    expect(formatMotionSchedule(windows)).toBe('0-1.5,20-25');
    expect(parseMotionSchedule(formatMotionSchedule(windows))).toEqual(windows);
  });
});

describe('parseFrameSize', () => {
  it('reads WxH', () => {
    expect(parseFrameSize('1280x720')).toEqual({ width: 1280, height: 720 });
  });

  it.each(['1280', '1281x720', '100x100', '7680x4320', '1280×720'])('refuses "%s"', (text) => {
    expect(() => parseFrameSize(text)).toThrow(CameraOptionError);
  });
});

describe('emulatedCameraArgs', () => {
  it('spells out every default, on loopback and a free port', () => {
    expect(emulatedCameraArgs({})).toEqual([
      '--exit-on-stdin-close',
      ...['--host', '127.0.0.1', '--port', '0', '--cameras', '1'],
      ...['--fps', '25', '--keyframe-seconds', '1'],
    ]);
  });

  it('passes size, audio and motion through', () => {
    const args = emulatedCameraArgs({
      host: '0.0.0.0',
      port: 8554,
      cameras: 2,
      size: { width: 640, height: 360 },
      fps: 15,
      keyframeSeconds: 1.2,
      audio: true,
      motion: [{ start: 20, end: 25 }],
    });
    expect(args.join(' ')).toBe(
      '--exit-on-stdin-close --host 0.0.0.0 --port 8554 --cameras 2 --size 640x360 ' +
        '--fps 15 --keyframe-seconds 1.2 --audio --motion 20-25',
    );
  });

  it.each([
    [{ port: 70000 }, 'port'],
    [{ port: 1.5 }, 'port'],
    [{ cameras: 0 }, 'cameras'],
    [{ fps: 61 }, 'fps'],
    [{ keyframeSeconds: 0 }, 'keyframeSeconds'],
    [{ size: { width: 641, height: 360 } }, 'size'],
    [{ motion: [{ start: 5, end: 2 }] }, 'motion'],
  ])('refuses %o, naming %s', (settings, option) => {
    try {
      emulatedCameraArgs(settings);
      expect.unreachable('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(CameraOptionError);
      expect((err as CameraOptionError).option).toBe(option);
    }
  });
});
