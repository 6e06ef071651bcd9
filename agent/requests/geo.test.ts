import fc from 'fast-check';
import ngeohash from 'ngeohash';
import { describe, expect, it } from 'vitest';
import { requestTopics, subscriptionTopics } from './build.js';
import { cellsTouching, circleWithinRegions, distanceM, withinCircle } from './geo.js';
import { REQUEST_TOPIC_PREFIX } from './protocol.js';

const DEVICE = { lat: 52.556, lon: 13.363 }; // near the north-west corner of u33d
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('geohash cells of request areas', () => {
  it('measures great-circle distances', () => {
    expect(distanceM({ lat: 0, lon: 0 }, { lat: 1, lon: 0 })).toBeCloseTo(111_195, -1);
    expect(distanceM({ lat: 0, lon: 179.9 }, { lat: 0, lon: -179.9 })).toBeCloseTo(22_239, -1);
    expect(withinCircle({ lat: 0, lon: 0.001 }, { lat: 0, lon: 0, radiusM: 112 })).toBe(true);
    expect(withinCircle({ lat: 0, lon: 0.001 }, { lat: 0, lon: 0, radiusM: 111 })).toBe(false);
  });

  it('a device subscribes to 1 to 4 cells: 1 mid-cell, 2 near an edge, 4 near a corner', () => {
    const centre = ngeohash.decode('u33d');
    expect(subscriptionTopics({ lat: centre.latitude, lon: centre.longitude }, 800)).toEqual([
      `${REQUEST_TOPIC_PREFIX}u33d`,
    ]);
    expect(subscriptionTopics({ lat: centre.latitude, lon: 13.364 }, 800)).toHaveLength(2);
    expect(subscriptionTopics(DEVICE, 800)).toEqual(
      ['u336', 'u337', 'u33d', 'u33e'].map((cell) => REQUEST_TOPIC_PREFIX + cell),
    );
  });

  it('an area near the antimeridian touches cells on both sides', () => {
    const cells = cellsTouching({ lat: 10, lon: 179.999, radiusM: 1000 }, 4);
    const lons = cells.map((cell) => ngeohash.decode(cell).longitude);
    expect(lons.some((lon) => lon > 0)).toBe(true);
    expect(lons.some((lon) => lon < 0)).toBe(true);
  });

  it('every point of an area lies in one of its topic cells (so a device in it hears it)', () => {
    console.log(`geo seed ${SEED}`);
    fc.assert(
      fc.property(
        fc.double({ min: -70, max: 70, noNaN: true }),
        fc.double({ min: -180, max: 180, noNaN: true }),
        fc.double({ min: 10, max: 20_000, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 2 * Math.PI, noNaN: true }),
        (lat, lon, radiusM, r, angle) => {
          const area = { lat, lon, radiusM };
          // A point inside the circle, at distance r·radius in direction `angle`.
          const d = r * radiusM * 0.999;
          const pLat = lat + (d * Math.cos(angle)) / 111_195;
          const pLon = lon + (d * Math.sin(angle)) / (111_195 * Math.cos((pLat * Math.PI) / 180));
          const point = { lat: pLat, lon: ((pLon + 540) % 360) - 180 };
          if (!withinCircle(point, area)) return;
          const topic = REQUEST_TOPIC_PREFIX + ngeohash.encode(point.lat, point.lon, 4);
          expect(requestTopics(area)).toContain(topic);
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('an area is within regions exactly when every cell it touches is covered', () => {
    const area = { ...DEVICE, radiusM: 800 };
    expect(circleWithinRegions(area, ['u33'])).toBe(true);
    expect(circleWithinRegions(area, ['u3'])).toBe(true);
    expect(circleWithinRegions(area, ['u33d'])).toBe(false);
    expect(circleWithinRegions(area, ['u33d', 'u33e', 'u336', 'u337'])).toBe(true);
    expect(circleWithinRegions(area, ['u33d', 'u33e', 'u336'])).toBe(false);
    expect(circleWithinRegions(area, ['u32', 'u34'])).toBe(false);
    // Deeper prefixes: the 5-character cells of u33d and its neighbours around the device.
    const fine = cellsTouching(area, 5);
    expect(circleWithinRegions(area, fine)).toBe(true);
    expect(circleWithinRegions(area, fine.slice(1))).toBe(false);
  });

  it('regions made of the cells an area touches always contain it; minus one, never', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -70, max: 70, noNaN: true }),
        fc.double({ min: -179, max: 179, noNaN: true }),
        fc.double({ min: 10, max: 5000, noNaN: true }),
        fc.nat(),
        (lat, lon, radiusM, pick) => {
          const area = { lat, lon, radiusM };
          const cells = cellsTouching(area, 5);
          expect(circleWithinRegions(area, cells)).toBe(true);
          const without = cells.filter((_, i) => i !== pick % cells.length);
          expect(circleWithinRegions(area, without)).toBe(false);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});
