import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmulatedCameras, startEmulatedCameras } from './emulated-camera.js';
import { type SceneSample, sceneSamples } from './test-support/media.js';

// Seconds after the start. Margins keep frames near the window edges out of both classes.
const MOTION = { start: 6, end: 12 };
const LISTEN_SECONDS = 16;

function classify(samples: SceneSample[], startedAt: number) {
  const at = (s: SceneSample) => (s.wallMs - startedAt) / 1000;
  return {
    moving: samples.filter((s) => at(s) >= MOTION.start + 0.5 && at(s) <= MOTION.end - 0.5),
    still: samples.filter((s) => at(s) < MOTION.start - 1 || at(s) > MOTION.end + 1.5),
  };
}

const max = (values: number[]) => Math.max(...values);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/**
 * Motion must be visible to ffmpeg's scene detection, and a still scene must not be: the
 * recorder's motion source depends on both.
 */
describe('emulated camera motion', () => {
  let cameras: EmulatedCameras;
  let keyframes: SceneSample[];
  let allFrames: SceneSample[];

  beforeAll(async () => {
    cameras = await startEmulatedCameras({ keyframeSeconds: 1, motion: [MOTION] });
    const url = cameras.urls[0] as string;
    [keyframes, allFrames] = await Promise.all([
      sceneSamples(url, LISTEN_SECONDS, true),
      sceneSamples(url, LISTEN_SECONDS, false),
    ]);
  }, 60_000);

  afterAll(async () => {
    await cameras.stop();
  });

  it('scores keyframes during motion far above keyframes of the still scene', () => {
    // The recorder's setting: keyframes only (1 s apart), 320 px wide.
    const { moving, still } = classify(keyframes, cameras.startedAt);
    expect(moving.length).toBeGreaterThanOrEqual(4);
    expect(still.length).toBeGreaterThanOrEqual(4);
    const scene = { moving: moving.map((s) => s.scene), still: still.map((s) => s.scene) };
    const mafd = {
      moving: moving.map((s) => s.mafd ?? Number.NaN),
      still: still.map((s) => s.mafd ?? Number.NaN),
    };
    console.info(
      'keyframes, 320 px:',
      JSON.stringify({
        sceneStill: { max: max(scene.still), median: median(scene.still) },
        sceneMoving: { max: max(scene.moving), median: median(scene.moving) },
        mafdStill: { max: max(mafd.still), median: median(mafd.still) },
        mafdMoving: { min: Math.min(...mafd.moving), median: median(mafd.moving) },
      }),
    );
    expect(max(scene.still)).toBeLessThan(0.01);
    expect(max(scene.moving)).toBeGreaterThan(0.03);
    expect(max(scene.moving)).toBeGreaterThan(10 * max(scene.still));
    // The frame difference itself stays high through the whole crossing.
    expect(Math.min(...mafd.moving)).toBeGreaterThan(10 * max(mafd.still));
  });

  it('scores decoded frames during motion above frames of the still scene', () => {
    const { moving, still } = classify(allFrames, cameras.startedAt);
    expect(moving.length).toBeGreaterThanOrEqual(50);
    expect(still.length).toBeGreaterThanOrEqual(50);
    const scene = { moving: moving.map((s) => s.scene), still: still.map((s) => s.scene) };
    console.info(
      'all frames, 320 px:',
      JSON.stringify({
        sceneStill: { max: max(scene.still), median: median(scene.still) },
        sceneMoving: { max: max(scene.moving), median: median(scene.moving) },
      }),
    );
    expect(max(scene.moving)).toBeGreaterThan(4 * max(scene.still));
  });
});
