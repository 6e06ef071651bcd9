import type { Database, Transaction } from '../db/database.js';

/**
 * Holds on footage. An owner is a string such as `request:<id>` or `upload:<id>`; a
 * segment pinned by any owner is never evicted.
 */
export class Pins {
  constructor(private readonly db: Database) {}

  /**
   * Pins the segments for `owner`; pinning twice is harmless. One statement for all.
   * Inside a transaction, pass its handle (`tx`) so the pin commits with it.
   */
  async pin(owner: string, segmentIds: readonly number[], tx?: Transaction): Promise<void> {
    if (segmentIds.length === 0) return;
    await (tx ?? this.db).run(
      'INSERT OR IGNORE INTO pins (owner, segment_id) SELECT ?, value FROM json_each(?)',
      [owner, JSON.stringify(segmentIds)],
    );
  }

  /** Releases every pin `owner` holds. */
  async unpin(owner: string, tx?: Transaction): Promise<void> {
    await (tx ?? this.db).run('DELETE FROM pins WHERE owner = ?', [owner]);
  }

  async pinnedBy(owner: string): Promise<number[]> {
    const rows = await this.db.all<{ segment_id: number }>(
      'SELECT segment_id FROM pins WHERE owner = ? ORDER BY segment_id',
      [owner],
    );
    return rows.map((row) => row.segment_id);
  }
}
