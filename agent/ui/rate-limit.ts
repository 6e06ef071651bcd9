/**
 * Login attempts per client address: at most `maxFailures` wrong codes in `windowMs`;
 * the next attempt is refused for a lockout that doubles with each lockout of the same
 * address (1 min, 2 min, 4 min … up to `maxLockMs`), and a success clears the address.
 * While locked out, even a right code is refused: a guesser learns nothing.
 *
 * Kept in memory (a restart forgets it, which an attacker cannot cause from the page),
 * bounded in size: past `maxAddresses` the entry seen longest ago is dropped.
 */

export interface LoginLimits {
  maxFailures: number;
  windowMs: number;
  baseLockMs: number;
  maxLockMs: number;
  maxAddresses: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  maxFailures: 5,
  windowMs: 60_000,
  baseLockMs: 60_000,
  maxLockMs: 3600_000,
  maxAddresses: 10_000,
};

interface Entry {
  /** Times of the failures inside the window. */
  failures: number[];
  lockedUntil: number;
  lockouts: number;
}

export type Admission = { ok: true } | { ok: false; retryAfterMs: number };

export class LoginLimiter {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS) {}

  /** Whether `address` may try a code now. */
  admit(address: string, now: number): Admission {
    const entry = this.#entries.get(address);
    if (!entry) return { ok: true };
    if (now < entry.lockedUntil) return { ok: false, retryAfterMs: entry.lockedUntil - now };
    entry.failures = entry.failures.filter((t) => now - t < this.limits.windowMs);
    if (entry.failures.length < this.limits.maxFailures) return { ok: true };
    // The attempt after `maxFailures` failures in the window: lock the address out.
    entry.lockouts += 1;
    const lockMs = Math.min(
      this.limits.maxLockMs,
      this.limits.baseLockMs * 2 ** Math.min(entry.lockouts - 1, 30),
    );
    entry.lockedUntil = now + lockMs;
    entry.failures = [];
    return { ok: false, retryAfterMs: lockMs };
  }

  fail(address: string, now: number): void {
    let entry = this.#entries.get(address);
    if (entry) {
      this.#entries.delete(address);
    } else {
      entry = { failures: [], lockedUntil: 0, lockouts: 0 };
      if (this.#entries.size >= this.limits.maxAddresses) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
    }
    entry.failures.push(now);
    // Re-inserted: the map's order is the order addresses were last seen.
    this.#entries.set(address, entry);
  }

  succeed(address: string): void {
    this.#entries.delete(address);
  }
}
