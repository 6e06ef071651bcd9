import type { Clock } from '../../hal/interfaces.js';
import type { AuditLog } from '../audit/audit-log.js';
import { CLOCK_SKEW_MS, MAX_REQUEST_VALIDITY_MS } from './protocol.js';

/**
 * The authentic request ids handled lately, in memory, so the `duplicate` check costs no
 * database read (a flood of forged requests then never waits on the disk). The audit log
 * is the durable record: ids are loaded from it on first use, so the check holds across
 * restarts.
 *
 * Only ids handled within `WINDOW_MS` are kept: a request handled at time t was issued
 * by t + skew and expires within 30 days of that, so after t + 30 days + skew it is
 * refused as `expired`, a check that runs before `duplicate`. (Times are the clock
 * floor's, which never goes back.)
 */
export const SEEN_WINDOW_MS = MAX_REQUEST_VALIDITY_MS + CLOCK_SKEW_MS + 24 * 3600_000;
const PRUNE_EVERY = 1024;

export class SeenRequests {
  #ids = new Map<string, number>();
  #loading: Promise<void> | undefined;
  #addsSincePrune = 0;

  constructor(private readonly deps: { audit: AuditLog; clock: Clock }) {}

  async has(id: string): Promise<boolean> {
    this.#loading ??= this.#load();
    await this.#loading;
    return this.#ids.has(id);
  }

  /** Remembers an id whose signature verified (call before its audit entry commits). */
  add(id: string): void {
    this.#ids.set(id, this.deps.clock.now());
    this.#addsSincePrune += 1;
    if (this.#addsSincePrune >= PRUNE_EVERY) this.#prune();
  }

  /** Forgets an id whose outcome was not recorded after all. */
  delete(id: string): void {
    this.#ids.delete(id);
  }

  get size(): number {
    return this.#ids.size;
  }

  async #load(): Promise<void> {
    const since = this.deps.clock.now() - SEEN_WINDOW_MS;
    for (const { id, time } of await this.deps.audit.requestIdsSince(since)) {
      if (!this.#ids.has(id)) this.#ids.set(id, time);
    }
  }

  #prune(): void {
    this.#addsSincePrune = 0;
    const cutoff = this.deps.clock.now() - SEEN_WINDOW_MS;
    for (const [id, time] of this.#ids) if (time < cutoff) this.#ids.delete(id);
  }
}
