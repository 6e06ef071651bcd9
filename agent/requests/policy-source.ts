import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { Clock } from '../../hal/interfaces.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/database.js';

/**
 * The owner's effective policy: the configuration file's `policy`, overridden key by key
 * by what the owner changed on the page (DESIGN.md, "Configuration": "The owner's policy,
 * once changed on the page, is kept in the database and overrides the file"). Intake and
 * the subscriptions read it here, so a change applies to the next message.
 *
 * INVARIANTS: the overrides row and its `policy_changed` audit entry commit in one
 * transaction; `current()` changes only after that commit, and listeners hear of it then.
 */

export type OwnerPolicy = Config['policy'];

/** The keys the owner may change on the page, with the file schema's bounds. */
export const policyChangeSchema = z.strictObject({
  maxRadiusM: z.number().positive().max(50_000).optional(),
  maxWindowHours: z
    .number()
    .positive()
    .max(24 * 14)
    .optional(),
  maxPromptsPerAgencyPerWeek: z.number().int().min(0).max(1000).optional(),
  blockedAgencies: z.array(z.string().min(1).max(200)).max(1000).optional(),
  requestsOff: z.boolean().optional(),
});

export type PolicyChange = z.infer<typeof policyChangeSchema>;

/** What changed, for listeners: the policy before and after. */
export interface PolicyChanged {
  before: OwnerPolicy;
  after: OwnerPolicy;
}

export const POLICY_AUDIT_KIND = 'policy_changed';

export class PolicySource extends EventEmitter<{ change: [PolicyChanged] }> {
  #overrides: PolicyChange = {};
  #current: OwnerPolicy;

  constructor(
    private readonly deps: { db: Database; audit: AuditLog; clock: Clock; file: OwnerPolicy },
  ) {
    super();
    this.#current = deps.file;
  }

  /** Reads the owner's overrides; until then the file's policy is in force. */
  async load(): Promise<void> {
    const row = await this.deps.db.get<{ overrides: string }>(
      'SELECT overrides FROM owner_policy WHERE id = 1',
    );
    // Stored by `change` after the same schema; parsed again so a bad row cannot widen scope.
    this.#overrides = row ? policyChangeSchema.parse(JSON.parse(row.overrides)) : {};
    this.#current = merge(this.deps.file, this.#overrides);
  }

  current(): OwnerPolicy {
    return this.#current;
  }

  /** The keys the owner changed on the page (the rest come from the file). */
  overridden(): (keyof PolicyChange)[] {
    return Object.keys(this.#overrides) as (keyof PolicyChange)[];
  }

  /**
   * Applies `change` on top of the owner's earlier overrides, with its audit entry in the
   * same transaction. Keys whose value does not change are left out of the entry; a change
   * that changes nothing writes nothing.
   */
  async change(change: PolicyChange): Promise<OwnerPolicy> {
    const parsed = policyChangeSchema.parse(change);
    const before = this.#current;
    const changed: PolicyChange = {};
    for (const [key, value] of Object.entries(parsed) as [keyof PolicyChange, unknown][]) {
      if (value !== undefined && JSON.stringify(before[key]) !== JSON.stringify(value)) {
        Object.assign(changed, { [key]: value });
      }
    }
    if (Object.keys(changed).length === 0) return before;
    const overrides = { ...this.#overrides, ...changed };
    await this.deps.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO owner_policy (id, overrides, updated_at) VALUES (1, ?, ?)
         ON CONFLICT(id) DO UPDATE SET overrides = excluded.overrides, updated_at = excluded.updated_at`,
        [JSON.stringify(overrides), this.deps.clock.now()],
      );
      await this.deps.audit.appendIn(tx, { kind: POLICY_AUDIT_KIND, detail: { changed } });
    });
    this.#overrides = overrides;
    this.#current = merge(this.deps.file, overrides);
    this.emit('change', { before, after: this.#current });
    return this.#current;
  }
}

function merge(file: OwnerPolicy, overrides: PolicyChange): OwnerPolicy {
  const merged: OwnerPolicy = { ...file };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) Object.assign(merged, { [key]: value });
  }
  return merged;
}
