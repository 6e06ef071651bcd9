import { describe, expect, it } from 'vitest';
import { SceneMotionDetector } from './scene-motion.js';

describe('SceneMotionDetector', () => {
  it('opens at the keyframe before the first moving one and closes after a quiet spell', () => {
    const detector = new SceneMotionDetector(0.05, 2000, 0);
    const scores = [0.001, 0.002, 0.2, 0.3, 0.25, 0.003, 0.002, 0.001];
    const changes = scores.map((score, i) => detector.push(1000 * i, score));
    expect(changes[2]?.opened).toMatchObject({ start: 1000, end: null, source: 'scene' });
    expect(changes.filter((c) => c.opened)).toHaveLength(1);
    expect(changes[6]?.closed).toMatchObject({ start: 1000, end: 4000, score: 0.3 });
    expect(detector.flush()).toBeUndefined();
  });

  it('keeps one event across a short pause in the motion', () => {
    const detector = new SceneMotionDetector(0.05, 3000, 0);
    const changes = [0.001, 0.3, 0.01, 0.01, 0.3, 0.01, 0.01, 0.01, 0.01].map((score, i) =>
      detector.push(i * 1000, score),
    );
    expect(changes.filter((c) => c.opened)).toHaveLength(1);
    expect(changes.find((c) => c.closed)?.closed).toMatchObject({ start: 0, end: 4000 });
  });

  it('sees no motion in a still scene', () => {
    const detector = new SceneMotionDetector(0.05);
    for (let i = 0; i < 100; i++) {
      expect(detector.push(i * 1000, 0.004)).toEqual({});
    }
  });

  it('ignores the first samples of a stream', () => {
    const detector = new SceneMotionDetector(0.05, 2000, 2);
    expect(detector.push(0, 0)).toEqual({});
    expect(detector.push(1000, 0.9)).toEqual({});
    expect(detector.push(2000, 0.9).opened).toMatchObject({ start: 1000 });
  });

  it('flushes an event still open at the end of a run', () => {
    const detector = new SceneMotionDetector(0.05, 2000, 0);
    detector.push(0, 0.001);
    detector.push(1000, 0.5);
    expect(detector.flush()).toMatchObject({ start: 0, end: 1000 });
  });
});
