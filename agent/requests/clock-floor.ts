import type { Clock } from '../../hal/interfaces.js';
import type { Database } from '../db/database.js';

/**
 * The clock that judges expiry, which never goes back (DESIGN.md: "a device whose clock
 * resets to 1970 shows no prompts until synced"). It remembers the latest time it has
 * seen, in memory at once and in `agent_state` ('time_floor') when `persist` is called.
 *
 * - `now()` is max(wall clock, floor): an expired request stays expired when the clock
 *   is set back, and a pending request still expires.
 * - `isBehind()` is true while the wall clock reads more than `toleranceMs` earlier than
 *   the floor (an RTC reset, a dead battery): the device cannot tell the time, so intake
 *   judges no request valid until the clock passes the floor again. The tolerance keeps
 *   a small NTP step back from silencing requests.
 */
export class ClockFloor implements Clock {
  #floor = 0;
  #persisted = 0;

  constructor(private readonly deps: { db: Database; clock: Clock; toleranceMs?: number }) {}

  /** Loads the persisted floor. Call once before use. */
  async load(): Promise<void> {
    const row = await this.deps.db.get<{ value: string }>(
      "SELECT value FROM agent_state WHERE key = 'time_floor'",
    );
    const stored = row ? Number(row.value) : 0;
    this.#persisted = Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
    this.#floor = Math.max(this.#floor, this.#persisted);
  }

  now(): number {
    const wall = this.deps.clock.now();
    if (wall > this.#floor) this.#floor = wall;
    return this.#floor;
  }

  monotonic(): number {
    return this.deps.clock.monotonic();
  }

  /** The floor as it stands (the latest time seen). */
  floor(): number {
    return this.#floor;
  }

  isBehind(): boolean {
    return this.deps.clock.now() < this.#floor - (this.deps.toleranceMs ?? 60_000);
  }

  /** Writes the floor to the database when it has moved since the last write. */
  async persist(): Promise<void> {
    const floor = this.now();
    if (floor <= this.#persisted) return;
    await this.deps.db.run(
      `INSERT INTO agent_state (key, value) VALUES ('time_floor', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [String(floor)],
    );
    this.#persisted = floor;
  }
}
