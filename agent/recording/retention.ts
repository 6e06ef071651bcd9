import type { Clock, Storage } from '../../hal/interfaces.js';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import type { SegmentStore } from './segment-store.js';

export interface RetentionOutcome {
  evicted: number;
  evictedBytes: number;
  /** Over the quota or the free-space reserve with only pinned footage left. */
  blocked: boolean;
  totalBytes: number;
  pinnedBytes: number;
}

export interface RetentionDeps {
  db: Database;
  store: SegmentStore;
  storage: Storage;
  clock: Clock;
  log: Logger;
  retention: Config['retention'];
  motion: Pick<Config['motion'], 'preRollSeconds' | 'postRollSeconds'>;
  /**
   * Bytes held outside the footage index that count toward `maxBytes`: sealed clips and
   * records waiting in the outbox. They are never evicted here; footage goes instead.
   */
  outboxBytes?: () => Promise<number>;
}

interface Candidate {
  id: number;
  bytes: number;
  motion: number;
  end_ms: number;
}

const DAY_MS = 86_400_000;
/** The newest footage kept whatever the quota: at least the pre-roll, at least this. */
const MIN_KEPT_MS = 10_000;

/**
 * Decides which footage to keep. Footage within pre/post-roll of a motion event is kept
 * `motionDays`; the rest is a rolling buffer of `bufferMinutes`. Over the byte quota, or
 * under the free-space reserve (the outbox of sealed clips counts toward the quota), the
 * oldest unpinned footage goes first — footage without motion before footage with
 * motion. Pinned footage is never evicted, and neither is the
 * newest footage (the pre-roll of motion that may start any moment): when only those are
 * left, `blocked` says so and the recorder pauses rather than record to delete.
 */
export class Retention {
  constructor(private readonly deps: RetentionDeps) {}

  /**
   * Evicts what must go. `headroomBytes` is room kept for the segment being written, so
   * that the quota holds on disk, not only in the index.
   */
  async enforce(headroomBytes = 0): Promise<RetentionOutcome> {
    const { retention } = this.deps;
    const now = this.deps.clock.now();
    // Age first: only segments older than the rolling buffer can have expired.
    const old = await this.#unpinned(now, now - retention.bufferMinutes * 60_000, -1);
    const expired = old.filter(
      (segment) => !segment.motion || segment.end_ms < now - retention.motionDays * DAY_MS,
    );
    const totals = await this.#totals();
    let excess = 0;
    if (retention.maxBytes !== undefined) {
      const outbox = (await this.deps.outboxBytes?.()) ?? 0;
      excess = Math.max(excess, totals.bytes + outbox + headroomBytes - retention.maxBytes);
    }
    const free = await this.deps.storage.freeBytes(this.deps.store.dir);
    excess = Math.max(excess, retention.minFreeBytes + headroomBytes - free);

    const evict = new Set(expired.map((segment) => segment.id));
    let freed = expired.reduce((sum, segment) => sum + segment.bytes, 0);
    if (freed < excess) {
      // Over quota: the oldest footage without motion, then the oldest with motion.
      const newest = now - Math.max(this.deps.motion.preRollSeconds * 1000, MIN_KEPT_MS);
      for (const segment of await this.#unpinned(now, newest, 4096)) {
        if (freed >= excess) break;
        if (evict.has(segment.id)) continue;
        evict.add(segment.id);
        freed += segment.bytes;
      }
    }
    if (evict.size > 0) {
      await this.deps.store.remove([...evict]);
      this.deps.log.debug({ evicted: evict.size, bytes: freed }, 'evicted footage');
    }
    return {
      evicted: evict.size,
      evictedBytes: freed,
      blocked: freed < excess,
      totalBytes: totals.bytes - freed,
      pinnedBytes: totals.pinnedBytes,
    };
  }

  /**
   * Unpinned segments ending before `endBefore`, those without motion first, oldest first
   * within each kind; at most `limit` (-1: all).
   */
  async #unpinned(now: number, endBefore: number, limit: number): Promise<Candidate[]> {
    const pre = this.deps.motion.preRollSeconds * 1000;
    const post = this.deps.motion.postRollSeconds * 1000;
    return this.deps.db.all<Candidate>(
      `SELECT s.id, s.bytes, s.end_ms,
         EXISTS (SELECT 1 FROM motion_events m
                 WHERE m.start_ms - ? < s.end_ms AND COALESCE(m.end_ms, ?) + ? > s.start_ms) AS motion
       FROM segments s
       WHERE s.deleting = 0 AND s.end_ms < ?
         AND NOT EXISTS (SELECT 1 FROM pins p WHERE p.segment_id = s.id)
       ORDER BY motion ASC, s.start_ms ASC LIMIT ?`,
      [pre, now, post, endBefore, limit],
    );
  }

  async #totals(): Promise<{ bytes: number; pinnedBytes: number }> {
    const row = await this.deps.db.get<{ bytes: number | null; pinned: number | null }>(
      `SELECT SUM(bytes) AS bytes,
         SUM(CASE WHEN EXISTS (SELECT 1 FROM pins p WHERE p.segment_id = s.id) THEN bytes END) AS pinned
       FROM segments s WHERE s.deleting = 0`,
    );
    return { bytes: row?.bytes ?? 0, pinnedBytes: row?.pinned ?? 0 };
  }
}
