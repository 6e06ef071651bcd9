import { access } from 'node:fs/promises';
import { SystemClock } from '../../hal/linux/clock.js';
import type { Config } from '../config/schema.js';
import { agentPaths, openAgentDatabase } from '../db/open.js';
import { ClockFloor } from '../requests/clock-floor.js';
import type { FloorReading } from './checks/clock.js';

/**
 * The time floor the agent saved (`agent/requests/clock-floor.ts`) and whether the system
 * clock is behind it; null when the agent has no database yet (it never ran). The database
 * is not created here.
 */
export async function readTimeFloor(config: Pick<Config, 'dataDir'>): Promise<FloorReading | null> {
  try {
    await access(agentPaths(config.dataDir).database);
  } catch {
    return null;
  }
  const db = await openAgentDatabase(config);
  try {
    const floor = new ClockFloor({ db, clock: new SystemClock() });
    await floor.load();
    // Before any now(), floor() is the value the agent saved.
    const saved = floor.floor();
    return saved > 0 ? { floor: saved, behind: floor.isBehind() } : null;
  } finally {
    await db.close();
  }
}
