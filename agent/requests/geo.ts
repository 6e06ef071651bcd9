import ngeohash from 'ngeohash';

/**
 * Geometry of request areas on geohash cells. The agency (which cells to publish to),
 * the device (which cells to subscribe to, whether a topic fits a request) and the
 * region check all use `cellTouchesCircle`, so both sides agree on what "touches" means.
 */

export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

export interface Circle extends LatLon {
  readonly radiusM: number;
}

const EARTH_RADIUS_M = 6_371_008.8;
const M_PER_DEGREE_LAT = (Math.PI * EARTH_RADIUS_M) / 180;
export const GEOHASH_ALPHABET = '0123456789bcdefghjkmnpqrstuvwxyz';

/** Great-circle distance in metres (haversine). */
export function distanceM(a: LatLon, b: LatLon): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Whether `point` lies within `circle` (its edge included). */
export function withinCircle(point: LatLon, circle: Circle): boolean {
  return distanceM(point, circle) <= circle.radiusM;
}

/** Signed difference b - a in degrees of longitude, folded into [-180, 180). */
function lonDelta(a: number, b: number): number {
  return ((((b - a + 180) % 360) + 360) % 360) - 180;
}

/**
 * Whether the cell's rectangle comes within the circle's radius. The nearest point of the
 * rectangle is taken by clamping latitude and longitude, which on a sphere may miss the
 * true nearest point by a little; the 1 % + 1 m allowance keeps the test generous (an
 * agency publishes to a cell too many rather than one too few).
 */
export function cellTouchesCircle(cell: string, circle: Circle): boolean {
  const [minLat, minLon, maxLat, maxLon] = ngeohash.decode_bbox(cell);
  const lat = Math.min(Math.max(circle.lat, minLat), maxLat);
  const toMin = lonDelta(circle.lon, minLon);
  const toMax = lonDelta(circle.lon, maxLon);
  // Inside the cell's longitude span when the span's ends lie on either side.
  const insideLon = toMin <= 0 && toMax >= 0;
  const lon = insideLon ? circle.lon : Math.abs(toMin) < Math.abs(toMax) ? minLon : maxLon;
  return distanceM(circle, { lat, lon }) <= reach(circle);
}

/** The radius `cellTouchesCircle` allows for. */
function reach(circle: Circle): number {
  return circle.radiusM * 1.01 + 1;
}

/**
 * Latitude/longitude boxes (west to east, never across the antimeridian) around a circle
 * widened to `reach`, so they hold every cell `cellTouchesCircle` accepts.
 */
function boundingBoxes(circle: Circle): [number, number, number, number][] {
  const radiusM = reach(circle) * 1.001;
  const dLat = radiusM / M_PER_DEGREE_LAT;
  const minLat = Math.max(-90, circle.lat - dLat);
  const maxLat = Math.min(90, circle.lat + dLat);
  const cosLat = Math.cos((Math.max(Math.abs(minLat), Math.abs(maxLat)) * Math.PI) / 180);
  const dLon = cosLat <= 1e-9 ? 180 : radiusM / (M_PER_DEGREE_LAT * cosLat);
  if (minLat <= -90 || maxLat >= 90 || dLon >= 180) return [[minLat, -180, maxLat, 180]];
  const west = circle.lon - dLon;
  const east = circle.lon + dLon;
  if (west < -180) {
    return [
      [minLat, west + 360, maxLat, 180],
      [minLat, -180, maxLat, east],
    ];
  }
  if (east > 180) {
    return [
      [minLat, west, maxLat, 180],
      [minLat, -180, maxLat, east - 360],
    ];
  }
  return [[minLat, west, maxLat, east]];
}

/** Every geohash cell of `precision` characters that the circle touches, sorted. */
export function cellsTouching(circle: Circle, precision: number): string[] {
  const cells = new Set<string>();
  for (const [minLat, minLon, maxLat, maxLon] of boundingBoxes(circle)) {
    for (const cell of ngeohash.bboxes(minLat, minLon, maxLat, maxLon, precision)) {
      if (cellTouchesCircle(cell, circle)) cells.add(cell);
    }
  }
  // The circle's own cell always counts, whatever rounding did at the box's edges.
  cells.add(ngeohash.encode(circle.lat, circle.lon, precision));
  return [...cells].sort();
}

/**
 * Whether every point of the circle lies in a cell named by one of the prefixes. Walks
 * the geohash tree from the 32 top cells down, only into cells the circle touches and
 * only as deep as the longest prefix, so the work is bounded by the region's boundary.
 */
export function circleWithinRegions(circle: Circle, prefixes: readonly string[]): boolean {
  const depth = Math.max(0, ...prefixes.map((prefix) => prefix.length));
  const covered = (cell: string): boolean => {
    if (!cellTouchesCircle(cell, circle)) return true;
    if (prefixes.some((prefix) => cell.startsWith(prefix))) return true;
    if (cell.length >= depth) return false;
    if (!prefixes.some((prefix) => prefix.startsWith(cell))) return false;
    return [...GEOHASH_ALPHABET].every((next) => covered(cell + next));
  };
  return [...GEOHASH_ALPHABET].every((first) => covered(first));
}
