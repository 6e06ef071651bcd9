import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hal/emulated/clock.js';
import { Database } from '../db/database.js';
import { ClockFloor } from './clock-floor.js';

describe('ClockFloor', () => {
  let dir: string;
  let db: Database;
  const T = Date.UTC(2026, 4, 1);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'threshold-floor-'));
    db = await Database.open(join(dir, 'threshold.db'));
  });
  afterEach(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const floorOf = async (clock: ManualClock) => {
    const floor = new ClockFloor({ db, clock });
    await floor.load();
    return floor;
  };

  it('follows the clock forward and never goes back', async () => {
    const clock = new ManualClock(T);
    const floor = await floorOf(clock);
    expect(floor.now()).toBe(T);
    clock.advance(5000);
    expect(floor.now()).toBe(T + 5000);
    clock.setWall(T + 1000);
    expect(floor.now()).toBe(T + 5000);
    expect(floor.isBehind()).toBe(false); // 4 s back: within the tolerance for an NTP step
    clock.setWall(T - 120_000);
    expect(floor.isBehind()).toBe(true);
    expect(floor.now()).toBe(T + 5000);
  });

  it('persists the floor and loads it at the next start', async () => {
    const clock = new ManualClock(T);
    const floor = await floorOf(clock);
    clock.advance(60_000);
    await floor.persist();
    clock.setWall(0); // the RTC battery died
    const restarted = await floorOf(clock);
    expect(restarted.now()).toBe(T + 60_000);
    expect(restarted.isBehind()).toBe(true);
    clock.setWall(T + 61_000); // synced
    expect(restarted.isBehind()).toBe(false);
    expect(restarted.now()).toBe(T + 61_000);
  });

  it('persist never lowers the stored floor', async () => {
    const clock = new ManualClock(T);
    const floor = await floorOf(clock);
    await floor.persist();
    clock.setWall(T - 10_000);
    await floor.persist();
    const row = await db.get<{ value: string }>(
      "SELECT value FROM agent_state WHERE key = 'time_floor'",
    );
    expect(Number(row?.value)).toBe(T);
  });

  it('ignores a stored value that is not a time', async () => {
    await db.run("INSERT INTO agent_state (key, value) VALUES ('time_floor', 'garbage')");
    const floor = await floorOf(new ManualClock(T));
    expect(floor.now()).toBe(T);
    expect(floor.isBehind()).toBe(false);
  });
});
